/**
 * Before an upload starts: its storage exists, and an S3 bucket that does not exist is named
 * in the refusal (issue 16), or created when the storage's config says `createBucket: true`,
 * so that no run starts only to fail at its first step. The check needs the storage's
 * credentials where the run is started; a client without them (a gateway host that never
 * touches S3), or that cannot reach the endpoint, leaves the check to the upload's first step
 * on the worker (activities/upload.ts), which makes the same one before storing anything.
 */
import { InvalidInputError, NotFoundError, ParamsError } from '../../contracts/errors.js';
import { openDatabase } from '../../platform/db.js';
import { getStorage } from '../../platform/repositories/storages.js';
import type { UploadParams } from '../../sdk/uploader.js';
import { openStorage, type StorageProvider } from '../../storage/index.js';
import type { ActionFacts, PreflightContext } from '../run-shape.js';

function subject(action: ActionFacts): string {
  return `cannot start ${action.plugin.config.code} ${action.name}`;
}

export async function uploadPreflight({ action, params, settings }: PreflightContext<UploadParams>): Promise<void> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  let storage: StorageProvider | undefined;
  try {
    let record;
    try {
      record = await getStorage(platform.db, params.storage);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ParamsError(subject(action), [{ path: 'storage', message: err.message }]);
      throw err;
    }
    try {
      storage = openStorage(record.config, { dataDir: settings.dataDir, name: record.name });
    } catch {
      return; // no credentials here: the worker checks
    }
    try {
      await storage.ready?.();
    } catch (err) {
      // Only the bucket's own answer refuses the start; anything else is the worker's to see.
      if (err instanceof InvalidInputError) {
        throw new ParamsError(subject(action), [{ path: 'storage', message: `${err.subject}: ${err.problems.map((p) => p.message).join('; ')}` }]);
      }
    }
  } finally {
    await storage?.close?.();
    await platform.close();
  }
}

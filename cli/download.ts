/**
 * Writing a downloaded file (`model download`, `run artifacts --download`): into a temp file
 * beside the target, renamed into place when complete, so an interrupted download never
 * leaves a half file under the real name. An existing file is kept unless `force`.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConflictError, InvalidInputError } from '../contracts/errors.js';

/**
 * Writes `body` to `<dir>/<name>` (`name` may hold `/`: sub-folders are made). Returns the
 * path and the byte count. InvalidInputError for a name that would leave `dir`;
 * ConflictError (exit 5) when the file exists and `force` is not set.
 */
export async function writeDownload(body: Readable, dir: string, name: string, opts: { force: boolean }): Promise<{ path: string; bytes: number }> {
  const root = path.resolve(dir);
  const target = path.resolve(root, name);
  if (!target.startsWith(root + path.sep)) throw new InvalidInputError('cannot download', [{ path: 'name', message: `${JSON.stringify(name)} leaves ${dir}` }]);
  if (existsSync(target) && !opts.force) {
    body.destroy();
    throw new ConflictError(`${target} exists; pass --force to replace it`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.part-${process.pid}`;
  let bytes = 0;
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    await pipeline(body, createWriteStream(tmp));
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path: target, bytes };
}

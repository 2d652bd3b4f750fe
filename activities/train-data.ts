/**
 * What the train, test and inference steps read from the platform: a ground-truth version as
 * a local dataset (dataset-cache.ts: downloaded and verified once, then reused; this process
 * remembers the datasets it has checked, so later epochs skip the database and the file
 * checks), and registered models (this plugin's only; their bytes from the model archive).
 */
import { existsSync } from 'node:fs';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { getModel, type Model } from '../platform/repositories/models.js';
import { ensureDatasetCache, type CachedDataset } from './dataset-cache.js';
import { unpackTarGz } from './model-archive.js';
import type { PlatformAccess } from './platform-access.js';

export interface TrainData {
  /**
   * A ground-truth version's dataset in the local cache, downloaded as needed. `verify`:
   * `full` checks every file's checksum, `size` only sizes. `onProgress` gets bytes and files
   * done and the files in all.
   */
  dataset(
    versionId: number,
    verify: 'full' | 'size',
    onProgress?: (bytes: number, files: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<CachedDataset>;
  /**
   * The run's dataset for a later step: as prepared (the same fingerprint), from memory when
   * this process has checked it. NonRetriableError when the version changed since.
   */
  runDataset(versionId: number, fingerprint: string | undefined): Promise<CachedDataset>;
  /** A registered model of the action's plugin, named by params field `field`; ParamsError otherwise. */
  modelFor(action: ResolvedAction, modelId: number, field: string): Promise<Model>;
  /** A registered model's bytes (model.bin of its archive). */
  modelBytes(model: Model): Promise<Buffer>;
}

export function trainData(platform: PlatformAccess, dataDir: string): TrainData {
  const { db, storageFor } = platform;
  /** Datasets this process has checked, by version and fingerprint. */
  const known = new Map<string, CachedDataset>();

  const data: TrainData = {
    async dataset(versionId, verify, onProgress, signal) {
      const cached = await ensureDatasetCache(versionId, {
        db,
        dataDir,
        storageFor: (id) => storageFor(id),
        verify,
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
      });
      known.set(`${versionId}:${cached.fingerprint}`, cached);
      return cached;
    },

    async runDataset(versionId, fingerprint) {
      const hit = fingerprint === undefined ? undefined : known.get(`${versionId}:${fingerprint}`);
      if (hit && existsSync(hit.indexFile)) return hit;
      const cached = await data.dataset(versionId, 'size');
      if (fingerprint !== undefined && cached.fingerprint !== fingerprint) {
        throw new NonRetriableError(
          `ground-truth version ${versionId} changed after this run downloaded it (dataset ${fingerprint}, now ${cached.fingerprint}): start a new run to train on the new data`,
        );
      }
      return cached;
    },

    async modelFor(action, modelId, field) {
      const plugin = action.plugin.config.code;
      const subject = `invalid params for ${plugin} ${action.name}`;
      const model = await getModel(db, modelId).catch((err: unknown) => {
        throw new ParamsError(subject, [{ path: field, message: (err as Error).message }]);
      });
      if (model.plugin.code !== plugin) {
        throw new ParamsError(subject, [{ path: field, message: `model ${modelId} was trained by plugin ${model.plugin.code}, not ${plugin}` }]);
      }
      return model;
    },

    async modelBytes(model) {
      if (!model.file) throw new NonRetriableError(`model ${model.id} has no file`);
      const archive = await (await storageFor(model.file.storage)).get(model.file.key);
      const bin = unpackTarGz(archive, `model ${model.id} (${model.file.key})`).get('model.bin');
      if (!bin) throw new NonRetriableError(`model ${model.id}'s archive has no model.bin`);
      return bin;
    },
  };
  return data;
}

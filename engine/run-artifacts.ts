/**
 * A run's artifacts: the files it produced that a person wants back, found from what the
 * platform already records (no new table):
 *
 * - the model files of the models the run registered (train runs; a tune run's best trial),
 *   named `model/<file name>`;
 * - an export run's files: everything under its export folder in its storage (the result's
 *   `export_path`, the params' `storage`), named by their key inside that folder, such as
 *   `annotations/instances_default.json` or `manifest.json`.
 *
 * Other runs have none. `synapse run artifacts <id> [--download dir]` and
 * `GET /v1/runs/{id}/artifacts[/{name}]` use this module.
 */
import type { Readable } from 'node:stream';
import { NotFoundError } from '../contracts/errors.js';
import type { Db } from '../platform/repositories/common.js';
import { getStorage, type Storage } from '../platform/repositories/storages.js';
import type { Model } from '../platform/repositories/models.js';
import { listModelsOfRun } from '../platform/repositories/summaries.js';
import { openStorage, type StorageProvider } from '../storage/index.js';

export interface RunArtifact {
  /** Unique among the run's artifacts; may hold `/`. */
  name: string;
  kind: 'model' | 'export';
  storage: { id: number; name: string };
  key: string;
  /** Bytes. */
  size: number;
  /** The model's id, for `model` artifacts. */
  modelId?: number;
}

/** What the artifacts are found from: the run's category, params and result (from its state). */
export interface RunFacts {
  runId: string;
  category: string;
  params: unknown;
  result: unknown;
}

export interface ArtifactDeps {
  db: Db;
  dataDir: string;
}

function provider(storage: Storage, dataDir: string): StorageProvider {
  return openStorage(storage.config, { dataDir, name: storage.name });
}

async function sizeOf(storage: StorageProvider, key: string): Promise<number | undefined> {
  for await (const o of storage.list(key)) if (o.key === key) return o.size;
  return undefined;
}

const basename = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/** Every artifact of the run, models first, then export files in key order. */
export async function listRunArtifacts(deps: ArtifactDeps, run: RunFacts): Promise<RunArtifact[]> {
  const artifacts: RunArtifact[] = [];
  for (const model of await listModelsOfRun(deps.db, run.runId)) {
    if (!model.file) continue;
    const storage = await getStorage(deps.db, model.file.storage);
    const p = provider(storage, deps.dataDir);
    try {
      const size = await sizeOf(p, model.file.key);
      if (size === undefined) continue; // the file was removed from its storage
      const name = artifacts.some((a) => a.name === `model/${basename(model.file!.key)}`)
        ? `model/${model.id}/${basename(model.file.key)}`
        : `model/${basename(model.file.key)}`;
      artifacts.push({ name, kind: 'model', storage: { id: storage.id, name: storage.name }, key: model.file.key, size, modelId: model.id });
    } finally {
      await p.close?.();
    }
  }
  const exportPath = (run.result as { export_path?: unknown } | null | undefined)?.export_path;
  const storageRef = (run.params as { storage?: unknown } | null | undefined)?.storage;
  if (run.category === 'export' && typeof exportPath === 'string' && exportPath !== '' && (typeof storageRef === 'string' || typeof storageRef === 'number')) {
    const storage = await getStorage(deps.db, storageRef);
    const p = provider(storage, deps.dataDir);
    try {
      const prefix = `${exportPath.replace(/\/+$/, '')}/`;
      for await (const o of p.list(prefix)) {
        artifacts.push({ name: o.key.slice(prefix.length), kind: 'export', storage: { id: storage.id, name: storage.name }, key: o.key, size: o.size });
      }
    } finally {
      await p.close?.();
    }
  }
  return artifacts;
}

/**
 * One artifact by name with its bytes as a stream (the caller consumes or destroys it).
 * NotFoundError names the run and lists what it has.
 */
export async function openRunArtifact(
  deps: ArtifactDeps,
  run: RunFacts,
  name: string,
): Promise<{ artifact: RunArtifact; body: Readable; close(): Promise<void> }> {
  const artifacts = await listRunArtifacts(deps, run);
  const artifact = artifacts.find((a) => a.name === name);
  if (!artifact) {
    const have =
      artifacts.length === 0
        ? 'it has none'
        : `it has ${artifacts.length}: ${artifacts
            .slice(0, 10)
            .map((a) => a.name)
            .join(', ')}${artifacts.length > 10 ? ', ...' : ''}`;
    throw new NotFoundError(`run ${run.runId} has no artifact ${JSON.stringify(name)} (${have})`);
  }
  const p = provider(await getStorage(deps.db, artifact.storage.id), deps.dataDir);
  return { artifact, body: await p.stream(artifact.key), close: async () => p.close?.() };
}

/**
 * A model's file as a stream (`synapse model download`, `GET /v1/models/{id}/file`).
 * NotFoundError when the model has no file or the file is gone from its storage.
 */
export async function openModelFile(deps: ArtifactDeps, model: Model): Promise<{ fileName: string; size: number; body: Readable; close(): Promise<void> }> {
  if (!model.file) throw new NotFoundError(`model ${model.id} (${model.name}) has no file`);
  const storage = await getStorage(deps.db, model.file.storage);
  const p = provider(storage, deps.dataDir);
  const size = await sizeOf(p, model.file.key);
  if (size === undefined) {
    await p.close?.();
    throw new NotFoundError(`the file of model ${model.id} (${model.name}) is missing from storage "${storage.name}"`);
  }
  return { fileName: basename(model.file.key), size, body: await p.stream(model.file.key), close: async () => p.close?.() };
}

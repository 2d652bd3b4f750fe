/**
 * The local dataset cache of training: a ground-truth version's data units and files under
 * `<data dir>/cache/datasets/gt-<version>-<fingerprint>/`, with `index.json` (what
 * TrainDataset and the Python runtime's Dataset read). The fingerprint covers the version's
 * events, files and annotations, so a changed version gets a new folder and an unchanged one
 * is reused. Files are checked against their sha256 (and the data unit's checksum when it
 * has one); a missing or damaged file is downloaded again. `index.json` is written last, so
 * a half-downloaded cache is never taken for a complete one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  getGroundTruthDataset,
  getGroundTruthVersion,
  listGroundTruthEvents,
  type GroundTruthEventWithDataUnit,
} from '../platform/repositories/ground-truth.js';
import { getProject } from '../platform/repositories/projects.js';
import type { Db } from '../platform/repositories/common.js';
import { NonRetriableError } from '../contracts/errors.js';
import type { TrainDataset, TrainDatasetItem } from '../sdk/trainer.js';
import type { StorageProvider } from '../storage/storage.js';

export interface DatasetIndexItem extends Omit<TrainDatasetItem, 'files'> {
  /** File name -> path relative to the cache folder. */
  files: Record<string, string>;
}

export interface DatasetIndex {
  versionId: number;
  fingerprint: string;
  classes: string[];
  items: DatasetIndexItem[];
  /** Relative path -> what the file must be. */
  checks: Record<string, { size: number; sha256: string }>;
}

export interface DatasetCacheOptions {
  db: Db;
  dataDir: string;
  storageFor(id: number): Promise<StorageProvider>;
  /** `full` hashes every cached file; `size` only checks sizes (epochs, after a full check). */
  verify: 'full' | 'size';
  /** Called as files arrive (bytes so far, files so far, files in all): heartbeats and progress. */
  onProgress?(bytes: number, files: number, total: number): void;
  signal?: AbortSignal;
}

export interface CachedDataset extends TrainDataset {
  indexFile: string;
  fingerprint: string;
  /** Files downloaded now (0 when the cache was complete). */
  downloaded: number;
  bytes: number;
}

const PAGE = 1000;
const PARALLEL = 8;

/** Lists a version's events, page by page (id order). */
async function allEvents(db: Db, versionId: number): Promise<GroundTruthEventWithDataUnit[]> {
  const out: GroundTruthEventWithDataUnit[] = [];
  for (let after = 0; ;) {
    const page = await listGroundTruthEvents(db, { versionId, afterId: after, limit: PAGE });
    out.push(...page);
    if (page.length < PAGE) return out;
    after = page[page.length - 1]!.id;
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A data unit's recorded checksum as hex sha256, when it is one. */
function expectedSha(checksum: string | undefined): string | undefined {
  if (!checksum) return undefined;
  const hex = checksum.replace(/^sha256:/i, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export async function ensureDatasetCache(versionId: number, options: DatasetCacheOptions): Promise<CachedDataset> {
  const { db } = options;
  const version = await getGroundTruthVersion(db, versionId);
  const dataset = await getGroundTruthDataset(db, version.datasetId);
  const classes = dataset.projectId === null ? [] : (await getProject(db, dataset.projectId)).configuration.classes.map((c) => c.name);
  const events = await allEvents(db, versionId);
  if (events.length === 0) throw new NonRetriableError(`ground-truth version ${versionId} has no data units to train on`);

  const fingerprint = createHash('sha256')
    .update(JSON.stringify([classes, events.map((e) => [e.id, e.dataUnitId, e.dataUnit.files, e.annotations, e.dataUnit.meta.split ?? null])]))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(path.resolve(options.dataDir), 'cache', 'datasets', `gt-${versionId}-${fingerprint}`);
  const indexFile = path.join(dir, 'index.json');

  let index: DatasetIndex | undefined;
  if (existsSync(indexFile)) {
    try {
      index = JSON.parse(readFileSync(indexFile, 'utf8')) as DatasetIndex;
    } catch {
      index = undefined; // damaged: rebuilt below
    }
  }
  const items: DatasetIndexItem[] = [];
  const wanted: { rel: string; storage: number; key: string; sha?: string }[] = [];
  for (const e of events) {
    const files: Record<string, string> = {};
    for (const [name, f] of Object.entries(e.dataUnit.files).sort(([a], [b]) => a.localeCompare(b))) {
      const ext = path
        .extname(f.key)
        .toLowerCase()
        .replace(/[^.a-z0-9]/g, '');
      const rel = `files/${e.dataUnitId}/${name}${ext}`;
      files[name] = rel;
      const sha = expectedSha(f.checksum);
      wanted.push({ rel, storage: f.storage, key: f.key, ...(sha ? { sha } : {}) });
    }
    const first = e.annotations.annotations[0];
    const split = typeof e.dataUnit.meta.split === 'string' ? e.dataUnit.meta.split : 'train';
    items.push({
      id: e.id,
      dataUnitId: e.dataUnitId,
      uniqueKey: e.dataUnit.uniqueKey,
      split,
      label: first ? first.class_name : null,
      files,
      annotations: e.annotations,
    });
  }

  // What is already there and right is kept; the rest is fetched.
  const checks: Record<string, { size: number; sha256: string }> = {};
  const missing: typeof wanted = [];
  for (const w of wanted) {
    const known = index?.checks[w.rel];
    const full = path.join(dir, w.rel);
    let ok = false;
    if (known && existsSync(full) && statSync(full).size === known.size && (!w.sha || w.sha === known.sha256)) {
      ok = options.verify === 'size' || sha256(await readFile(full)) === known.sha256;
    }
    if (ok && known) checks[w.rel] = known;
    else missing.push(w);
  }
  let bytes = 0;
  let done = 0;
  const total = missing.length;
  options.onProgress?.(0, 0, total);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < missing.length) {
      const w = missing[next++]!;
      if (options.signal?.aborted) throw options.signal.reason;
      const data = await (await options.storageFor(w.storage)).get(w.key);
      const hex = sha256(data);
      // A file that is not what its data unit says would train on wrong data: retrying may help (a flaky read).
      if (w.sha && hex !== w.sha) throw new Error(`storage ${w.storage} key ${w.key}: sha256 ${hex} does not match the data unit's checksum ${w.sha}`);
      const full = path.join(dir, w.rel);
      mkdirSync(path.dirname(full), { recursive: true });
      // A temp name of its own: two workers filling the same cache never write one file together.
      const tmp = `${full}.${process.pid}-${randomUUID()}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, full);
      checks[w.rel] = { size: data.length, sha256: hex };
      bytes += data.length;
      done++;
      options.onProgress?.(bytes, done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, missing.length) }, lane));
  if (missing.length > 0 || !index) {
    const fresh: DatasetIndex = { versionId, fingerprint, classes, items, checks };
    mkdirSync(dir, { recursive: true });
    const tmp = `${indexFile}.${process.pid}-${randomUUID()}.tmp`;
    writeFileSync(tmp, JSON.stringify(fresh));
    renameSync(tmp, indexFile);
  }
  return {
    versionId,
    dir,
    classes,
    items: items.map((i) => ({ ...i, files: Object.fromEntries(Object.entries(i.files).map(([n, rel]) => [n, path.join(dir, rel)])) })),
    indexFile,
    fingerprint,
    downloaded: missing.length,
    bytes,
  };
}

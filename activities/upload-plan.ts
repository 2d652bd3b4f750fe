/**
 * An upload's plan on the worker's disk, `<data dir>/uploads/<run id>/`: what discover
 * decided (plan.json), the units of each batch (batch-NNNNNN.json), what each batch stored
 * (stored-NNNNNN.json) and, once finalized, the run's summary (summary.json). Workflow
 * history carries only batch numbers and counts, never file lists. Every file is written
 * whole or not at all (temp file + rename), so a retried step reads either the old or the new.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NonRetriableError } from '../contracts/errors.js';

export interface UploadPlanSummary {
  batches: number;
  units: number;
  files: number;
  bytes: number;
  rejected: number;
}

/** A unit as planned: only what the batch steps need. */
export interface PlannedUnit {
  key: string;
  meta: Record<string, unknown>;
  files: Record<string, PlannedFile>;
}

/** A file as found on disk: its path, its name in the unit, its size then (bytes). */
export interface PlannedFile {
  path: string;
  name: string;
  size: number;
}

export interface Plan {
  storageId: number;
  storageName: string;
  collectionId: number;
  collectionName: string;
  summary: UploadPlanSummary;
  report: {
    rejected: { key: string; reason: string }[];
    skipped: { path: string; reason: string }[];
    systemSkipped: number;
    duplicatesReplaced: number;
    metadataFile: string | null;
    metadataMatched: number;
    metadataUnmatched: number;
  };
}

/** A file in storage: its object key, size (bytes) and sha256 (hex). */
export interface StoredFile {
  key: string;
  size: number;
  checksum: string;
}

/** What a batch stored: per unit (by index in the batch) per specification, and what failed. */
export interface BatchResult {
  stored: Record<string, Record<string, StoredFile>>;
  failed: { unit: number; spec: string; file: string; reason: string }[];
}

/** The files of one upload run's plan. */
export interface PlanFiles {
  dir: string;
  plan: string;
  summary: string;
  batch(n: number): string;
  stored(n: number): string;
}

export function planFiles(dataDir: string, runId: string): PlanFiles {
  const dir = path.join(dataDir, 'uploads', runId);
  const numbered = (prefix: string, n: number) => path.join(dir, `${prefix}-${String(n).padStart(6, '0')}.json`);
  return {
    dir,
    plan: path.join(dir, 'plan.json'),
    summary: path.join(dir, 'summary.json'),
    batch: (n) => numbered('batch', n),
    stored: (n) => numbered('stored', n),
  };
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

/** A plan file; NonRetriableError when it is not on this worker (`what` names it). */
export async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NonRetriableError(
        `the upload's ${what} (${file}) is not on this worker: an upload's workers must share the data dir with the machine that planned it`,
      );
    }
    throw err;
  }
}

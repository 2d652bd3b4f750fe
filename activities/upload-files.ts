/**
 * Storing an upload's files. Object keys derive from the content's sha256
 * (`uploads/<sha[0:2]>/<sha>/<name>`), so a retried batch overwrites the same objects instead
 * of adding copies, and a retry skips objects already stored whole. Files above the threshold
 * go up in parts. A file gone, unreadable or changed since discovery is that file's failure;
 * anything else (the storage down) fails the batch, which retries.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyProblems } from '../storage/safe-key.js';
import type { StorageProvider } from '../storage/index.js';
import type { BatchResult, PlannedFile, PlannedUnit, StoredFile } from './upload-plan.js';

/** Files stored at once inside one batch. */
export const FILES_IN_FLIGHT = 8;

/** The object key of a file: from its content, so a retry writes the same key. */
export function contentKey(sha256: string, name: string): string {
  const base = keyProblems(name).length === 0 && !name.includes('/') ? name : `file${path.extname(name).replace(/[^A-Za-z0-9.]/g, '')}`;
  return `uploads/${sha256.slice(0, 2)}/${sha256}/${base}`;
}

export interface StoreBatchOptions {
  /** Files above this many bytes go up in parts. */
  multipartThresholdBytes: number;
  /** A retried batch: objects already stored whole are kept. */
  retry: boolean;
  signal: AbortSignal;
  /** Called often (per file, per chunk), with the files done so far: heartbeats. */
  onProgress: (done: number) => void;
  /** Filled in as files are stored and returned: when the batch fails, it holds what was stored before. */
  into?: BatchResult;
}

/** Stores a batch's files, FILES_IN_FLIGHT at a time; what each unit stored, and each file that failed. */
export async function storeBatchFiles(storage: StorageProvider, units: readonly PlannedUnit[], options: StoreBatchOptions): Promise<BatchResult> {
  const result: BatchResult = options.into ?? { stored: {}, failed: [] };
  const jobs = units.flatMap((u, unit) => Object.entries(u.files).map(([spec, f]) => ({ unit, spec, f })));
  let next = 0;
  let done = 0;
  const beat = () => options.onProgress(done);
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const { unit, spec, f } = jobs[next++]!;
      options.signal.throwIfAborted();
      beat();
      try {
        const stored = await storeFile(storage, f, options.multipartThresholdBytes, options.retry, beat, options.signal);
        (result.stored[String(unit)] ??= {})[spec] = stored;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!(code && FILE_ERRORS.has(code)) && !(err instanceof FileChangedError)) throw err;
        result.failed.push({ unit, spec, file: f.path, reason: err instanceof FileChangedError ? err.message : `cannot read (${code})` });
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, jobs.length) }, lane));
  return result;
}

const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EPERM', 'ELOOP']);

class FileChangedError extends Error {}

/** Stores one file under its content key; on a retried batch an object already stored whole is kept. */
async function storeFile(
  storage: StorageProvider,
  f: PlannedFile,
  threshold: number,
  retry: boolean,
  beat: () => void,
  signal: AbortSignal,
): Promise<StoredFile> {
  const small = f.size <= threshold;
  // Small files are read once (hash and body); big ones are hashed, then streamed in parts.
  const body = small ? await readFile(f.path) : undefined;
  const checksum = body ? createHash('sha256').update(body).digest('hex') : await sha256File(f.path, beat);
  const size = body ? body.length : (await stat(f.path)).size;
  if (size !== f.size) throw new FileChangedError(`changed since it was found (${f.size} bytes then, ${size} now)`);
  const key = contentKey(checksum, f.name);
  if (retry) {
    for await (const o of storage.list(key)) if (o.key === key && o.size === size) return { key, size, checksum };
  }
  await storage.put(key, body ?? createReadStream(f.path), { multipartThresholdBytes: threshold, onProgress: beat, signal });
  return { key, size, checksum };
}

async function sha256File(file: string, onChunk: () => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    onChunk();
  }
  return hash.digest('hex');
}

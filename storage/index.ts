/**
 * Opening a storage record: `openStorage(config, {dataDir, name})` gives the provider it
 * names. `local` roots default to `<data dir>/storage/<name>`; `s3` credentials come from the
 * environment or the record's secrets file (a relative path is taken from the data dir).
 */
import path from 'node:path';
import { InvalidInputError } from '../contracts/errors.js';
import { LocalStorage } from './local.js';
import { S3Storage, resolveS3Credentials } from './s3.js';
import { keyProblems } from './safe-key.js';
import { StorageConfigSchema, type StorageConfig, type StorageProvider } from './storage.js';

export * from './storage.js';
export * from './safe-key.js';
export { LocalStorage, TEMP_PREFIX } from './local.js';
export { S3Storage, resolveS3Credentials, DEFAULT_PART_SIZE, MIN_PART_SIZE, type S3Credentials, type S3StorageConfig } from './s3.js';

export interface OpenStorageOptions {
  /** The data directory: local roots and secrets-file paths are relative to it. */
  dataDir: string;
  /** The storage's name (a single path segment); default `default`. */
  name?: string;
  /** Where credentials are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export function openStorage(config: StorageConfig, opts: OpenStorageOptions): StorageProvider {
  const name = opts.name ?? 'default';
  const nameProblems = keyProblems(name);
  if (nameProblems.length || name.includes('/')) {
    throw new InvalidInputError(`bad storage name ${JSON.stringify(name)}`, [
      ...nameProblems.map((message) => ({ path: 'name', message })),
      ...(name.includes('/') ? [{ path: 'name', message: 'a storage name is one path segment: no "/"' }] : []),
    ]);
  }
  const parsed = StorageConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new InvalidInputError(
      `bad config for storage "${name}"`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const c = parsed.data;
  const dataDir = path.resolve(opts.dataDir);
  if (c.provider === 'local') {
    return new LocalStorage(path.resolve(dataDir, c.root ?? path.join('storage', name)), name);
  }
  return new S3Storage(c, { name, credentials: resolveS3Credentials(c, opts.env ?? process.env, dataDir) });
}

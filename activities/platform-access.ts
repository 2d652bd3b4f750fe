/**
 * What the category steps (export, upload, train) share to reach the platform from a
 * worker: the worker's one database (the same pool the run store uses: one per process, so
 * ten workers on Postgres hold ten pools, not ninety), and one open provider per storage
 * (S3 clients keep their connections between activities).
 */
import type { Db } from '../platform/repositories/common.js';
import { getStorage } from '../platform/repositories/storages.js';
import { openStorage, type StorageProvider } from '../storage/index.js';

export interface PlatformAccess {
  /** The platform database (SQLite in the data dir, or Postgres by DATABASE_URL). */
  readonly db: Db;
  /** The storage by id or name, opened once per worker. NotFoundError when there is none. */
  storageFor(ref: number | string): Promise<StorageProvider>;
}

/** Platform access over the worker's database `db`; local storages live under `dataDir`. */
export function platformAccess(db: Db, dataDir: string): PlatformAccess {
  const byId = new Map<number, StorageProvider>();
  // By the ref asked for too: an export that copies original files asks once per item.
  const byRef = new Map<string, StorageProvider>();
  const storageFor = async (ref: number | string): Promise<StorageProvider> => {
    const known = byRef.get(String(ref));
    if (known) return known;
    const record = await getStorage(db, ref);
    let provider = byId.get(record.id);
    if (!provider) {
      provider = openStorage(record.config, { dataDir, name: record.name });
      byId.set(record.id, provider);
    }
    byRef.set(String(ref), provider);
    return provider;
  };
  return { db, storageFor };
}

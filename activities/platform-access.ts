/**
 * What the category activities (export, upload, train) share to reach the platform from a
 * worker: one lazily opened database per worker (reopened after a failed open, so a database
 * that was down at start-up is picked up on the next attempt), and one open provider per
 * storage (S3 clients keep their connections between activities).
 */
import { openDatabase, type PlatformDb } from '../platform/db.js';
import type { Db } from '../platform/repositories/common.js';
import { getStorage } from '../platform/repositories/storages.js';
import { openStorage, type StorageProvider } from '../storage/index.js';

export interface PlatformAccess {
  /** The platform database (SQLite in the data dir, or Postgres by DATABASE_URL). */
  db(): Promise<Db>;
  /** The storage by id or name, opened once per worker. */
  storageFor(ref: number | string): Promise<StorageProvider>;
}

export function platformAccess(dataDir: string): PlatformAccess {
  let platform: Promise<PlatformDb> | undefined;
  const db = async (): Promise<Db> => {
    platform ??= openDatabase({ dataDir }).catch((err: unknown) => {
      platform = undefined;
      throw err;
    });
    return (await platform).db;
  };
  const byId = new Map<number, StorageProvider>();
  // By the ref asked for too: an export that copies original files asks once per item.
  const byRef = new Map<string, StorageProvider>();
  const storageFor = async (ref: number | string): Promise<StorageProvider> => {
    const known = byRef.get(String(ref));
    if (known) return known;
    const record = await getStorage(await db(), ref);
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

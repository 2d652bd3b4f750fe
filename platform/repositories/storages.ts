/** Storages: where files live. A record names its provider and options (never secrets). */
import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import { StorageConfigSchema, type StorageConfig } from '../../storage/storage.js';
import type { Selectable } from 'kysely';
import type { StorageTable } from '../schema.js';
import { asId, canonicalJson, inTransaction, notFound, now, parseInput, parseJson, type Db } from './common.js';

export interface Storage {
  id: number;
  name: string;
  provider: StorageConfig['provider'];
  config: StorageConfig;
  createdAt: string;
}

/** Names of storages, collections, projects, datasets; never all digits (those are ids). */
export const NAME = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, 'use 1-100 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit')
  .refine((n) => !/^\d+$/.test(n), 'a name cannot be all digits (that reads as an id)');
export const DEFAULT_STORAGE = 'default';

const NewStorageSchema = z.strictObject({ name: NAME, config: StorageConfigSchema });

function toStorage(row: Selectable<StorageTable>): Storage {
  const config = parseJson<StorageConfig>(row.config);
  return { id: row.id, name: row.name, provider: config.provider, config, createdAt: row.created_at };
}

/** Creates a storage; the same name with the same options again returns the existing one. */
export async function createStorage(db: Db, input: { name: string; config: unknown }): Promise<Storage> {
  const { name, config } = parseInput(NewStorageSchema, input, 'invalid storage');
  return inTransaction(db, async (trx) => {
    const existing = await trx.selectFrom('storages').selectAll().where('name', '=', name).executeTakeFirst();
    if (existing) {
      if (canonicalJson(parseJson(existing.config)) === canonicalJson(config)) return toStorage(existing);
      throw new InvalidInputError('cannot add the storage', [{ path: 'name', message: `a storage named "${name}" exists with other options` }]);
    }
    const row = await trx
      .insertInto('storages')
      .values({ name, provider: config.provider, config: JSON.stringify(config), created_at: now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toStorage(row);
  });
}

/** A storage by id or name; NotFoundError when there is none. */
export async function getStorage(db: Db, ref: string | number): Promise<Storage> {
  const id = asId(ref);
  const row = await db
    .selectFrom('storages')
    .selectAll()
    .where(id !== undefined ? 'id' : 'name', '=', id ?? String(ref))
    .executeTakeFirst();
  if (!row) throw notFound('storage', ref);
  return toStorage(row);
}

export async function listStorages(db: Db): Promise<Storage[]> {
  return (await db.selectFrom('storages').selectAll().orderBy('id').execute()).map(toStorage);
}

/** The `default` storage: a local folder in the data directory (`storage/default`). */
export async function ensureDefaultStorage(db: Db): Promise<Storage> {
  const row = await db.selectFrom('storages').selectAll().where('name', '=', DEFAULT_STORAGE).executeTakeFirst();
  return row ? toStorage(row) : createStorage(db, { name: DEFAULT_STORAGE, config: { provider: 'local' } });
}

/** NotFoundError naming every id that is not a storage. */
export async function assertStoragesExist(db: Db, ids: Iterable<number>): Promise<void> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return;
  const found = new Set((await db.selectFrom('storages').select('id').where('id', 'in', wanted).execute()).map((r) => Number(r.id)));
  const missing = wanted.filter((id) => !found.has(id));
  if (missing.length === 1) throw notFound('storage', missing[0] as number);
  if (missing.length > 1) throw new NotFoundError(`unknown storages ${missing.join(', ')}`);
}

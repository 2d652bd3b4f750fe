/**
 * Data collections (what files a data unit carries) and data units (meta + one file per
 * file specification). Data units are unique per (collection, unique key): adding the same
 * unit again is a no-op, so a retried upload step writes nothing twice; adding a different
 * unit under a key already taken is an error naming the key.
 */
import path from 'node:path';
import { z } from 'zod';
import { InvalidInputError, NotFoundError, type Problem } from '../../contracts/errors.js';
import { keyProblems } from '../../storage/safe-key.js';
import type { Selectable } from 'kysely';
import type { DataCollectionTable as CollectionT, DataUnitTable as DataUnitT, FileSpecificationTable as SpecT } from '../schema.js';

type DataCollectionTable = Selectable<CollectionT>;
type DataUnitTable = Selectable<DataUnitT>;
type FileSpecificationTable = Selectable<SpecT>;
import { asId, batchSize, canonicalJson, chunks, inTransaction, notFound, now, parseInput, parseJson, sha256, type Db } from './common.js';
import { assertStoragesExist, NAME } from './storages.js';

export interface FileSpecification {
  name: string;
  required: boolean;
  /** Lower-case, with their dot; empty allows any extension. */
  extensions: string[];
}

export interface DataCollection {
  id: number;
  name: string;
  description: string;
  files: FileSpecification[];
  createdAt: string;
}

export interface DataUnitFile {
  /** Storage id. */
  storage: number;
  /** Key inside the storage. */
  key: string;
  size?: number;
  checksum?: string;
}

export interface DataUnit {
  id: number;
  collectionId: number;
  uniqueKey: string;
  meta: Record<string, unknown>;
  files: Record<string, DataUnitFile>;
  checksum: string;
  createdAt: string;
}

export interface NewDataUnit {
  uniqueKey: string;
  meta?: Record<string, unknown>;
  files: Record<string, DataUnitFile>;
}

const ExtensionSchema = z
  .string()
  .regex(/^\.?[A-Za-z0-9]{1,16}$/, 'an extension such as ".png"')
  .transform((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());

const NewCollectionSchema = z.strictObject({
  name: NAME,
  description: z.string().max(10_000).default(''),
  files: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9_]{1,64}$/, 'use 1-64 lowercase letters, digits or "_"'),
        required: z.boolean().default(true),
        extensions: z.array(ExtensionSchema).default([]),
      }),
    )
    .min(1)
    .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'file specification names must be unique'),
});

const FileSchema = z.strictObject({
  storage: z.number().int().positive(),
  key: z.string(),
  size: z.number().int().min(0).optional(),
  checksum: z.string().max(200).optional(),
});

const NewDataUnitSchema = z.strictObject({
  uniqueKey: z.string().min(1).max(1000),
  meta: z.record(z.string(), z.unknown()).default({}),
  files: z.record(z.string(), FileSchema),
});

function toCollection(row: DataCollectionTable, specs: FileSpecificationTable[]): DataCollection {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    files: specs
      .sort((a, b) => a.position - b.position)
      .map((s) => ({ name: s.name, required: s.required === 1, extensions: parseJson<string[]>(s.extensions) })),
    createdAt: row.created_at,
  };
}

function toDataUnit(row: DataUnitTable): DataUnit {
  return {
    id: row.id,
    collectionId: Number(row.collection_id),
    uniqueKey: row.unique_key,
    meta: parseJson(row.meta),
    files: parseJson(row.files),
    checksum: row.checksum,
    createdAt: row.created_at,
  };
}

/** Creates a data collection; the same name with the same specifications returns the existing one. */
export async function createDataCollection(
  db: Db,
  input: { name: string; description?: string; files: { name: string; required?: boolean; extensions?: string[] }[] },
): Promise<DataCollection> {
  const parsed = parseInput(NewCollectionSchema, input, 'invalid data collection');
  return inTransaction(db, async (trx) => {
    const existing = await trx.selectFrom('data_collections').select('id').where('name', '=', parsed.name).executeTakeFirst();
    if (existing) {
      const current = await getDataCollection(trx, Number(existing.id));
      if (canonicalJson(current.files) === canonicalJson(parsed.files) && current.description === parsed.description) return current;
      throw new InvalidInputError('cannot create the data collection', [
        { path: 'name', message: `a data collection named "${parsed.name}" exists with other file specifications` },
      ]);
    }
    const row = await trx
      .insertInto('data_collections')
      .values({ name: parsed.name, description: parsed.description, created_at: now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    const specs = await trx
      .insertInto('file_specifications')
      .values(
        parsed.files.map((f, position) => ({
          collection_id: row.id,
          name: f.name,
          required: f.required ? 1 : 0,
          extensions: JSON.stringify(f.extensions),
          position,
        })),
      )
      .returningAll()
      .execute();
    return toCollection(row, specs);
  });
}

/** A data collection by id or name, with its file specifications. */
export async function getDataCollection(db: Db, ref: string | number): Promise<DataCollection> {
  const id = asId(ref);
  const row = await db
    .selectFrom('data_collections')
    .selectAll()
    .where(id !== undefined ? 'id' : 'name', '=', id ?? String(ref))
    .executeTakeFirst();
  if (!row) throw notFound('data collection', ref);
  const specs = await db.selectFrom('file_specifications').selectAll().where('collection_id', '=', row.id).execute();
  return toCollection(row, specs);
}

export async function listDataCollections(db: Db): Promise<DataCollection[]> {
  const rows = await db.selectFrom('data_collections').select('id').orderBy('id').execute();
  return Promise.all(rows.map((r) => getDataCollection(db, Number(r.id))));
}

/** Problems of one unit against the collection's specifications (and safe keys). */
function unitProblems(unit: z.infer<typeof NewDataUnitSchema>, specs: FileSpecification[], at: string): Problem[] {
  const problems: Problem[] = [];
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const spec of specs) {
    if (spec.required && !unit.files[spec.name]) problems.push({ path: `${at}.files.${spec.name}`, message: `required file "${spec.name}" is missing` });
  }
  for (const [name, file] of Object.entries(unit.files)) {
    const spec = byName.get(name);
    if (!spec) {
      problems.push({
        path: `${at}.files.${name}`,
        message: `the collection has no file specification "${name}" (it has ${specs.map((s) => s.name).join(', ')})`,
      });
      continue;
    }
    for (const message of keyProblems(file.key)) problems.push({ path: `${at}.files.${name}.key`, message: `${JSON.stringify(file.key)}: ${message}` });
    const ext = path.posix.extname(file.key).toLowerCase();
    if (spec.extensions.length > 0 && !spec.extensions.includes(ext)) {
      problems.push({
        path: `${at}.files.${name}.key`,
        message: `extension "${ext || '(none)'}" is not allowed for "${name}" (allowed: ${spec.extensions.join(', ')})`,
      });
    }
  }
  return problems;
}

/**
 * Adds data units to a collection, all or nothing. Returns them in input order with their
 * ids (existing ones included). Errors, before anything is written: InvalidInputError for a
 * malformed unit, an unsafe key, a missing or unknown file, or a duplicate unique key (twice
 * in the input, or stored already with other content); NotFoundError for an unknown
 * collection or storage.
 */
export async function addDataUnits(db: Db, collectionRef: string | number, input: readonly NewDataUnit[]): Promise<DataUnit[]> {
  const collection = await getDataCollection(db, collectionRef);
  const subject = `invalid data units for collection "${collection.name}"`;
  const units = parseInput(z.array(NewDataUnitSchema), input, subject);
  const problems: Problem[] = [];
  const firstIndex = new Map<string, number>();
  const storages = new Set<number>();
  units.forEach((unit, i) => {
    problems.push(...unitProblems(unit, collection.files, String(i)));
    const first = firstIndex.get(unit.uniqueKey);
    if (first !== undefined) problems.push({ path: `${i}.uniqueKey`, message: `duplicate data unit ${JSON.stringify(unit.uniqueKey)} (also item ${first})` });
    else firstIndex.set(unit.uniqueKey, i);
    for (const f of Object.values(unit.files)) storages.add(f.storage);
  });
  if (problems.length) throw new InvalidInputError(subject, problems);
  await assertStoragesExist(db, storages);

  const createdAt = now();
  const rows = units.map((u) => {
    const content = { meta: u.meta, files: u.files };
    return {
      collection_id: collection.id,
      unique_key: u.uniqueKey,
      meta: JSON.stringify(u.meta),
      files: JSON.stringify(u.files),
      checksum: sha256(canonicalJson(content)),
      created_at: createdAt,
    };
  });
  type Stored = Pick<DataUnitTable, 'id' | 'unique_key' | 'checksum' | 'created_at'>;
  const stored = ['id', 'unique_key', 'checksum', 'created_at'] as const;
  return inTransaction(db, async (trx) => {
    const byKey = new Map<string, Stored>();
    for (const batch of chunks(rows, batchSize(6))) {
      const inserted = await trx
        .insertInto('data_units')
        .values(batch)
        .onConflict((oc) => oc.columns(['collection_id', 'unique_key']).doNothing())
        .returning(stored)
        .execute();
      for (const r of inserted) byKey.set(r.unique_key, r);
      const missing = batch.filter((r) => !byKey.has(r.unique_key)).map((r) => r.unique_key);
      if (missing.length === 0) continue;
      const existing = await trx
        .selectFrom('data_units')
        .select(stored)
        .where('collection_id', '=', collection.id)
        .where('unique_key', 'in', missing)
        .execute();
      for (const r of existing) byKey.set(r.unique_key, r);
    }
    const conflicts: Problem[] = [];
    rows.forEach((r, i) => {
      const stored = byKey.get(r.unique_key);
      if (stored && stored.checksum !== r.checksum) {
        conflicts.push({
          path: `${i}.uniqueKey`,
          message: `duplicate data unit ${JSON.stringify(r.unique_key)}: the collection has a different unit with this key (id ${stored.id})`,
        });
      }
    });
    // Thrown inside the transaction: what this call inserted is rolled back.
    if (conflicts.length) throw new InvalidInputError(subject, conflicts);
    // Stored content equals the input (same checksum): the units are built from it, not read back.
    return units.map((u, i) => {
      const s = byKey.get(u.uniqueKey) as Stored;
      return {
        id: s.id,
        collectionId: collection.id,
        uniqueKey: u.uniqueKey,
        meta: u.meta,
        files: u.files,
        checksum: (rows[i] as { checksum: string }).checksum,
        createdAt: s.created_at,
      };
    });
  });
}

/** Which of `uniqueKeys` a collection has already, in no particular order (e.g. before an upload registers units under them). */
export async function existingUniqueKeys(db: Db, collectionId: number, uniqueKeys: readonly string[]): Promise<string[]> {
  const taken: string[] = [];
  for (const batch of chunks(uniqueKeys, 1000)) {
    const rows = await db.selectFrom('data_units').select('unique_key').where('collection_id', '=', collectionId).where('unique_key', 'in', batch).execute();
    taken.push(...rows.map((r) => r.unique_key));
  }
  return taken;
}

export async function getDataUnit(db: Db, id: number): Promise<DataUnit> {
  const row = await db.selectFrom('data_units').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`unknown data unit ${id}`);
  return toDataUnit(row);
}

/** Data units of a collection in id order, a page at a time (`afterId` is the last id seen). */
export async function listDataUnits(db: Db, filter: { collectionId: number; afterId?: number; limit?: number }): Promise<DataUnit[]> {
  const rows = await db
    .selectFrom('data_units')
    .selectAll()
    .where('collection_id', '=', filter.collectionId)
    .where('id', '>', filter.afterId ?? 0)
    .orderBy('id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map(toDataUnit);
}

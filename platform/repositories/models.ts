/** Models (what a train action produced) and plugin releases (published plugin versions). */
import type { Selectable } from 'kysely';
import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import { keyProblems } from '../../storage/safe-key.js';
import type { ModelTable, PluginReleaseTable } from '../schema.js';
import { inTransaction, now, parseInput, parseJson, type Db } from './common.js';
import { assertStoragesExist } from './storages.js';

export interface Model {
  id: number;
  name: string;
  plugin: { code: string; version: string };
  /** Where the model file is: a storage id and a key in it. */
  file: { storage: number; key: string } | null;
  configuration: Record<string, unknown>;
  metrics: Record<string, number>;
  runId: string | null;
  createdAt: string;
}

export interface PluginRelease {
  id: number;
  code: string;
  version: string;
  checksum: string;
  config: Record<string, unknown>;
  archive: { storage: number; key: string } | null;
  createdAt: string;
}

const safeKey = z.string().superRefine((key, ctx) => {
  for (const message of keyProblems(key)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(key)}: ${message}` });
});
const FileRef = z.strictObject({ storage: z.number().int().positive(), key: safeKey });

const NewModelSchema = z.strictObject({
  name: z.string().min(1).max(200),
  plugin: z.strictObject({ code: z.string().regex(/^[a-z0-9_-]+$/), version: z.string().min(1) }),
  file: FileRef.optional(),
  configuration: z.record(z.string(), z.unknown()).default({}),
  metrics: z.record(z.string(), z.number().finite()).default({}),
  runId: z.string().optional(),
});

const NewReleaseSchema = z.strictObject({
  code: z.string().regex(/^[a-z0-9_-]+$/),
  version: z.string().min(1).max(100),
  checksum: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex'),
  config: z.record(z.string(), z.unknown()),
  archive: FileRef.optional(),
});

const toModel = (r: Selectable<ModelTable>): Model => ({
  id: r.id,
  name: r.name,
  plugin: { code: r.plugin_code, version: r.plugin_version },
  file: r.storage_id !== null && r.file_key !== null ? { storage: Number(r.storage_id), key: r.file_key } : null,
  configuration: parseJson(r.configuration),
  metrics: parseJson(r.metrics),
  runId: r.run_id,
  createdAt: r.created_at,
});
const toRelease = (r: Selectable<PluginReleaseTable>): PluginRelease => ({
  id: r.id,
  code: r.code,
  version: r.version,
  checksum: r.checksum,
  config: parseJson(r.config),
  archive: r.storage_id !== null && r.archive_key !== null ? { storage: Number(r.storage_id), key: r.archive_key } : null,
  createdAt: r.created_at,
});

/** Records a model. With a run id, the same run recording the same name again returns the first (a retried step). */
export async function createModel(db: Db, input: z.input<typeof NewModelSchema>): Promise<Model> {
  const m = parseInput(NewModelSchema, input, 'invalid model');
  if (m.file) await assertStoragesExist(db, [m.file.storage]);
  return inTransaction(db, async (trx) => {
    if (m.runId) {
      const existing = await trx.selectFrom('models').selectAll().where('run_id', '=', m.runId).where('name', '=', m.name).executeTakeFirst();
      if (existing) return toModel(existing);
    }
    const row = await trx
      .insertInto('models')
      .values({
        name: m.name,
        plugin_code: m.plugin.code,
        plugin_version: m.plugin.version,
        storage_id: m.file?.storage ?? null,
        file_key: m.file?.key ?? null,
        configuration: JSON.stringify(m.configuration),
        metrics: JSON.stringify(m.metrics),
        run_id: m.runId ?? null,
        created_at: now(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toModel(row);
  });
}

export async function getModel(db: Db, id: number): Promise<Model> {
  const row = await db.selectFrom('models').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`unknown model ${id}`);
  return toModel(row);
}

export async function listModels(db: Db, filter: { pluginCode?: string } = {}): Promise<Model[]> {
  let q = db.selectFrom('models').selectAll();
  if (filter.pluginCode) q = q.where('plugin_code', '=', filter.pluginCode);
  return (await q.orderBy('id').execute()).map(toModel);
}

/**
 * Records a release `code@version`. Publishing the same archive again (same checksum)
 * returns the existing release; another archive under a taken version is an error.
 */
export async function createPluginRelease(db: Db, input: z.input<typeof NewReleaseSchema>): Promise<PluginRelease> {
  const r = parseInput(NewReleaseSchema, input, 'invalid plugin release');
  if (r.archive) await assertStoragesExist(db, [r.archive.storage]);
  return inTransaction(db, async (trx) => {
    const existing = await trx.selectFrom('plugin_releases').selectAll().where('code', '=', r.code).where('version', '=', r.version).executeTakeFirst();
    if (existing) {
      if (existing.checksum === r.checksum) return toRelease(existing);
      throw new InvalidInputError('cannot publish the release', [
        { path: 'version', message: `${r.code}@${r.version} is published already with another checksum; publish a new version` },
      ]);
    }
    const row = await trx
      .insertInto('plugin_releases')
      .values({
        code: r.code,
        version: r.version,
        checksum: r.checksum,
        config: JSON.stringify(r.config),
        storage_id: r.archive?.storage ?? null,
        archive_key: r.archive?.key ?? null,
        created_at: now(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRelease(row);
  });
}

export async function getPluginRelease(db: Db, code: string, version: string): Promise<PluginRelease> {
  const row = await db.selectFrom('plugin_releases').selectAll().where('code', '=', code).where('version', '=', version).executeTakeFirst();
  if (!row) throw new NotFoundError(`unknown plugin release ${code}@${version}`);
  return toRelease(row);
}

export async function listPluginReleases(db: Db, code?: string): Promise<PluginRelease[]> {
  let q = db.selectFrom('plugin_releases').selectAll();
  if (code) q = q.where('code', '=', code);
  return (await q.orderBy('id').execute()).map(toRelease);
}

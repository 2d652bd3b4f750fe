/**
 * Upload plan parts in the platform database (table upload_plan_parts, migration 006): an
 * upload's plan, its batches' units, what each batch stored and the final summary, as JSON
 * text keyed by (run id, part). Every worker of the deployment reads the same rows, so an
 * upload's steps may land on any of them (issue 16: the plan used to be on one worker's disk).
 * Writes are upserts (a retried step rewrites its part); reads of a missing part return
 * undefined and the caller names what it wanted.
 */
import type { Kysely } from 'kysely';
import { now, type Db } from './common.js';

/** The table, typed here: only this repository reads or writes it. */
interface UploadPlanPartTable {
  run_id: string;
  part: string;
  /** JSON text. */
  body: string;
  updated_at: string;
}

type WithParts = Kysely<{ upload_plan_parts: UploadPlanPartTable }>;

function parts(db: Db): WithParts {
  return db.withTables<{ upload_plan_parts: UploadPlanPartTable }>() as unknown as WithParts;
}

/** Writes (or replaces) one part of a run's plan. */
export async function putPlanPart(db: Db, runId: string, part: string, value: unknown): Promise<void> {
  const row = { run_id: runId, part, body: JSON.stringify(value), updated_at: now() };
  await parts(db)
    .insertInto('upload_plan_parts')
    .values(row)
    .onConflict((oc) => oc.columns(['run_id', 'part']).doUpdateSet({ body: row.body, updated_at: row.updated_at }))
    .execute();
}

/** One part of a run's plan, parsed; undefined when there is none. */
export async function getPlanPart<T>(db: Db, runId: string, part: string): Promise<T | undefined> {
  const row = await parts(db).selectFrom('upload_plan_parts').select('body').where('run_id', '=', runId).where('part', '=', part).executeTakeFirst();
  return row ? (JSON.parse(row.body) as T) : undefined;
}

/** The names of a run's parts starting with `prefix`, in name order. */
export async function listPlanParts(db: Db, runId: string, prefix = ''): Promise<string[]> {
  const rows = await parts(db)
    .selectFrom('upload_plan_parts')
    .select('part')
    .where('run_id', '=', runId)
    .where('part', 'like', `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
    .orderBy('part')
    .execute();
  return rows.map((r) => r.part).filter((p) => p.startsWith(prefix));
}

/** Deletes a run's parts, all of them or all but `keep`. */
export async function deletePlanParts(db: Db, runId: string, keep: string[] = []): Promise<void> {
  let q = parts(db).deleteFrom('upload_plan_parts').where('run_id', '=', runId);
  if (keep.length) q = q.where('part', 'not in', keep);
  await q.execute();
}

/**
 * The stored parts (`stored-*`) of every upload run but `runId`, parsed: what other uploads
 * stored and may still register, so a discarded run must not delete it.
 */
export async function* otherRunsStoredParts<T>(db: Db, runId: string): AsyncGenerator<T> {
  let after: { run: string; part: string } | undefined;
  for (;;) {
    const page = after;
    const rows = await parts(db)
      .selectFrom('upload_plan_parts')
      .select(['run_id', 'part', 'body'])
      .where('run_id', '!=', runId)
      .where('part', 'like', 'stored-%')
      .$if(page !== undefined, (q) =>
        q.where((eb) => eb.or([eb('run_id', '>', page!.run), eb.and([eb('run_id', '=', page!.run), eb('part', '>', page!.part)])])),
      )
      .orderBy('run_id')
      .orderBy('part')
      .limit(PAGE)
      .execute();
    for (const r of rows) yield JSON.parse(r.body) as T;
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    after = { run: last.run_id, part: last.part };
  }
}

const PAGE = 200;

/**
 * Which of `keys` (object keys in storage `storageId`) a data unit points at, in any
 * collection: a scan of every data unit's files, page by page (a discarded upload's clean-up
 * runs once, on failure).
 */
export async function referencedKeys(db: Db, storageId: number, keys: ReadonlySet<string>): Promise<Set<string>> {
  const found = new Set<string>();
  if (keys.size === 0) return found;
  for (let after = 0; ;) {
    const rows = await db.selectFrom('data_units').select(['id', 'files']).where('id', '>', after).orderBy('id').limit(1000).execute();
    for (const r of rows) {
      const files = JSON.parse(r.files) as Record<string, { storage: number; key: string }>;
      for (const f of Object.values(files)) if (f.storage === storageId && keys.has(f.key)) found.add(f.key);
    }
    if (rows.length < 1000) return found;
    after = rows[rows.length - 1]!.id;
  }
}

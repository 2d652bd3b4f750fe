/** The run store over the platform database (SQLite file by default, Postgres with DATABASE_URL). */
import type { Kysely } from 'kysely';
import { openDatabase, type OpenDatabaseOptions, type PlatformDb } from './db.js';
import type { Checkpoint, RunEvent, RunEventInput, RunFilter, RunRecord, RunStore } from './run-store.js';
import type { Database, RunTable } from './schema.js';

/** Rows per INSERT: 5 parameters each, far below SQLite's and Postgres' parameter limits. */
const EVENT_BATCH = 1000;

export class KyselyRunStore implements RunStore {
  private readonly db: Kysely<Database>;

  /**
   * `owned`: the store closes the database when it is closed. A worker passes its one
   * database unowned: the platform steps share it, and the worker closes it last.
   */
  constructor(
    private readonly platform: PlatformDb,
    private readonly owned = true,
  ) {
    this.db = platform.db;
  }

  static async open(options: OpenDatabaseOptions): Promise<KyselyRunStore> {
    return new KyselyRunStore(await openDatabase(options));
  }

  async createRun(run: RunRecord): Promise<void> {
    await this.db
      .insertInto('runs')
      .values({
        id: run.id,
        plugin_code: run.pluginCode,
        plugin_version: run.pluginVersion,
        action: run.action,
        category: run.category,
        method: run.method,
        status: run.status,
        params: JSON.stringify(run.params ?? null),
        created_at: run.createdAt,
        updated_at: run.updatedAt,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'result' | 'error'>>): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({
        updated_at: new Date().toISOString(),
        ...(patch.status !== undefined ? { status: patch.status } : {}),
        ...(patch.result !== undefined ? { result: JSON.stringify(patch.result) } : {}),
        ...(patch.error !== undefined ? { error: patch.error } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async deletePendingRun(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom('runs').where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) return false;
      await trx.deleteFrom('run_events').where('run_id', '=', id).execute();
      await trx.deleteFrom('run_checkpoints').where('run_id', '=', id).execute();
      return true;
    });
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    let q = this.db.selectFrom('runs').selectAll();
    if (filter.pluginCode) q = q.where('plugin_code', '=', filter.pluginCode);
    if (filter.action) q = q.where('action', '=', filter.action);
    if (filter.category) q = q.where('category', '=', filter.category);
    if (filter.status) q = q.where('status', '=', filter.status);
    const rows = await q
      .orderBy('created_at', 'desc')
      .limit(filter.limit ?? 50)
      .execute();
    return rows.map(toRecord);
  }

  async appendEvents(events: RunEventInput[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => ({ run_id: e.runId, attempt: e.attempt, at: e.at, kind: e.data.kind, data: JSON.stringify(e.data) }));
    if (rows.length <= EVENT_BATCH) {
      await this.db.insertInto('run_events').values(rows).execute();
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += EVENT_BATCH)
        await trx
          .insertInto('run_events')
          .values(rows.slice(i, i + EVENT_BATCH))
          .execute();
    });
  }

  async readEvents(runId: string, afterId = 0, limit = 1000): Promise<RunEvent[]> {
    const rows = await this.db
      .selectFrom('run_events')
      .select(['id', 'run_id', 'attempt', 'at', 'data'])
      .where('run_id', '=', runId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), runId: r.run_id, attempt: r.attempt, at: r.at, data: JSON.parse(r.data) }));
  }

  async highestAttempt(runId: string): Promise<number> {
    const row = await this.db
      .selectFrom('run_events')
      .select((eb) => eb.fn.max('attempt').as('attempt'))
      .where('run_id', '=', runId)
      .executeTakeFirst();
    return Number(row?.attempt ?? 0);
  }

  async saveCheckpoint(runId: string, c: Checkpoint): Promise<void> {
    await this.db
      .insertInto('run_checkpoints')
      .values({ run_id: runId, seq: c.seq, attempt: c.attempt, at: c.at, state: JSON.stringify(c.state ?? null) })
      .onConflict((oc) =>
        oc
          .column('run_id')
          .doUpdateSet((eb) => ({
            seq: eb.ref('excluded.seq'),
            attempt: eb.ref('excluded.attempt'),
            at: eb.ref('excluded.at'),
            state: eb.ref('excluded.state'),
          }))
          .where((eb) => eb('excluded.seq', '>', eb.ref('run_checkpoints.seq'))),
      )
      .execute();
  }

  async latestCheckpoint(runId: string): Promise<Checkpoint | undefined> {
    const row = await this.db.selectFrom('run_checkpoints').select(['seq', 'attempt', 'at', 'state']).where('run_id', '=', runId).executeTakeFirst();
    return row && { seq: Number(row.seq), attempt: row.attempt, at: row.at, state: JSON.parse(row.state) };
  }

  async close(): Promise<void> {
    if (this.owned) await this.platform.close();
  }
}

function toRecord(row: RunTable): RunRecord {
  return {
    id: row.id,
    pluginCode: row.plugin_code,
    pluginVersion: row.plugin_version,
    action: row.action,
    category: row.category,
    method: row.method,
    status: row.status as RunRecord['status'],
    params: JSON.parse(row.params),
    ...(row.result !== null ? { result: JSON.parse(row.result) } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

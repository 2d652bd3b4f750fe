/** The embedded run store: one SQLite file (WAL mode, so the CLI reads while a worker writes). */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, RunEvent, RunEventInput, RunFilter, RunRecord, RunStore } from './run-store.js';

const MIGRATIONS = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     plugin_code TEXT NOT NULL,
     plugin_version TEXT NOT NULL,
     action TEXT NOT NULL,
     category TEXT NOT NULL,
     method TEXT NOT NULL,
     status TEXT NOT NULL,
     params TEXT NOT NULL,
     result TEXT,
     error TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX runs_created ON runs (created_at);
   CREATE TABLE run_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     run_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     at TEXT NOT NULL,
     kind TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX run_events_run ON run_events (run_id, id);
   CREATE TABLE run_checkpoints (
     run_id TEXT PRIMARY KEY,
     seq INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     at TEXT NOT NULL,
     state TEXT NOT NULL
   );`,
];

interface RunRow {
  id: string;
  plugin_code: string;
  plugin_version: string;
  action: string;
  category: string;
  method: string;
  status: string;
  params: string;
  result: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export class SqliteRunStore implements RunStore {
  private readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly insertEvents: (events: RunEventInput[]) => void;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.insertEvent = this.db.prepare('INSERT INTO run_events (run_id, attempt, at, kind, data) VALUES (?, ?, ?, ?, ?)');
    this.insertEvents = this.db.transaction((events: RunEventInput[]) => {
      for (const e of events) this.insertEvent.run(e.runId, e.attempt, e.at, e.data.kind, JSON.stringify(e.data));
    });
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  createRun(run: RunRecord): void {
    this.db
      .prepare(
        `INSERT INTO runs (id, plugin_code, plugin_version, action, category, method, status, params, created_at, updated_at)
         VALUES (@id, @pluginCode, @pluginVersion, @action, @category, @method, @status, @params, @createdAt, @updatedAt)
         ON CONFLICT (id) DO NOTHING`,
      )
      .run({ ...run, params: JSON.stringify(run.params ?? null) });
  }

  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'result' | 'error'>>): void {
    const sets: string[] = ['updated_at = @updatedAt'];
    const values: Record<string, unknown> = { id, updatedAt: new Date().toISOString() };
    if (patch.status !== undefined) (sets.push('status = @status'), (values.status = patch.status));
    if (patch.result !== undefined) (sets.push('result = @result'), (values.result = JSON.stringify(patch.result)));
    if (patch.error !== undefined) (sets.push('error = @error'), (values.error = patch.error));
    this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = @id`).run(values);
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && toRecord(row);
  }

  listRuns(filter: RunFilter = {}): RunRecord[] {
    const where: string[] = [];
    const values: Record<string, unknown> = { limit: filter.limit ?? 50 };
    if (filter.pluginCode) (where.push('plugin_code = @pluginCode'), (values.pluginCode = filter.pluginCode));
    if (filter.action) (where.push('action = @action'), (values.action = filter.action));
    if (filter.category) (where.push('category = @category'), (values.category = filter.category));
    if (filter.status) (where.push('status = @status'), (values.status = filter.status));
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(values) as RunRow[]).map(toRecord);
  }

  appendEvents(events: RunEventInput[]): void {
    if (events.length > 0) this.insertEvents(events);
  }

  readEvents(runId: string, afterId = 0, limit = 1000): RunEvent[] {
    const rows = this.db
      .prepare('SELECT id, run_id, attempt, at, data FROM run_events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(runId, afterId, limit) as { id: number; run_id: string; attempt: number; at: string; data: string }[];
    return rows.map((r) => ({ id: r.id, runId: r.run_id, attempt: r.attempt, at: r.at, data: JSON.parse(r.data) }));
  }

  saveCheckpoint(runId: string, c: Checkpoint): void {
    this.db
      .prepare(
        `INSERT INTO run_checkpoints (run_id, seq, attempt, at, state) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq, attempt = excluded.attempt, at = excluded.at, state = excluded.state
         WHERE excluded.seq > run_checkpoints.seq`,
      )
      .run(runId, c.seq, c.attempt, c.at, JSON.stringify(c.state ?? null));
  }

  latestCheckpoint(runId: string): Checkpoint | undefined {
    const row = this.db.prepare('SELECT seq, attempt, at, state FROM run_checkpoints WHERE run_id = ?').get(runId) as
      | { seq: number; attempt: number; at: string; state: string }
      | undefined;
    return row && { seq: row.seq, attempt: row.attempt, at: row.at, state: JSON.parse(row.state) };
  }

  close(): void {
    this.db.close();
  }
}

function toRecord(row: RunRow): RunRecord {
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

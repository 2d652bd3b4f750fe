/**
 * Runs, their events and checkpoints (the run store). `if not exists` because a data dir
 * made by the foundation's SQLite run store already has these tables, with the same shape.
 */
import type { Kysely } from 'kysely';
import { withId, type DialectMigration, type DialectName } from './columns.js';

export const runs: DialectMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    await db.schema
      .createTable('runs')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('plugin_code', 'text', (c) => c.notNull())
      .addColumn('plugin_version', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('category', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('runs_created').ifNotExists().on('runs').column('created_at').execute();
    await withId(db.schema.createTable('run_events').ifNotExists(), dialect)
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('run_events_run').ifNotExists().on('run_events').columns(['run_id', 'id']).execute();
    await db.schema
      .createTable('run_checkpoints')
      .ifNotExists()
      .addColumn('run_id', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * Per-item results of a run (a task-page run's tasks: to_task, validation, post_annotation):
 * one row per run and item, so a retried page replaces its rows instead of adding more, and
 * a resumed page knows which items are done.
 */
import type { Kysely } from 'kysely';
import type { DialectMigration } from './columns.js';

export const runItemResults: DialectMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('run_item_results')
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('item', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_item_results_pk', ['run_id', 'item'])
      .execute();
  },
};

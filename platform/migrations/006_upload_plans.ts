/**
 * Upload plans (activities/upload-plan.ts): what an upload's discover step decided and what
 * each batch stored, one row per part (`plan`, `batch-NNNNNN`, `stored-NNNNNN`, `summary`)
 * keyed by run id. They lived on the planning worker's disk, so a batch that landed on
 * another worker (another machine, another data dir) could not run (issue 16); in the
 * platform database every worker reads them. Rows go when the run is finalized or discarded.
 */
import type { Kysely } from 'kysely';
import type { DialectMigration } from './columns.js';

export const uploadPlans: DialectMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('upload_plan_parts')
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('part', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('upload_plan_parts_pk', ['run_id', 'part'])
      .execute();
  },
};

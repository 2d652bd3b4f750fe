/**
 * Replicas of deployments (docs/serving.md): one row per deployment run and replica slot,
 * written by the serve activity hosting it (address, status, load, a fresh `updated_at`
 * every few seconds) and removed when it stops. The gateway routes predictions to the rows
 * that are ready and fresh; a row left behind by a killed worker goes stale and is skipped.
 */
import type { Kysely } from 'kysely';
import type { DialectMigration } from './columns.js';

export const deploymentReplicas: DialectMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('deployment_replicas')
      .addColumn('deployment_id', 'text', (c) => c.notNull())
      .addColumn('replica', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('address', 'text')
      .addColumn('worker', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('in_flight', 'integer', (c) => c.notNull())
      .addColumn('served', 'bigint', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('deployment_replicas_pk', ['deployment_id', 'replica'])
      .execute();
  },
};

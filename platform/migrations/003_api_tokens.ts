/**
 * The gateway's API tokens. `if not exists` because data dirs made before this migration
 * have the table already (the gateway created it itself), with the same columns. The
 * secret's SHA-256 is lowercase hex text: one type in SQLite and Postgres.
 */
import type { Kysely } from 'kysely';
import type { DialectMigration } from './columns.js';

export const apiTokens: DialectMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_tokens')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('secret_sha256', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('last_used_at', 'text')
      .execute();
  },
};

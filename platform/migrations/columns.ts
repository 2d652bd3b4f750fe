/**
 * The one place where SQLite and Postgres differ in the schema: how an auto-increment id
 * is declared. Everything else is shared: `bigint` columns (INTEGER affinity in SQLite,
 * int8 in Postgres, read back as numbers), JSON and times as `text`, booleans as 0/1.
 */
import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/** Adds `id` as the auto-increment primary key of the dialect. */
export function withId<T extends string>(table: CreateTableBuilder<T, never>, dialect: DialectName): CreateTableBuilder<T, 'id'> {
  return dialect === 'sqlite'
    ? // `integer primary key` (exactly) makes it the rowid alias; autoincrement never reuses ids.
      table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn('id', 'bigint', (c: ColumnDefinitionBuilder) => c.primaryKey().generatedByDefaultAsIdentity());
}

/** A migration that knows which dialect it runs on. */
export interface DialectMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

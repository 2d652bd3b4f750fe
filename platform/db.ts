/**
 * The platform database: one Kysely<Database> over SQLite (embedded default, the file
 * `<data dir>/synapse.db`, WAL mode) or Postgres (when DATABASE_URL is set). Opening it
 * runs the migrations. Both dialects go through the same queries; what differs is here
 * and in migrations/columns.ts.
 */
import Database from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  CompiledQuery,
  type DatabaseConnection,
  type SqliteDialectConfig,
} from 'kysely';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { UnavailableError } from '../contracts/errors.js';
import { migrationProvider } from './migrations/index.js';
import type { DialectName } from './migrations/columns.js';
import type { Database as Schema } from './schema.js';

export type { DialectName } from './migrations/columns.js';

export interface PlatformDb {
  db: Kysely<Schema>;
  dialect: DialectName;
  /** Where the data is, safe to print (the file, or the URL without its password). */
  location: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Data directory; the SQLite file is `<dataDir>/synapse.db`. */
  dataDir: string;
  /** A postgres:// URL; default `process.env.DATABASE_URL`. An empty string means SQLite. */
  url?: string | undefined;
  /** SQLite file instead of `<dataDir>/synapse.db` (`:memory:` for a throwaway one). */
  file?: string;
  /** Postgres pool size (default 10): the most connections this handle opens. */
  poolSize?: number;
  /** Postgres `application_name` of the connections, so pg_stat_activity shows who holds them (default: none). */
  applicationName?: string;
}

export function sqliteFile(dataDir: string): string {
  return path.join(dataDir, 'synapse.db');
}

/** Opens (and migrates) the platform database. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<PlatformDb> {
  const url = options.url ?? process.env.DATABASE_URL ?? '';
  const opened = url ? openPostgres(url, options.poolSize ?? 10, options.applicationName) : openSqlite(options.file ?? sqliteFile(options.dataDir));
  try {
    await migrate(opened.db, opened.dialect);
  } catch (err) {
    await opened.db.destroy().catch(() => {});
    throw unavailable(opened, err);
  }
  return { ...opened, close: () => opened.db.destroy() };
}

function openSqlite(file: string): Omit<PlatformDb, 'close'> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 10000');
  database.pragma('foreign_keys = ON');
  // 64 MiB of page cache (the default is 2 MiB): large tables' indexes stay in memory while seeding.
  database.pragma('cache_size = -65536');
  return { db: new Kysely<Schema>({ dialect: new ImmediateSqliteDialect({ database }) }), dialect: 'sqlite', location: file };
}

function openPostgres(url: string, max: number, applicationName: string | undefined): Omit<PlatformDb, 'close'> {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    ...(applicationName ? { application_name: applicationName } : {}),
    types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  return { db: new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres', location: redactUrl(url) };
}

/** int8 (ids, counts) and numeric come back as numbers, like SQLite's integers. */
const typeParser = ((oid: number, format?: string) => {
  if (oid === 20 || oid === 1700) return (value: string) => Number(value);
  return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
}) as pg.CustomTypesConfig['getTypeParser'];

/** The URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL (not a valid URL)';
  }
}

async function migrate(db: Kysely<Schema>, dialect: DialectName): Promise<void> {
  const provider = migrationProvider(dialect);
  const wanted = Object.keys(await provider.getMigrations());
  // Fast path for every start after the first: all migrations are recorded already.
  try {
    const done = await (db as unknown as Kysely<{ kysely_migration: { name: string } }>).selectFrom('kysely_migration').select('name').execute();
    const names = new Set(done.map((r) => r.name));
    if (wanted.every((n) => names.has(n))) return;
  } catch {
    // no migration table yet
  }
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw error;
}

function unavailable(opened: Omit<PlatformDb, 'close'>, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (opened.dialect === 'postgres' && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|timeout|terminat|password authentication|does not exist/i.test(message)) {
    return new UnavailableError(
      `cannot reach the database at ${opened.location}: ${message}. Check DATABASE_URL, or unset it to use the SQLite file in the data directory.`,
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(message);
}

/**
 * SQLite transactions start with BEGIN IMMEDIATE: they take the write lock up front, so two
 * processes writing the same file wait for each other (busy_timeout) instead of failing to
 * upgrade a read lock. DDL is transactional in SQLite, so migrations run in one transaction
 * too, which serialises concurrent first starts.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.settings);
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** What every repository shares: the database type, transactions, JSON, batching, input parsing. */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { zodProblems } from '../../contracts/problems.js';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import type { Database } from '../schema.js';

/** A database or a transaction on it: every repository function accepts either. */
export type Db = Kysely<Database>;

/** Runs `fn` in a transaction, or inside the caller's when `db` is one already. */
export function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

export function now(): string {
  return new Date().toISOString();
}

/** Validates input with a zod schema; InvalidInputError lists every problem with its path. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(subject, zodProblems(parsed.error));
  return parsed.data;
}

/** JSON with object keys sorted, so equal values give equal text (and checksums). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** Rows per multi-row INSERT for a table with `columns` columns (under SQLite's 32,766 parameters). */
export function batchSize(columns: number): number {
  return Math.max(1, Math.min(1000, Math.floor(30_000 / columns)));
}

export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Finds a row by id (a number or digits) or by name; NotFoundError names what was asked for. */
export function notFound(what: string, ref: string | number): NotFoundError {
  return new NotFoundError(`unknown ${what} ${asId(ref) !== undefined ? ref : JSON.stringify(ref)}`);
}

/** `12` and `"12"` are ids; anything else is a name. */
export function asId(ref: string | number): number | undefined {
  if (typeof ref === 'number') return Number.isSafeInteger(ref) ? ref : undefined;
  return /^\d+$/.test(ref) ? Number(ref) : undefined;
}

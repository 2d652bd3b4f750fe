/**
 * API tokens for the gateway, kept hashed in the embedded database (`<data dir>/synapse.db`,
 * table `api_tokens`, created here and nowhere else). A token reads `syn_<id>_<secret>`:
 * the id finds the row, the secret is only ever stored as its SHA-256 and compared in
 * constant time. The plain token exists once, in what `create` returns.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError, NotFoundError } from '../sdk/errors.js';

/** What a token may do. `runs:read` covers reading runs, events and plugins. */
export const SCOPES = ['runs:read', 'runs:write'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

export interface CreatedToken extends TokenInfo {
  /** The bearer token itself. Shown once; only its hash is stored. */
  token: string;
}

/** Why a presented token was refused (all of them are 401 for the caller). */
export type TokenCheck = { ok: true; token: TokenInfo } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

interface TokenRow {
  id: string;
  name: string;
  scopes: string;
  secret_sha256: Buffer;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

const TOKEN_PATTERN = /^syn_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Writes of last_used_at are coalesced: at most one per token per this many ms. */
const LAST_USED_EVERY_MS = 60_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
/** Compared against when the id is unknown, so a miss costs the same as a hit. */
const DUMMY_HASH = sha256('synapse-no-such-token');

export function parseScopes(value: string | undefined): Scope[] {
  if (value === undefined || value.trim() === '') return [...SCOPES];
  const scopes = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length > 0) {
    throw new InvalidInputError('invalid option', [{ path: 'scope', message: `unknown scope(s) ${bad.join(', ')}; use ${SCOPES.join(', ')}` }]);
  }
  return [...new Set(scopes)] as Scope[];
}

export class TokenStore {
  private readonly db: Database.Database;
  private readonly byId: Database.Statement<[string], TokenRow>;
  private readonly touch: Database.Statement<[string, string]>;
  private readonly lastTouched = new Map<string, number>();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS api_tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      scopes TEXT NOT NULL,
      secret_sha256 BLOB NOT NULL,
      created_at TEXT NOT NULL,
      revoked_at TEXT,
      last_used_at TEXT
    )`);
    this.byId = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?');
    this.touch = this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  }

  create(name: string, scopes: Scope[] = [...SCOPES]): CreatedToken {
    if (!/^[\w.@:-]{1,100}$/.test(name)) {
      throw new InvalidInputError('invalid option', [{ path: 'name', message: 'use 1-100 letters, digits, "_", "-", ".", "@" or ":"' }]);
    }
    if (scopes.length === 0) throw new InvalidInputError('invalid option', [{ path: 'scope', message: 'give at least one scope' }]);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const createdAt = new Date().toISOString();
    this.db
      .prepare('INSERT INTO api_tokens (id, name, scopes, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, scopes.join(','), sha256(secret), createdAt);
    return { id, name, scopes, createdAt, token: `syn_${id}_${secret}` };
  }

  /** Checks a presented bearer token. Never throws on bad input; never logs it. */
  verify(presented: string): TokenCheck {
    const match = TOKEN_PATTERN.exec(presented);
    if (!match) return { ok: false, reason: 'malformed' };
    const [, id, secret] = match as unknown as [string, string, string];
    const row = this.byId.get(id);
    const equal = timingSafeEqual(sha256(secret), row ? row.secret_sha256 : DUMMY_HASH);
    if (!row || !equal) return { ok: false, reason: 'unknown' };
    if (row.revoked_at) return { ok: false, reason: 'revoked' };
    const now = Date.now();
    if (now - (this.lastTouched.get(id) ?? 0) > LAST_USED_EVERY_MS) {
      this.lastTouched.set(id, now);
      try {
        this.touch.run(new Date(now).toISOString(), id);
      } catch {
        // bookkeeping only: a busy database must not refuse a valid token
      }
    }
    return { ok: true, token: toInfo(row) };
  }

  /** Revokes by id (or by the full token). Revoking twice is not an error. */
  revoke(idOrToken: string): TokenInfo {
    const id = TOKEN_PATTERN.exec(idOrToken)?.[1] ?? idOrToken;
    const row = this.byId.get(id);
    if (!row) throw new NotFoundError(`unknown token "${id}"`);
    if (!row.revoked_at) this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?').run(new Date().toISOString(), id);
    return toInfo(this.byId.get(id) as TokenRow);
  }

  list(): TokenInfo[] {
    return this.db.prepare<[], TokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id').all().map(toInfo);
  }

  /** A trivial query, for readiness checks. */
  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  close(): void {
    this.db.close();
  }
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',').filter(Boolean) as Scope[],
    createdAt: row.created_at,
    ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
    ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  };
}

/**
 * API tokens for the gateway, kept hashed in the platform database (table `api_tokens`:
 * SQLite in the data dir by default, Postgres when DATABASE_URL is set, like every other
 * table; migration 003). A token reads `syn_<id>_<secret>`:
 * the id finds the row, the secret is only ever stored as its SHA-256 and compared in
 * constant time. The plain token exists once, in what `create` returns.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Selectable } from 'kysely';
import { openDatabase, type OpenDatabaseOptions, type PlatformDb } from '../platform/db.js';
import type { ApiTokenTable } from '../platform/schema.js';
import { InvalidInputError, NotFoundError } from '../contracts/errors.js';

/**
 * What a token may do. `runs:read` covers reading runs, events and plugins; `codec` lets the
 * Temporal Web UI decode (and encode) payloads through /codec (every run's params and results
 * in clear), so it is given only when asked for. `storages:write` adds storages (POST
 * /v1/storages): where runs read and write files, with the keys to get there; `plugins:publish`
 * uploads plugin releases (POST /v1/releases): code that runs in plugin hosts (to check it) and
 * in workers (its runs), so it is deploying code. Both only when asked for.
 */
export const SCOPES = ['runs:read', 'runs:write', 'codec', 'storages:write', 'plugins:publish'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a token gets when no scope is named. */
export const DEFAULT_SCOPES: readonly Scope[] = ['runs:read', 'runs:write'];

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

type TokenRow = Selectable<ApiTokenTable>;

const TOKEN_PATTERN = /^syn_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Writes of last_used_at are coalesced: at most one per token per this many ms. */
const LAST_USED_EVERY_MS = 60_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
/** The stored hash as bytes: hex text, or bytes in tables the gateway created before migration 003. */
const storedHash = (value: string | Buffer): Buffer => (typeof value === 'string' ? Buffer.from(value, 'hex') : value);
/** Compared against when the id is unknown, so a miss costs the same as a hit. */
const DUMMY_HASH = sha256('synapse-no-such-token');

export function parseScopes(value: string | undefined): Scope[] {
  if (value === undefined || value.trim() === '') return [...DEFAULT_SCOPES];
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length > 0) {
    throw new InvalidInputError('invalid option', [{ path: 'scope', message: `unknown scope(s) ${bad.join(', ')}; use ${SCOPES.join(', ')}` }]);
  }
  return [...new Set(scopes)] as Scope[];
}

export class TokenStore {
  private readonly lastTouched = new Map<string, number>();
  private readonly revokeListeners = new Set<(id: string) => void>();

  constructor(private readonly platform: PlatformDb) {}

  /** Opens the platform database of these options (DATABASE_URL picks Postgres). */
  static async open(options: OpenDatabaseOptions): Promise<TokenStore> {
    return new TokenStore(await openDatabase(options));
  }

  private get db() {
    return this.platform.db;
  }

  private byId(id: string): Promise<TokenRow | undefined> {
    return this.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async create(name: string, scopes: Scope[] = [...DEFAULT_SCOPES]): Promise<CreatedToken> {
    if (!/^[\w.@:-]{1,100}$/.test(name)) {
      throw new InvalidInputError('invalid option', [{ path: 'name', message: 'use 1-100 letters, digits, "_", "-", ".", "@" or ":"' }]);
    }
    if (scopes.length === 0) throw new InvalidInputError('invalid option', [{ path: 'scope', message: 'give at least one scope' }]);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const createdAt = new Date().toISOString();
    await this.db
      .insertInto('api_tokens')
      .values({
        id,
        name,
        scopes: scopes.join(','),
        secret_sha256: sha256(secret).toString('hex'),
        created_at: createdAt,
        revoked_at: null,
        last_used_at: null,
      })
      .execute();
    return { id, name, scopes, createdAt, token: `syn_${id}_${secret}` };
  }

  /** Checks a presented bearer token. Never throws on bad input; never logs it. */
  async verify(presented: string): Promise<TokenCheck> {
    const match = TOKEN_PATTERN.exec(presented);
    if (!match) return { ok: false, reason: 'malformed' };
    const [, id, secret] = match as unknown as [string, string, string];
    const row = await this.byId(id);
    const stored = row ? storedHash(row.secret_sha256) : DUMMY_HASH;
    const equal = stored.length === DUMMY_HASH.length && timingSafeEqual(sha256(secret), stored);
    if (!row || !equal) return { ok: false, reason: 'unknown' };
    if (row.revoked_at) return { ok: false, reason: 'revoked' };
    const now = Date.now();
    if (now - (this.lastTouched.get(id) ?? 0) > LAST_USED_EVERY_MS) {
      this.lastTouched.set(id, now);
      // Bookkeeping only, not awaited: a busy database must not refuse or slow a valid token.
      this.db
        .updateTable('api_tokens')
        .set({ last_used_at: new Date(now).toISOString() })
        .where('id', '=', id)
        .execute()
        .catch(() => {});
    }
    return { ok: true, token: toInfo(row) };
  }

  /** Revokes by id (or by the full token). Revoking twice is not an error. */
  async revoke(idOrToken: string): Promise<TokenInfo> {
    const id = TOKEN_PATTERN.exec(idOrToken)?.[1] ?? idOrToken;
    const row = await this.byId(id);
    if (!row) throw new NotFoundError(`unknown token "${id}"`);
    if (row.revoked_at) return toInfo(row);
    const revokedAt = new Date().toISOString();
    await this.db.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    for (const listener of this.revokeListeners) listener(id);
    return toInfo({ ...row, revoked_at: revokedAt });
  }

  /**
   * Of these token ids, those that can no longer authenticate: revoked, or gone from the table.
   * One query, for the gateway's watch over open event streams (gateway/revocation.ts).
   */
  async revokedAmong(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'revoked_at'])
      .where('id', 'in', [...ids])
      .execute();
    const active = new Set(rows.filter((r) => !r.revoked_at).map((r) => r.id));
    return new Set(ids.filter((id) => !active.has(id)));
  }

  /** Called with the token id whenever `revoke` (in this process) revokes one. Returns the unsubscribe. */
  onRevoke(listener: (id: string) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toInfo);
  }

  /** A trivial query, for readiness checks. */
  async ping(): Promise<void> {
    await this.db.selectFrom('api_tokens').select('id').limit(1).execute();
  }

  close(): Promise<void> {
    return this.platform.close();
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

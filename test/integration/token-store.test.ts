/**
 * Gateway API tokens on both platform databases: SQLite in the data dir and a real
 * PostgreSQL (DATABASE_URL). Only the hash is stored, revocation holds, and `synapse token`
 * uses the database DATABASE_URL names. A data dir whose api_tokens table the gateway made
 * before the migration (secret hash as bytes) keeps working.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TokenStore } from '../../gateway/token-store.js';
import { sqliteFile } from '../../platform/db.js';
import { runCli, testSettings } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';

const variants = [
  { name: 'sqlite', url: async () => '' },
  {
    name: 'postgres',
    url: async () => {
      const server = inject('postgresUrl');
      if (!server) throw new Error(`PostgreSQL is not running for the tests: ${inject('postgresError')}`);
      return createDatabase(server, `tokens_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`);
    },
  },
] as const;

describe.each(variants)('API tokens on $name', (variant) => {
  let url: string;
  let dataDir: string;
  let tokens: TokenStore;

  beforeAll(async () => {
    url = await variant.url();
    dataDir = mkdtempSync(path.join(os.tmpdir(), `synapse-tokens-${variant.name}-`));
    tokens = await TokenStore.open({ dataDir, url });
  });
  afterAll(async () => {
    await tokens?.close();
  });

  it('verifies a token, refuses a wrong secret, and stores only the hash', async () => {
    const created = await tokens.create('ci', ['runs:read']);
    const check = await tokens.verify(created.token);
    expect(check).toMatchObject({ ok: true, token: { id: created.id, name: 'ci', scopes: ['runs:read'] } });
    const forged = created.token.slice(0, -1) + (created.token.endsWith('A') ? 'B' : 'A');
    expect(await tokens.verify(forged)).toEqual({ ok: false, reason: 'unknown' });
    expect(await tokens.verify('syn_nope')).toEqual({ ok: false, reason: 'malformed' });

    const listed = await tokens.list();
    expect(listed.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.token.slice(-43));
  });

  it('refuses a revoked token, and revoking twice is not an error', async () => {
    const created = await tokens.create('temp');
    const revoked = await tokens.revoke(created.id);
    expect(revoked.revokedAt).toBeDefined();
    expect(await tokens.verify(created.token)).toEqual({ ok: false, reason: 'revoked' });
    expect((await tokens.revoke(created.token)).revokedAt).toBe(revoked.revokedAt);
    await expect(tokens.revoke('0000000000000000')).rejects.toThrow(/unknown token "0000000000000000"/);
  });

  it('`synapse token create` and `token list` use the database DATABASE_URL names', async () => {
    const settings = { ...testSettings(`tokens-${variant.name}`), dataDir };
    const env = { SYNAPSE_DATA_DIR: dataDir, DATABASE_URL: url };
    const created = await runCli(['token', 'create', '--name', 'from-cli', '--json'], settings, env);
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    expect((await tokens.verify(token)).ok).toBe(true);
    const list = await runCli(['token', 'list'], settings, env);
    expect(list.stdout).toContain('from-cli');
    expect(list.stdout).not.toContain(token.slice(-43));
  });
});

it('a token made before the tokens migration (hash stored as bytes) still verifies', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-tokens-legacy-'));
  const secret = 'a'.repeat(43);
  const legacy = new Database(sqliteFile(dataDir));
  legacy.exec(`CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)`);
  legacy
    .prepare('INSERT INTO api_tokens (id, name, scopes, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)')
    .run('0123456789abcdef', 'old', 'runs:read', createHash('sha256').update(secret).digest(), new Date().toISOString());
  legacy.close();
  const tokens = await TokenStore.open({ dataDir, url: '' });
  try {
    expect(await tokens.verify(`syn_0123456789abcdef_${secret}`)).toMatchObject({ ok: true, token: { name: 'old' } });
    expect(await tokens.verify(`syn_0123456789abcdef_${'b'.repeat(43)}`)).toEqual({ ok: false, reason: 'unknown' });
  } finally {
    await tokens.close();
  }
});

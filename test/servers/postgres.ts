/**
 * A real PostgreSQL server for the tests: a fresh cluster in a temp dir on a free port,
 * through scripts/postgres-server.sh (the same script a developer uses).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/postgres-server.sh', import.meta.url));

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/synapse */
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-postgres-'));
  // As root the server runs as `postgres`, which must be able to reach its data dir.
  chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  let out: { stdout: string; stderr: string };
  try {
    out = await run('bash', [SCRIPT, 'start', dataDir], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`could not start PostgreSQL: ${e.stderr?.trim() || e.message}`);
  }
  const url = out.stdout.trim().split('\n').at(-1) ?? '';
  await waitUntilReady(url);
  return {
    url,
    async stop() {
      await run('bash', [SCRIPT, 'stop', dataDir]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${url} is not ready: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** A new, empty database on the server of `url`; returns its URL. */
export async function createDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

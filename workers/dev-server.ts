/**
 * The embedded Temporal: `temporal server start-dev` with a SQLite file under the data
 * directory, the Web UI, and this project's search attributes registered. Readiness is
 * awaited by polling the server, since a first start on a small machine takes a while.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { ConflictError, UnavailableError } from '../contracts/errors.js';
import { DEFAULT_UI_PORT, devServerInfoFile, readDevServerInfo, type DevServerInfo } from '../client/settings.js';
import { SEARCH_ATTRIBUTES } from '../client/search-attributes.js';
import { findTemporalCli } from './temporal-cli.js';

export interface DevServerOptions {
  dataDir: string;
  /** gRPC port; 0 picks a free one. Default 7233. */
  port?: number;
  /** Web UI port; 0 picks a free one. Default 8233. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** Keep running after this process exits (`server start-dev --detach`). */
  detach?: boolean;
  /** Keep the history in memory instead of the SQLite file (tests). */
  ephemeral?: boolean;
  /** How long to wait for the server to answer. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DevServer extends DevServerInfo {
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the dev server and resolves once it answers on its gRPC port. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => {});
  const running = readDevServerInfo(options.dataDir);
  if (running && (await isServing(running.address))) {
    throw new UnavailableError(`a dev server for ${options.dataDir} is already running at ${running.address} (pid ${running.pid})`);
  }
  const cli = await findTemporalCli(log);
  const port = options.port === 0 ? await freePort() : (options.port ?? 7233);
  const uiPort = options.uiPort === 0 ? await freePort() : (options.uiPort ?? DEFAULT_UI_PORT);
  // A port someone else holds: the new server would fail to bind while the other one
  // answers the readiness check, and this data dir would adopt a server it does not own.
  await assertPortFree(port, 'port');
  if (!options.headless) await assertPortFree(uiPort, 'ui-port');
  const dir = path.join(options.dataDir, 'temporal');
  mkdirSync(dir, { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(await freePort())];
  args.push('--metrics-port', String(await freePort()));
  if (!options.ephemeral) args.push('--db-filename', path.join(dir, 'dev.sqlite'));
  if (options.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  args.push('--log-level', 'error');

  const logFile = path.join(dir, 'dev-server.log');
  const out = openSync(logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', out, out], detached: Boolean(options.detach) });
  const address = `127.0.0.1:${port}`;
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (!(await isServing(address))) {
    if (exited !== undefined) throw new UnavailableError(`the Temporal dev server exited with code ${exited}; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UnavailableError(`the Temporal dev server did not answer on ${address} in time; see ${logFile}`);
    }
    await sleep(250);
  }
  // Answered, but by whom: a server of ours that exited did not bind the port.
  await sleep(100);
  if (exited !== undefined) throw new UnavailableError(`the Temporal dev server exited with code ${exited}; see ${logFile}`);
  const info: DevServerInfo = {
    address,
    uiUrl: options.headless ? '' : `http://127.0.0.1:${uiPort}`,
    pid: child.pid as number,
    namespace: 'default',
  };
  if (!options.ephemeral) writeFileSync(devServerInfoFile(options.dataDir), JSON.stringify(info, null, 2));
  if (options.detach) child.unref();
  return {
    ...info,
    child,
    stop: async () => {
      if (exited === undefined) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, sleep(10_000).then(() => child.kill('SIGKILL'))]);
      }
      if (!options.ephemeral) rmSync(devServerInfoFile(options.dataDir), { force: true });
    },
  };
}

/**
 * Throws a ConflictError (exit 5) naming the port, its flag and who holds it (another
 * Temporal server, or something else) when 127.0.0.1:`port` cannot be bound.
 */
export async function assertPortFree(port: number, flag: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  if (free) return;
  const holder = (await isServing(`127.0.0.1:${port}`)) ? 'another Temporal server answers there' : 'another program listens there';
  throw new ConflictError(`port ${port} is in use (${holder}): not starting a dev server on it; stop that one, or choose another port with --${flag}`);
}

/** Stops a dev server started with `--detach` for this data dir. */
export async function stopDetachedDevServer(dataDir: string): Promise<DevServerInfo | undefined> {
  const info = readDevServerInfo(dataDir);
  if (!info) return undefined;
  try {
    process.kill(info.pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      process.kill(info.pid, 0);
      await sleep(100);
    }
    process.kill(info.pid, 'SIGKILL');
  } catch {
    // gone
  }
  rmSync(devServerInfoFile(dataDir), { force: true });
  return info;
}

/** True when a Temporal frontend answers at `address`. */
export async function isServing(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '1s' });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

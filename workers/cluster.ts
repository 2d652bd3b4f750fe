/**
 * A real Temporal cluster on PostgreSQL, on this machine: what production runs, without Docker.
 * `temporal server start-dev` keeps everything in one process on SQLite; a cluster is four
 * services (frontend, history, matching, worker), each a separate `temporal-server` process that
 * can die and come back on its own, over a PostgreSQL that outlives them all. The production
 * test suite (test/production/) kills the history service mid-run against exactly this.
 *
 * From nothing, `startCluster`:
 *   1. uses the PostgreSQL at `databaseUrl`, or starts ours (scripts/postgres-server.sh) under the
 *      cluster folder;
 *   2. creates the `temporal` and `temporal_visibility` databases when missing and applies the
 *      schemas that ship with the server module with its SQL tool (setup-schema -v 0.0, then
 *      update-schema: both idempotent, so a restart or a newer server upgrades in place);
 *   3. writes the server config (`config/cluster.yaml`) and dynamic config under the folder;
 *   4. starts the four services as separate detached processes on loopback ports, logs in
 *      `logs/<service>.log`, pids in `cluster.json`;
 *   5. waits until each answers (frontend, history and matching through real frontend calls,
 *      the worker service's port), registers the namespace and the project's search attributes.
 *
 * The binaries are built by scripts/setup.sh (`go install go.temporal.io/server/cmd/server@v1.29.1`
 * and `.../cmd/tools/sql@v1.29.1`); the schemas come from the same module in Go's module cache.
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, accessSync, constants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { InvalidInputError, UnavailableError } from '../contracts/errors.js';
import { SEARCH_ATTRIBUTES } from '../client/search-attributes.js';
import { freePort } from './dev-server.js';

const run = promisify(execFile);

/** The Temporal server release the set-up builds and whose schemas the cluster applies. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

/** The four services, each its own process. */
export const CLUSTER_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/** History shards: fixed for the life of the database (Temporal cannot change it later). */
const HISTORY_SHARDS = 4;

const POSTGRES_SCRIPT = fileURLToPath(new URL('../scripts/postgres-server.sh', import.meta.url));

export interface ClusterOptions {
  /** The cluster's folder: config, logs, cluster.json, and our PostgreSQL's data when we start one. */
  dir: string;
  /**
   * A PostgreSQL to keep Temporal's two databases in, `postgres://user[:password]@host:port/db`
   * (the database part is ignored). Absent: our own, started under `<dir>/postgres`.
   */
  databaseUrl?: string;
  /**
   * The frontend's gRPC port (TEMPORAL_ADDRESS); history, matching and worker take +1, +2, +6 and
   * the membership ports sit 300 below each, like Temporal's own defaults. 0: free ports for all.
   * Default 7233.
   */
  port?: number;
  namespace?: string;
  /** How long to wait for every service to answer (default 180 s). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ServicePorts {
  grpc: number;
  membership: number;
}

/** What `cluster.json` records: enough for `stopCluster`, a restart of one service, and tests. */
export interface ClusterInfo {
  /** host:port of the frontend: TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  dir: string;
  /** The PostgreSQL holding `temporal` and `temporal_visibility`, password removed. */
  database: string;
  /** Set when the cluster started its own PostgreSQL (stopCluster stops it). */
  ownPostgres?: { dataDir: string; port: number };
  ports: Record<ClusterService, ServicePorts>;
  pids: Partial<Record<ClusterService, number>>;
  /** The server binary every service runs. */
  serverBin: string;
}

export function clusterInfoFile(dir: string): string {
  return path.join(dir, 'cluster.json');
}

export function readClusterInfo(dir: string): ClusterInfo | undefined {
  const file = clusterInfoFile(dir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterInfo;
}

function writeClusterInfo(info: ClusterInfo): void {
  writeFileSync(clusterInfoFile(info.dir), JSON.stringify(info, null, 2) + '\n');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goPath(): string | undefined {
  return process.env.GOPATH?.split(path.delimiter)[0] || undefined;
}

/**
 * A Go-built tool of the server module: `$<envVar>`, else `<GOPATH or ~/go>/bin/<name>`. Names as
 * generic as `server` and `sql` are never taken from PATH.
 */
export function findServerTool(name: 'server' | 'sql', envVar: string): string {
  const override = process.env[envVar];
  if (override) {
    if (!isExecutable(override)) throw new UnavailableError(`${envVar}=${override} is not an executable file`);
    return override;
  }
  const dirs = [goPath(), path.join(os.homedir(), 'go')].filter((d): d is string => Boolean(d));
  for (const d of dirs) {
    const file = path.join(d, 'bin', name);
    if (isExecutable(file)) return file;
  }
  const pkg = name === 'server' ? 'cmd/server' : 'cmd/tools/sql';
  throw new UnavailableError(
    `no Temporal ${name === 'server' ? 'server' : 'SQL tool'} binary in ${dirs.map((d) => path.join(d, 'bin')).join(' or ')}: ` +
      `run bash scripts/setup.sh (CGO_ENABLED=0 go install ${TEMPORAL_SERVER_MODULE}/${pkg}@${TEMPORAL_SERVER_VERSION}), or set ${envVar}`,
  );
}

/** `<GOMODCACHE>/go.temporal.io/server@v1.29.1/schema/postgresql/v12`, or TEMPORAL_SCHEMA_DIR. */
export async function findSchemaDir(): Promise<string> {
  const override = process.env.TEMPORAL_SCHEMA_DIR;
  if (override) {
    if (!existsSync(path.join(override, 'temporal', 'versioned')))
      throw new UnavailableError(`TEMPORAL_SCHEMA_DIR=${override} has no temporal/versioned folder`);
    return override;
  }
  let cache = process.env.GOMODCACHE;
  if (!cache) {
    try {
      cache = (await run('go', ['env', 'GOMODCACHE'])).stdout.trim();
    } catch {
      cache = path.join(process.env.GOPATH?.split(path.delimiter)[0] ?? path.join(os.homedir(), 'go'), 'pkg', 'mod');
    }
  }
  const dir = path.join(cache, `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!existsSync(path.join(dir, 'temporal', 'versioned'))) {
    throw new UnavailableError(
      `the Temporal PostgreSQL schemas are not in ${dir}: run go mod download ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} (scripts/setup.sh does), or set TEMPORAL_SCHEMA_DIR`,
    );
  }
  return dir;
}

export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Host, port, user and password of a postgres:// URL; an InvalidInputError naming `database-url` otherwise. */
export function parseDatabaseUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidInputError('invalid option', [{ path: 'database-url', message: 'must be a URL like postgres://user:password@host:5432/postgres' }]);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new InvalidInputError('invalid option', [{ path: 'database-url', message: `must start with postgres://, not ${u.protocol}//` }]);
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
  };
}

function redact(target: PgTarget): string {
  return `postgres://${encodeURIComponent(target.user)}@${target.host}:${target.port}`;
}

/** Ports by the frontend's, as Temporal's defaults lay them out (7233 -> 7234, 7235, 7239). */
async function layOutPorts(port: number): Promise<Record<ClusterService, ServicePorts>> {
  if (port === 0) {
    const taken = new Set<number>();
    const out = {} as Record<ClusterService, ServicePorts>;
    for (const s of CLUSTER_SERVICES) out[s] = { grpc: await freeLowPort(taken), membership: await freeLowPort(taken) };
    return out;
  }
  const offset: Record<ClusterService, number> = { frontend: 0, history: 1, matching: 2, worker: 6 };
  const out = {} as Record<ClusterService, ServicePorts>;
  for (const s of CLUSTER_SERVICES) out[s] = { grpc: port + offset[s], membership: port + offset[s] - 300 };
  return out;
}

/**
 * A free port below 32768: Temporal keeps membership ports in a PostgreSQL smallint, and the
 * kernel's ephemeral range (where port 0 lands) starts above it, so nothing borrows it meanwhile.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port) || !(await portFree(port))) continue;
    taken.add(port);
    return port;
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Quotes a string for YAML (JSON strings are valid YAML). */
const q = (s: string) => JSON.stringify(s);

/** The static server config every service reads (`--env cluster`). */
export function serverConfigYaml(info: { ports: Record<ClusterService, ServicePorts>; db: PgTarget; dir: string }): string {
  const { ports, db } = info;
  const datastore = (database: string, maxConns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: ${q(database)}
        connectAddr: ${q(`${db.host}:${db.port}`)}
        connectProtocol: "tcp"
        user: ${q(db.user)}
        password: ${q(db.password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (s: ClusterService) => `  ${s}:
    rpc:
      grpcPort: ${ports[s].grpc}
      membershipPort: ${ports[s].membership}
      bindOnIP: "127.0.0.1"`;
  return `# Written by synapse server start-cluster (workers/cluster.ts); rewritten on every start.
log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${HISTORY_SHARDS}
  datastores:
    postgres-default:
${datastore('temporal', 20)}
    postgres-visibility:
${datastore('temporal_visibility', 5)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
${CLUSTER_SERVICES.map(service).join('\n')}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: ${q(`127.0.0.1:${ports.frontend.grpc}`)}

dcRedirectionPolicy:
  policy: "noop"

publicClient:
  hostPort: ${q(`127.0.0.1:${ports.frontend.grpc}`)}

dynamicConfigClient:
  filepath: ${q(path.join(info.dir, 'config', 'dynamicconfig.yaml'))}
  pollInterval: "10s"
`;
}

/**
 * Dynamic config: worker deployment versions on (docs/production.md, safe deploys), search
 * attributes visible at once after they are added, updates (deployment scale) on.
 */
export const DYNAMIC_CONFIG_YAML = `# Written by synapse server start-cluster (workers/cluster.ts).
limit.maxIDLength:
  - value: 255
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.workerVersioningWorkflowAPIs:
  - value: true
frontend.workerVersioningDataAPIs:
  - value: true
system.enableDeploymentVersions:
  - value: true
system.enableDeployments:
  - value: true
`;

/** Creates `temporal` and `temporal_visibility` when missing and brings their schemas up to date. */
async function prepareDatabases(db: PgTarget, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  try {
    await client.connect();
  } catch (err) {
    throw new UnavailableError(`cannot connect to PostgreSQL at ${redact(db)}: ${(err as Error).message}`);
  }
  try {
    for (const name of ['temporal', 'temporal_visibility']) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE ${name}`);
        log(`created database ${name}`);
      }
    }
  } finally {
    await client.end().catch(() => {});
  }
  const sql = findServerTool('sql', 'TEMPORAL_SQL_TOOL_PATH');
  const schemas = await findSchemaDir();
  const base = ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user];
  const env = { ...process.env, SQL_PASSWORD: db.password };
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    const args = [...base, '--db', database];
    try {
      await run(sql, [...args, 'setup-schema', '-v', '0.0'], { env });
      await run(sql, [...args, 'update-schema', '-d', path.join(schemas, schema, 'versioned')], { env });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new UnavailableError(
        `applying the ${schema} schema to ${database} failed: ${(e.stderr ?? '').trim().split('\n').slice(-5).join('\n') || e.message}`,
      );
    }
  }
  log(`schemas of temporal and temporal_visibility are up to date (${TEMPORAL_SERVER_VERSION})`);
}

/** Starts one service as a detached process and records its pid; the others are untouched. */
export function startClusterService(dir: string, service: ClusterService): number {
  const info = readClusterInfo(dir);
  if (!info) throw new UnavailableError(`no cluster in ${dir} (no cluster.json): start it with synapse server start-cluster`);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const out = openSync(path.join(dir, 'logs', `${service}.log`), 'a');
  const child = spawn(info.serverBin, ['--root', dir, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start', '--service', service], {
    stdio: ['ignore', out, out],
    detached: true,
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new UnavailableError(`could not start the ${service} service (${info.serverBin})`);
  info.pids[service] = pid;
  writeClusterInfo(info);
  return pid;
}

/** Sends `signal` to one service's process (SIGKILL: a crash). Returns its pid, or undefined when it was not running. */
export function signalClusterService(dir: string, service: ClusterService, signal: NodeJS.Signals = 'SIGTERM'): number | undefined {
  const pid = readClusterInfo(dir)?.pids[service];
  if (!pid) return undefined;
  try {
    process.kill(pid, signal);
    return pid;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` has exited (SIGKILL after `graceMs`). */
async function waitExit(pid: number, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    while (alive(pid)) await sleep(50);
  }
}

/** Stops one service and waits for its process to exit. */
export async function stopClusterService(dir: string, service: ClusterService, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pid = signalClusterService(dir, service, signal);
  if (pid) await waitExit(pid, 15_000);
}

/**
 * Waits until the cluster serves: every service's gRPC port answers, the frontend answers, and a
 * history read and a matching read go through it (NotFound is an answer; Unavailable is not).
 */
export async function waitClusterReady(info: ClusterInfo, timeoutMs = 180_000, log: (line: string) => void = () => {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const late = (what: string) => {
    const dead = CLUSTER_SERVICES.filter((s) => !alive(info.pids[s]));
    const why = dead.length ? `; exited: ${dead.join(', ')} (see ${path.join(info.dir, 'logs')}/<service>.log)` : '';
    return new UnavailableError(`the Temporal cluster in ${info.dir}: ${what} not ready in time${why}`);
  };
  for (const s of CLUSTER_SERVICES) {
    // The worker service serves no gRPC: its membership (ringpop) port is how it answers.
    const port = s === 'worker' ? info.ports[s].membership : info.ports[s].grpc;
    while (!(await portAnswers(port))) {
      if (!alive(info.pids[s])) throw new UnavailableError(`the ${s} service exited; see ${path.join(info.dir, 'logs', `${s}.log`)}`);
      if (Date.now() > deadline) throw late(`the ${s} service`);
      await sleep(250);
    }
  }
  let connection: Connection | undefined;
  while (!connection) {
    try {
      connection = await Connection.connect({ address: info.address, connectTimeout: '2s' });
    } catch {
      if (Date.now() > deadline) throw late('the frontend');
      await sleep(250);
    }
  }
  try {
    await ensureNamespace(connection, info.namespace, deadline, log);
    // History: a workflow that does not exist is NotFound from the history service itself.
    for (;;) {
      const err = await connection.workflowService
        .getWorkflowExecutionHistory({ namespace: info.namespace, execution: { workflowId: 'synapse-cluster-probe', runId: '' } })
        .then(
          () => undefined,
          (e: unknown) => e as { code?: number },
        );
      if (!err || err.code === 5 /* NOT_FOUND */) break;
      if (Date.now() > deadline) throw late('the history service');
      await sleep(500);
    }
    for (;;) {
      const ok = await connection.workflowService
        .describeTaskQueue({ namespace: info.namespace, taskQueue: { name: 'synapse-cluster-probe' }, taskQueueType: 1 })
        .then(
          () => true,
          () => false,
        );
      if (ok) break;
      if (Date.now() > deadline) throw late('the matching service');
      await sleep(500);
    }
    await ensureClusterSearchAttributes(connection, info.namespace, deadline, log);
  } finally {
    await connection.close().catch(() => {});
  }
}

async function ensureNamespace(connection: Connection, namespace: string, deadline: number, log: (line: string) => void): Promise<void> {
  for (;;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 5 /* NOT_FOUND */) {
        try {
          await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
          log(`registered namespace ${namespace} (retention 3 days)`);
        } catch (e) {
          if ((e as { code?: number }).code !== 6 /* ALREADY_EXISTS */ && Date.now() > deadline) throw e;
        }
      } else if (Date.now() > deadline) {
        throw new UnavailableError(`namespace ${namespace} is not available: ${(err as Error).message}`);
      }
      await sleep(500);
    }
  }
}

async function ensureClusterSearchAttributes(connection: Connection, namespace: string, deadline: number, log: (line: string) => void): Promise<void> {
  for (;;) {
    try {
      const existing = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
      if (missing.length === 0) return;
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
      });
      log(`registered search attributes: ${missing.map((k) => k.name).join(', ')}`);
    } catch (err) {
      if (Date.now() > deadline) throw new UnavailableError(`could not register the search attributes: ${(err as Error).message}`);
      await sleep(500);
    }
  }
}

/** Starts the cluster (see the file header). A cluster already running in `dir` is an error. */
export async function startCluster(options: ClusterOptions): Promise<ClusterInfo> {
  const log = options.log ?? (() => {});
  mkdirSync(options.dir, { recursive: true });
  const dir = path.resolve(options.dir);
  const previous = readClusterInfo(dir);
  if (previous && CLUSTER_SERVICES.some((s) => alive(previous.pids[s]))) {
    throw new UnavailableError(`a Temporal cluster is already running from ${dir} at ${previous.address}; stop it with synapse server stop-cluster`);
  }
  const serverBin = findServerTool('server', 'TEMPORAL_SERVER_PATH');
  const ports = await layOutPorts(options.port ?? 7233);
  for (const s of CLUSTER_SERVICES) {
    for (const p of [ports[s].grpc, ports[s].membership]) {
      if (!(await portFree(p))) {
        throw new UnavailableError(`port ${p} (the ${s} service) is in use: stop what holds it, or choose another frontend port with --port`);
      }
    }
  }

  let db: PgTarget;
  let ownPostgres: ClusterInfo['ownPostgres'];
  if (options.databaseUrl) {
    db = parseDatabaseUrl(options.databaseUrl);
  } else {
    const pgDir = path.join(dir, 'postgres');
    const pgPort = previous?.ownPostgres?.port ?? (await freePort());
    log(`starting PostgreSQL in ${pgDir} on port ${pgPort}...`);
    try {
      const out = await run('bash', [POSTGRES_SCRIPT, 'start', pgDir, String(pgPort)], { timeout: 600_000 });
      db = parseDatabaseUrl(out.stdout.trim().split('\n').at(-1) ?? '');
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new UnavailableError(`could not start PostgreSQL: ${e.stderr?.trim() || e.message}`);
    }
    ownPostgres = { dataDir: pgDir, port: pgPort };
  }
  await prepareDatabases(db, log);

  mkdirSync(path.join(dir, 'config'), { recursive: true });
  writeFileSync(path.join(dir, 'config', 'cluster.yaml'), serverConfigYaml({ ports, db, dir }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'config', 'dynamicconfig.yaml'), DYNAMIC_CONFIG_YAML);
  const info: ClusterInfo = {
    address: `127.0.0.1:${ports.frontend.grpc}`,
    namespace: options.namespace ?? 'default',
    dir,
    database: redact(db),
    ...(ownPostgres ? { ownPostgres } : {}),
    ports,
    pids: {},
    serverBin,
  };
  writeClusterInfo(info);
  // History first, alone until it serves: on a fresh database each service writes the cluster
  // metadata record at start-up, and started together one of them loses that race and exits.
  try {
    startClusterService(dir, 'history');
    const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
    while (!(await portAnswers(ports.history.grpc))) {
      if (!alive(readClusterInfo(dir)?.pids.history)) throw new UnavailableError(`the history service exited; see ${path.join(dir, 'logs', 'history.log')}`);
      if (Date.now() > deadline) throw new UnavailableError(`the history service did not answer in time; see ${path.join(dir, 'logs', 'history.log')}`);
      await sleep(250);
    }
    for (const s of ['matching', 'frontend', 'worker'] as const) startClusterService(dir, s);
  } catch (err) {
    await stopCluster(dir);
    throw err;
  }
  const started = readClusterInfo(dir) as ClusterInfo;
  log(`started frontend, history, matching and worker services (logs in ${path.join(dir, 'logs')})`);
  try {
    await waitClusterReady(started, options.readyTimeoutMs ?? 180_000, log);
  } catch (err) {
    await stopCluster(dir);
    throw err;
  }
  return started;
}

/** Stops the services (and our PostgreSQL, when the cluster started it). Returns what was running, or undefined. */
export async function stopCluster(dir: string): Promise<ClusterInfo | undefined> {
  const info = readClusterInfo(path.resolve(dir));
  if (!info) return undefined;
  await Promise.all(CLUSTER_SERVICES.map((s) => stopClusterService(info.dir, s)));
  if (info.ownPostgres) await run('bash', [POSTGRES_SCRIPT, 'stop', info.ownPostgres.dataDir]).catch(() => {});
  const after = readClusterInfo(info.dir);
  if (after) {
    after.pids = {};
    writeClusterInfo(after);
  }
  return info;
}

/**
 * `synapse worker`: serves the task queues (one per method), runs workflows and the
 * activities that run plugin code. The process opens one platform database (one pool on
 * Postgres) and builds the activities once: every queue's steps and the run store share
 * them. Stops gracefully on SIGINT/SIGTERM: polling stops,
 * running steps get `shutdownGraceMs` to finish, then they are cancelled and retried
 * elsewhere from their last checkpoint.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { connectClient, connectNative, dataConverterFor, ensureSearchAttributes } from '../client/temporal.js';
import { DEFAULT_RESOURCE_CLASS, taskQueueFor, type Settings } from '../client/settings.js';
import { platformAccess } from '../activities/platform-access.js';
import { openDatabase } from '../platform/db.js';
import { KyselyRunStore } from '../platform/kysely-run-store.js';
import type { Method } from '../sdk/categories.js';
import { useReleases } from '../engine/plugin-releases.js';
import { deploymentOptions, makeVersionCurrent, type WorkerDeployment } from './versioning.js';

const WORKFLOWS_DIR = fileURLToPath(new URL('../workflows/', import.meta.url));
/** Workflow code imports these rooms too: the bundle's hash covers them. */
const BUNDLED_DIRS = [WORKFLOWS_DIR, fileURLToPath(new URL('../contracts/', import.meta.url))];

export interface WorkerOptions {
  settings: Settings;
  /** Methods whose task queues this worker serves (default: all). */
  methods?: Method[];
  /** Plugin steps run at once per task queue. */
  maxConcurrentActivities?: number;
  /** How long running steps may take to finish after a stop is asked for. */
  shutdownGraceMs?: number;
  log?: (line: string) => void;
  /** Called once every task queue is polled. */
  onReady?: () => void;
  /** Aborting it stops the worker gracefully, like SIGINT does. */
  signal?: AbortSignal;
  /**
   * The longest a step's heartbeat is held back (default HEARTBEAT_THROTTLE_MS); `null` leaves
   * the SDK's own (0.8 x the heartbeat timeout, at most 60 s): bench/cancel-latency.ts compares them.
   */
  heartbeatThrottleMs?: number | null;
  /** Postgres: the most connections the worker's one database pool opens (default 10). */
  databasePoolSize?: number;
  /** Worker versioning (workers/versioning.ts): runs stay pinned to the version they started on. */
  deployment?: WorkerDeployment;
  /**
   * The resource class it serves (default `cpu`): the task queues of the plugins whose
   * config.yaml says `resource_class: <class>` (client/settings.ts taskQueueFor).
   */
  resourceClass?: string;
}

/**
 * The longest a step's heartbeat waits before it goes to the server, whatever the heartbeat
 * timeout: the bound on how late a cancel reaches plugin code (bench/cancel-latency.ts).
 */
export const HEARTBEAT_THROTTLE_MS = 1000;

/** The `application_name` of a worker's Postgres connections, as pg_stat_activity shows them. */
export const WORKER_APPLICATION_NAME = 'synapse-worker';

/** A worker running in this process (see `startWorker`). */
export interface RunningWorker {
  /** Settles when the worker has stopped; rejects when it failed. */
  done: Promise<void>;
  /** Stops it gracefully (running steps get the grace period) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Runs a worker in this process and resolves once every task queue is polled (rejects when it
 * fails before that): the demo, the benches and the tests start their workers this way.
 */
export async function startWorker(options: Omit<WorkerOptions, 'signal' | 'onReady'>): Promise<RunningWorker> {
  const abort = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const done = runWorker({ ...options, signal: abort.signal, onReady: ready });
  await Promise.race([isReady, done]);
  return {
    done,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

let runtimeInstalled = false;

export async function runWorker(options: WorkerOptions): Promise<void> {
  const { settings } = options;
  const log = options.log ?? (() => {});
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: quietLogger(log) });
  }
  const client = await connectClient(settings);
  await ensureSearchAttributes(client, log);
  await client.connection.close();
  // <data dir>/synapse.db, or Postgres when DATABASE_URL is set: one pool for the process.
  const database = await openDatabase({
    dataDir: settings.dataDir,
    applicationName: WORKER_APPLICATION_NAME,
    ...(options.databasePoolSize !== undefined ? { poolSize: options.databasePoolSize } : {}),
  });
  let connection: NativeConnection | undefined;
  try {
    const store = new KyselyRunStore(database, false);
    // Built once: every task queue's worker runs the same activities over the same pool.
    const activities = createActivities({ store, platform: platformAccess(database.db, settings.dataDir), dataDir: settings.dataDir });
    // A run naming code@version that no plugin folder here holds runs its published release.
    useReleases({ dataDir: settings.dataDir });
    connection = await connectNative(settings);
    const workflowBundle = await cachedWorkflowBundle(settings.dataDir);
    const methods = options.methods ?? (['job', 'task', 'restapi'] as Method[]);
    const resourceClass = options.resourceClass ?? DEFAULT_RESOURCE_CLASS;
    const workers = await Promise.all(
      methods.map((method) =>
        Worker.create({
          connection,
          namespace: settings.temporal.namespace,
          taskQueue: taskQueueFor(settings, method, resourceClass),
          // Shown in each task's history event: which process (and class) ran it.
          identity: `${process.pid}@${os.hostname()}/${resourceClass}`,
          // Payloads encrypted with the codec key, as every client sends them (client/codec.ts).
          dataConverter: dataConverterFor(settings),
          workflowBundle,
          activities,
          ...(options.deployment ? { workerDeploymentOptions: deploymentOptions(options.deployment, workflowBundle.hash) } : {}),
          maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? (method === 'job' ? 4 : 16),
          shutdownGraceTime: options.shutdownGraceMs ?? 10_000,
          // A cancel reaches a step only in the answer to a heartbeat, and the SDK holds
          // heartbeats back for 0.8 x the heartbeat timeout by default (24 s at 30 s): send
          // them at most this far apart instead, so ctx.signal fires within about a second.
          ...(options.heartbeatThrottleMs === null
            ? {}
            : {
                maxHeartbeatThrottleInterval: options.heartbeatThrottleMs ?? HEARTBEAT_THROTTLE_MS,
                defaultHeartbeatThrottleInterval: options.heartbeatThrottleMs ?? HEARTBEAT_THROTTLE_MS,
              }),
        }),
      ),
    );
    log(`worker (class ${resourceClass}) polling ${methods.map((m) => taskQueueFor(settings, m, resourceClass)).join(', ')} on ${settings.temporal.address}`);
    const running = Promise.all(workers.map((w) => w.run()));
    const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.deployment) {
      const buildId = options.deployment.buildId ?? workflowBundle.hash;
      log(`worker deployment ${options.deployment.name}, build ${buildId} (runs pinned to the version they start on)`);
      if (options.deployment.makeCurrent) {
        const versioned = await connectClient(settings);
        try {
          await makeVersionCurrent(versioned, options.deployment.name, buildId);
        } finally {
          await versioned.connection.close();
        }
        log(`build ${buildId} is now the current version of ${options.deployment.name}: new runs start on it`);
      }
    }
    options.onReady?.();
    await running;
  } finally {
    await connection?.close();
    await database.close();
  }
}

/**
 * How the workflow code is bundled. `preloadModules`: our workflow modules (workflows/ and the
 * contracts they import) are evaluated once per worker thread and shared by every workflow,
 * instead of once per new workflow, which is what the reusable V8 context does with modules it
 * has not preloaded: ~1.5 ms of every run's first workflow task (bench/run-overhead.ts). It is
 * safe because these modules keep no state at module level (no `let`, no caches; constants
 * only, which the SDK deep-freezes): every run's state lives in its workflow function's scope.
 */
const WORKFLOWS_PATH = path.join(WORKFLOWS_DIR, 'index.ts');
const BUNDLE_OPTIONS = { workflowsPath: WORKFLOWS_PATH, preloadModules: [WORKFLOWS_PATH] };

/**
 * Bundling workflow code with webpack takes seconds; the bundle is kept under the data dir,
 * keyed by a hash of the workflow sources and the SDK version, and rebuilt when they change.
 */
export async function cachedWorkflowBundle(dataDir: string): Promise<{ code: string; hash: string }> {
  const hash = createHash('sha256');
  const sdkPkg = fileURLToPath(import.meta.resolve('@temporalio/workflow/package.json'));
  hash.update(readFileSync(sdkPkg)).update(`preloadModules:${BUNDLE_OPTIONS.preloadModules.map((m) => path.relative(WORKFLOWS_DIR, m)).join(',')}`);
  for (const dir of BUNDLED_DIRS) {
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      hash.update(path.join(path.basename(dir), file)).update(readFileSync(path.join(dir, file)));
    }
  }
  const dir = path.join(dataDir, 'cache');
  const digest = hash.digest('hex').slice(0, 16);
  const file = path.join(dir, `workflow-bundle-${digest}.js`);
  if (existsSync(file)) return { code: readFileSync(file, 'utf8'), hash: digest };
  const { code } = await bundleWorkflowCode({ ...BUNDLE_OPTIONS, logger: quietLogger(() => {}) });
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp`, code);
  renameSync(`${file}.tmp`, file);
  return { code, hash: digest };
}

/** The SDK logs a lot at INFO; keep warnings and errors, routed to our log. */
function quietLogger(log: (line: string) => void) {
  const emit = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    log(`[${level}] ${message}${meta && Object.keys(meta).length ? ' ' + JSON.stringify(meta) : ''}`);
  const none = () => {};
  return {
    log: (level: string, message: string, meta?: Record<string, unknown>) =>
      level === 'WARN' || level === 'ERROR' ? emit(level.toLowerCase())(message, meta) : undefined,
    trace: none,
    debug: none,
    info: none,
    warn: emit('warn'),
    error: emit('error'),
  };
}

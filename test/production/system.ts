/**
 * One test file's slice of the production topology: its own platform database on the shared
 * PostgreSQL (DATABASE_URL), its own bucket on the S3 server as the `default` storage (so every
 * file any step writes is visible to every worker), its own task queues on the shared cluster,
 * and worker processes that each have their OWN data dir, as separate machines would. Nothing a
 * later step needs may live only on one worker's disk: these tests are where that shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { RunsClient } from '../../client/runs.js';
import { loadSettings, type Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import { createStorage } from '../../platform/repositories/storages.js';
import { openStorage, type S3Storage, type StorageConfig } from '../../storage/index.js';
import { SYNAPSE_BIN } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';

export interface WorkerProcess {
  /** w1, w2, ... */
  name: string;
  child: ChildProcess;
  /** Its own data dir: nothing in it is shared with the other workers. */
  dataDir: string;
  /** How Temporal's records name it: identities start `pid@host` (a suffix may follow, e.g. `/cpu`). */
  identity: string;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL (a crash) and wait until it has exited. */
  kill(): Promise<void>;
}

export interface ProductionSystem {
  /** The test process's settings (its own data dir, holding nothing the workers read). */
  settings: Settings;
  databaseUrl: string;
  bucket: string;
  storageConfig: StorageConfig;
  runs: RunsClient;
  workers: WorkerProcess[];
  /** Starts `synapse worker ...args` with a fresh data dir and waits until it polls. */
  spawnWorker(args?: string[]): Promise<WorkerProcess>;
  /** The bucket, through the project's S3 provider. */
  bucketStorage(): S3Storage;
  /** Which worker an identity from Temporal's history belongs to. */
  workerOf(identity: string | null | undefined): WorkerProcess | undefined;
  close(): Promise<void>;
}

/** Sets a file's system up: database, bucket, `default` storage on it, a runs client. Workers come from spawnWorker. */
export async function productionSystem(name: string): Promise<ProductionSystem> {
  const tag = `${name}-${Math.random().toString(36).slice(2, 7)}`;
  const databaseUrl = await createDatabase(inject('postgresUrl'), `prod_${tag.replace(/-/g, '_')}`);
  const bucket = `prod-${tag}`;
  // The test process opens the same database and storage as the workers do.
  process.env.DATABASE_URL = databaseUrl;
  process.env.AWS_ACCESS_KEY_ID = inject('s3AccessKeyId');
  process.env.AWS_SECRET_ACCESS_KEY = inject('s3SecretAccessKey');
  const settings = loadSettings({
    dataDir: mkdtempSync(path.join(os.tmpdir(), `synapse-prod-${name}-client-`)),
    temporalAddress: inject('temporalAddress'),
    taskQueuePrefix: `prod-${tag}`,
  });
  const storageConfig: StorageConfig = {
    provider: 's3',
    bucket,
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { source: 'env' },
  };
  const bucketStorage = () => openStorage(storageConfig, { dataDir: settings.dataDir, name: 'default' }) as S3Storage;
  const s3 = bucketStorage();
  await s3.ensureBucket();
  await s3.close?.();
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    await createStorage(platform.db, { name: 'default', config: storageConfig });
  } finally {
    await platform.close();
  }
  const runs = await RunsClient.connect(settings);
  const workers: WorkerProcess[] = [];

  const spawnWorker = async (args: string[] = []): Promise<WorkerProcess> => {
    const wName = `w${workers.length + 1}`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `synapse-prod-${name}-${wName}-`));
    const child = spawn(process.execPath, [SYNAPSE_BIN, 'worker', ...args], {
      env: {
        ...process.env,
        SYNAPSE_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: settings.temporal.address,
        SYNAPSE_TASK_QUEUE_PREFIX: settings.taskQueuePrefix,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('worker ready')) resolve();
      };
      child.stderr!.on('data', onData);
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`worker ${wName} exited with ${code} before it was ready:\n${output}`)));
    });
    const worker: WorkerProcess = {
      name: wName,
      child,
      dataDir,
      identity: `${child.pid}@${os.hostname()}`,
      output: () => output,
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
    };
    workers.push(worker);
    return worker;
  };

  return {
    settings,
    databaseUrl,
    bucket,
    storageConfig,
    runs,
    workers,
    spawnWorker,
    bucketStorage,
    workerOf: (identity) => workers.find((w) => identity === w.identity || identity?.startsWith(`${w.identity}/`)),
    close: async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await runs.close();
    },
  };
}

/**
 * Which worker identity started each activity of a run, in history order, with the activity type
 * and attempt: of its latest execution, or, given the first execution's run id, of every
 * execution from there along its continue-as-new chain.
 */
export async function activityWorkers(
  runs: RunsClient,
  runId: string,
  firstExecutionRunId?: string,
): Promise<{ type: string; identity: string; attempt: number }[]> {
  const out: { type: string; identity: string; attempt: number }[] = [];
  let execution: string | undefined = firstExecutionRunId;
  do {
    const history = await runs.temporal.workflow.getHandle(runId, execution).fetchHistory();
    execution = undefined;
    const scheduled = new Map<string, string>();
    for (const event of history.events ?? []) {
      const s = event.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
      const started = event.activityTaskStartedEventAttributes;
      if (started) out.push({ type: scheduled.get(String(started.scheduledEventId)) ?? '', identity: started.identity ?? '', attempt: started.attempt ?? 0 });
      const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next && firstExecutionRunId) execution = next;
    }
  } while (execution);
  return out;
}

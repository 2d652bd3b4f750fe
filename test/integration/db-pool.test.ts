/**
 * One database pool per worker process. A worker serves three task queues and runs every
 * kind of step, and each step reaches the run store (events, checkpoints, status) and the
 * platform (items, storages, models): if each queue or each category opened its own handle,
 * ten workers on Postgres would hold up to ninety connections. Here a worker runs in this
 * process against a real PostgreSQL with a pool of POOL connections, runs an export (pages
 * four at a time, on the job queue) and a no-op validation (on the task queue) at once, and
 * pg_stat_activity, sampled all along, never shows more of the worker's connections than
 * one pool holds, and shows that one pool in use.
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData } from '../../platform/generate.js';
import { startWorker, type RunningWorker } from '../../workers/worker.js';
import { connectRuns, ROOT, testSettings } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';

/** The worker's pool size: small, so that four pages at once fill it. */
const POOL = 2;
/** What the worker's connections call themselves (workers/worker.ts). */
const WORKER_APP = 'synapse-worker';
const EXPORT_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'export-test');

describe('a worker process on Postgres', () => {
  const settings = testSettings('db-pool');
  let url: string;
  let database: string;
  let previousUrl: string | undefined;
  let worker: RunningWorker | undefined;
  let runs: RunsClient | undefined;
  let counter: pg.Client | undefined;
  let versionId: number;

  beforeAll(async () => {
    const server = inject('postgresUrl');
    if (!server) throw new Error(`PostgreSQL is not running for the tests: ${inject('postgresError')}`);
    database = `pool_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
    url = await createDatabase(server, database);
    // The worker and the client find the database as `synapse worker` does: by DATABASE_URL.
    previousUrl = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url;
    const platform = await openDatabase({ dataDir: settings.dataDir, url });
    try {
      versionId = (await generateSampleData(platform, { count: 80, seed: 3, projectName: 'pool', dataDir: settings.dataDir, images: false })).groundTruth
        .versionId;
    } finally {
      await platform.close();
    }
    counter = new pg.Client({ connectionString: url });
    await counter.connect();
    worker = await startWorker({ settings, databasePoolSize: POOL });
    runs = await connectRuns(settings);
  });

  afterAll(async () => {
    await runs?.close();
    await worker?.stop();
    await counter?.end();
    if (previousUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previousUrl;
  });

  const workerConnections = async (): Promise<number> => {
    const { rows } = await counter!.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [
      database,
      WORKER_APP,
    ]);
    return rows[0]!.n;
  };

  it('holds one pool of connections, not one per queue or category, while an export and two validations run at once', async () => {
    let most = await workerConnections();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await workerConnections());
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      const exportParams = { name: 'pool', storage: 'default', path: 'exports', target: 'ground_truth', filter: { ground_truth_dataset_version: versionId } };
      const started = await Promise.all([
        runs!.start({ plugin: EXPORT_FIXTURE, action: 'export', params: exportParams }),
        runs!.start({ plugin: 'noop', action: 'validation', params: {} }),
        runs!.start({ plugin: 'demo-validation', action: 'validation', params: { count: 40, delayMs: 2 } }),
      ]);
      const finals = await Promise.all(started.map(({ runId }) => runs!.temporal.workflow.getHandle(runId).result() as Promise<RunState>));
      expect(finals.map((f) => f.status)).toEqual(['completed', 'completed', 'completed']);
      expect(finals[0]!.result).toMatchObject({ total: 80, success: 80 });
    } finally {
      sampling = false;
      await sampler;
    }
    // Idle connections stay in the pool for a while: what is left now is what the runs opened.
    most = Math.max(most, await workerConnections());
    expect(most, `the worker held ${most} connections; one pool holds ${POOL}`).toBe(POOL);
  });
});

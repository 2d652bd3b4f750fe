/**
 * No worker-local state (issue 16 item 2): an upload whose steps land on two `synapse worker`
 * processes with separate data dirs (as two machines would have), one PostgreSQL platform
 * database (DATABASE_URL) and one S3 storage. Worker A plans the upload and stores some
 * batches, then stops gracefully; worker B starts and finishes the run: with the plan on A's
 * disk B failed every step ("the upload's plan ... is not on this worker"). Also: a cancelled
 * upload deletes what it stored except what a data unit points at (no orphans); a missing
 * bucket is created when the storage allows it, and named when it does not: in the refusal to
 * start (the client's preflight) and, for a run started anyway, in its first step's error.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { UploadSummary } from '../../activities/upload.js';
import type { RunsClient } from '../../client/runs.js';
import { ParamsError } from '../../contracts/errors.js';
import type { Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import type { RunRecord } from '../../platform/run-store.js';
import { createStorage } from '../../platform/repositories/storages.js';
import { listPlanParts } from '../../platform/repositories/upload-plans.js';
import { openStorage, type S3Storage, type StorageConfig } from '../../storage/index.js';
import { connectRuns, spawnWorker, testSettings, waitFor } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';
import { dataUnits, setupCollection, sha256, startUpload, tempDir, writeTree } from '../upload-helpers.js';

const BUILTIN = { code: 'upload-files', version: '1.0.0' };

function makeFiles(root: string, count: number, tag: string): Map<string, string> {
  const shas = new Map<string, string>();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) {
    const body = Buffer.concat([Buffer.from(`${tag} ${i}\n`), randomBytes(1500 + (i % 5) * 500)]);
    const rel = `image/f${String(i).padStart(4, '0')}.bin`;
    files[rel] = body;
    shas.set(sha256(body), rel);
  }
  writeTree(root, files);
  return shas;
}

function s3Config(bucket: string, createBucket: boolean): StorageConfig {
  return {
    provider: 's3',
    bucket,
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    createBucket,
    credentials: { source: 'env', accessKeyIdEnv: 'TWO_WORKERS_S3_ID', secretAccessKeyEnv: 'TWO_WORKERS_S3_SECRET' },
  };
}

async function keysIn(storage: S3Storage): Promise<string[]> {
  const keys: string[] = [];
  try {
    for await (const o of storage.list('uploads/')) keys.push(o.key);
  } catch (err) {
    if ((err as Error).message.includes('does not exist')) return [];
    throw err;
  }
  return keys.sort();
}

/** The identities of the workers that ran each activity type of a run's executions (from Temporal's history). */
async function activityWorkers(runs: RunsClient, runId: string): Promise<Map<string, Set<string>>> {
  const byType = new Map<string, Set<string>>();
  // Each execution of the continue-as-new chain has its own history.
  const executions = runs.temporal.workflow.list({ query: `WorkflowId = '${runId}'` });
  for await (const execution of executions) {
    const history = await runs.temporal.workflow.getHandle(runId, execution.runId).fetchHistory();
    const typeOf = new Map<string, string>();
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
        const set = byType.get(type) ?? new Set<string>();
        set.add(started.identity ?? '?');
        byType.set(type, set);
      }
    }
  }
  return byType;
}

/** Waits for the run's workflow to end (any outcome) and returns its record in the run store. */
async function ended(runs: RunsClient, runId: string): Promise<RunRecord> {
  await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(() => undefined);
  const run = await runs.store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in the run store`);
  return run;
}

describe('an upload on two workers with separate data dirs', () => {
  const settings = testSettings('upload-two');
  const settingsB: Settings = { ...settings, dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-upload-two-b-')) };
  const workers: ChildProcess[] = [];
  let runs: RunsClient;
  let previousUrl: string | undefined;
  const bucket = `two-workers-${Date.now()}`;
  let storage: S3Storage;

  beforeAll(async () => {
    if (!inject('s3Endpoint')) throw new Error(`no S3 server: ${inject('s3Error')}`);
    if (!inject('postgresUrl')) throw new Error(`no PostgreSQL: ${inject('postgresError')}`);
    // The workers (spawned with process.env) and this file share one platform database.
    previousUrl = process.env.DATABASE_URL;
    process.env.DATABASE_URL = await createDatabase(inject('postgresUrl'), `upload_two_${Date.now()}`);
    process.env.TWO_WORKERS_S3_ID = inject('s3AccessKeyId');
    process.env.TWO_WORKERS_S3_SECRET = inject('s3SecretAccessKey');
    storage = openStorage(s3Config(bucket, true), { dataDir: settings.dataDir, name: 's3' }) as S3Storage;
    await setupCollection(settings, 'blobs', [{ name: 'image', required: true, extensions: ['.bin'] }]);
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      // The bucket does not exist: the upload creates it (createBucket), before storing anything.
      await createStorage(platform.db, { name: 's3', config: s3Config(bucket, true) });
      await createStorage(platform.db, { name: 's3-missing', config: s3Config(`missing-${Date.now()}`, false) });
    } finally {
      await platform.close();
    }
    runs = await connectRuns(settings);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await runs?.close();
    await storage?.close();
    if (previousUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previousUrl;
  });

  it('plans and stores on one worker, finishes on the other: every file once, no plan left', async () => {
    const root = tempDir('up-two');
    const shas = makeFiles(root, 120, 'two');
    const a = await spawnWorker(settings);
    workers.push(a);
    const { runId } = await startUpload(runs, settings, {
      plugin: BUILTIN,
      params: { name: 'two', path: root, storage: 's3', data_collection: 'blobs' },
      budget: { unitsPerBatch: 1, batchesInFlight: 2, batchesPerRun: 60 },
    });
    await waitFor(async () => ((await keysIn(storage)).length >= 10 ? true : undefined), 120_000, 'worker A to store files');
    // A stops gracefully (its running steps finish, it takes no new one), then B starts:
    // everything left runs on B, from A's plan. (B first would race A to the end.)
    a.kill('SIGTERM');
    await once(a, 'exit');
    workers.push(await spawnWorker(settingsB));

    const final = await ended(runs, runId);
    expect(final.status, final.error ?? '').toBe('completed');
    expect(final.result).toMatchObject({
      planned_files: 120,
      uploaded_files: 120,
      failed_files: 0,
      data_units_registered: 120,
    } satisfies Partial<UploadSummary>);

    const byType = await activityWorkers(runs, runId);
    const all = new Set([...byType.values()].flatMap((s) => [...s]));
    expect(all.size, `activities ran on ${[...all].join(', ')}`).toBe(2);
    expect(byType.get('uploadDiscover')?.size).toBe(1);
    // The planning worker is gone: B ran steps that read A's plan.
    const planner = [...byType.get('uploadDiscover')!][0]!;
    const onB = [...byType.entries()].filter(([, ids]) => [...ids].some((id) => id !== planner)).map(([t]) => t);
    expect(onB).toContain('uploadFinalize');

    // Every file once in the bucket, every unit once, each pointing at a stored key.
    const keys = await keysIn(storage);
    expect(keys.map((k) => k.split('/')[2]).sort()).toEqual([...shas.keys()].sort());
    const units = (await dataUnits(settings, 'blobs')).filter((u) => u.uniqueKey.startsWith('two/'));
    expect(units).toHaveLength(120);
    expect(new Set(units.map((u) => u.files.image!.key))).toEqual(new Set(keys));
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      expect(await listPlanParts(platform.db, runId)).toEqual(['summary']);
    } finally {
      await platform.close();
    }
  });

  it('a cancelled upload deletes what it stored, except what a data unit points at', async () => {
    if (!workers.some((w) => w.exitCode === null)) workers.push(await spawnWorker(settingsB));
    const before = new Set(await keysIn(storage));
    const root = tempDir('up-cancel');
    const shas = makeFiles(root, 150, 'cancel');
    // Five of its files are the content of units registered by the first test.
    const shared = [...before].slice(0, 5);
    // Same content and name: the same content key as the registered unit's file.
    for (const key of shared) writeTree(root, { [`image/shared/${key.split('/').at(-1)!}`]: await storage.get(key) });
    const { runId } = await startUpload(runs, settings, {
      plugin: BUILTIN,
      params: { name: 'cancel', path: root, storage: 's3', data_collection: 'blobs' },
      budget: { unitsPerBatch: 1, batchesInFlight: 2 },
    });
    await waitFor(async () => ((await keysIn(storage)).length >= before.size + 10 ? true : undefined), 120_000, 'stored files of the run');
    await runs.temporal.workflow.getHandle(runId).cancel();
    const final = await ended(runs, runId);
    expect(final.status, final.error ?? '').toBe('cancelled');
    // The clean-up runs before the run is marked ended: what is left is what was there before.
    expect(await keysIn(storage)).toEqual([...before].sort());
    expect(shas.size).toBe(150);
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      expect(await listPlanParts(platform.db, runId)).toEqual([]);
    } finally {
      await platform.close();
    }
  });

  it('a missing bucket the storage may not create refuses the start, naming the bucket; no run is created', async () => {
    const root = tempDir('up-missing-start');
    makeFiles(root, 2, 'refused');
    const err: unknown = await runs
      .start({
        plugin: 'upload-files',
        action: 'upload',
        params: { name: 'refused', path: root, storage: 's3-missing', data_collection: 'blobs' },
        runId: 'refused-upload',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParamsError);
    expect((err as ParamsError).problems).toEqual([
      { path: 'storage', message: expect.stringMatching(/the bucket "missing-\d+" does not exist at http:\/\/127\.0\.0\.1:\d+: .*createBucket/) as unknown },
    ]);
    expect(await runs.store.getRun('refused-upload')).toBeUndefined();
  });

  it('a missing bucket the storage may not create fails the run at its first step, naming the bucket', async () => {
    if (!workers.some((w) => w.exitCode === null)) workers.push(await spawnWorker(settingsB));
    const root = tempDir('up-missing');
    makeFiles(root, 3, 'missing');
    const { runId } = await startUpload(runs, settings, {
      plugin: BUILTIN,
      params: { name: 'missing', path: root, storage: 's3-missing', data_collection: 'blobs' },
    });
    const final = await ended(runs, runId);
    expect(final.status, final.error ?? '').toBe('failed');
    expect(final.error).toMatch(/the bucket "missing-\d+" does not exist at http:\/\/127\.0\.0\.1:\d+/);
    expect(final.error).toContain('createBucket');
  });
});

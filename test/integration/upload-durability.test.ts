/**
 * Upload durability, doing the bad thing for real (DESIGN.md section 9):
 * - the worker process is SIGKILLed mid-upload; a new worker finishes the run;
 * - the S3 server is stopped for ten seconds mid-upload, then started again on the same
 *   port and data; the retried batches finish the run.
 * Both end with every file stored once (the bucket is listed) and every data unit
 * registered once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { UploadSummary } from '../../activities/upload.js';
import type { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import { createStorage } from '../../platform/repositories/storages.js';
import { openStorage, type S3Storage, type StorageConfig } from '../../storage/index.js';
import { freePort } from '../../workers/dev-server.js';
import { connectRuns, spawnWorker, startWorker, testSettings, waitFor } from '../helpers.js';
import { findVersitygw } from '../servers/s3.js';
import { dataUnits, finish, setupCollection, sha256, startUpload, tempDir, writeTree } from '../upload-helpers.js';

const BUILTIN = { code: 'upload-files', version: '1.0.0' };

/** `count` files with distinct contents, a few above the 5 MiB multipart threshold. */
function makeFiles(root: string, count: number, big: number): Map<string, string> {
  const shas = new Map<string, string>();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) {
    const body = Buffer.concat([Buffer.from(`file ${i}\n`), randomBytes(i < big ? 6 * 1024 * 1024 : 2048 + (i % 7) * 1000)]);
    const rel = `image/d${i % 5}/f${String(i).padStart(4, '0')}.bin`;
    files[rel] = body;
    shas.set(sha256(body), rel);
  }
  writeTree(root, files);
  return shas;
}

async function addS3Storage(settings: Settings, name: string, config: StorageConfig): Promise<void> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    await createStorage(platform.db, { name, config });
  } finally {
    await platform.close();
  }
}

async function bucketKeys(storage: S3Storage): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list('uploads/')) keys.push(o.key);
  return keys;
}

/** Every file once in the bucket, every unit once in the collection, pointing at stored keys. */
async function expectStoredOnce(settings: Settings, storage: S3Storage, collection: string, name: string, shas: Map<string, string>): Promise<void> {
  const keys = await bucketKeys(storage);
  expect(keys).toHaveLength(shas.size);
  const storedShas = keys.map((k) => k.split('/')[2]!);
  expect(new Set(storedShas).size).toBe(keys.length);
  expect([...storedShas].sort()).toEqual([...shas.keys()].sort());
  const units = (await dataUnits(settings, collection)).filter((u) => u.uniqueKey.startsWith(`${name}/`));
  expect(units).toHaveLength(shas.size);
  expect(new Set(units.map((u) => u.uniqueKey)).size).toBe(shas.size);
  const keySet = new Set(keys);
  for (const u of units) {
    const file = u.files.image!;
    expect(keySet.has(file.key), u.uniqueKey).toBe(true);
    // The unit is the file it was found as: its key names the file's content.
    expect(
      `${name}/${shas
        .get(file.checksum!)!
        .replace(/^image\//, '')
        .replace(/\.bin$/, '')}`,
    ).toBe(u.uniqueKey);
  }
}

function s3Config(endpoint: string, bucket: string, idVar: string, secretVar: string): StorageConfig {
  return {
    provider: 's3',
    bucket,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { source: 'env', accessKeyIdEnv: idVar, secretAccessKeyEnv: secretVar },
  };
}

describe('a worker SIGKILLed mid-upload', () => {
  const settings = testSettings('upload-killed');
  const workers: ChildProcess[] = [];
  let runs: RunsClient;
  let storage: S3Storage;

  beforeAll(async () => {
    if (!inject('s3Endpoint')) throw new Error(`no S3 server for the upload tests: ${inject('s3Error')}`);
    // Spawned workers inherit these (helpers.envFor spreads process.env).
    process.env.UPLOAD_KILL_S3_ID = inject('s3AccessKeyId');
    process.env.UPLOAD_KILL_S3_SECRET = inject('s3SecretAccessKey');
    const config = s3Config(inject('s3Endpoint'), `up-kill-${Date.now()}`, 'UPLOAD_KILL_S3_ID', 'UPLOAD_KILL_S3_SECRET');
    storage = openStorage(config, { dataDir: settings.dataDir, name: 's3' }) as S3Storage;
    await storage.ensureBucket();
    await setupCollection(settings, 'blobs', [{ name: 'image', required: true, extensions: ['.bin'] }]);
    await addS3Storage(settings, 's3', config);
    runs = await connectRuns(settings);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await runs?.close();
    await storage?.close();
  });

  it('finishes on a new worker with every file stored once and every unit registered once', async () => {
    const root = tempDir('up-kill');
    const shas = makeFiles(root, 240, 3);
    workers.push(await spawnWorker(settings));
    const { runId } = await startUpload(runs, settings, {
      plugin: BUILTIN,
      params: { name: 'killed', path: root, storage: 's3', data_collection: 'blobs', max_file_size_mb: 5, creating_data_unit_batch_size: 7 },
      budget: { unitsPerBatch: 2, batchesInFlight: 2, batchesPerRun: 50 },
      heartbeatTimeoutSeconds: 3,
    });
    await waitFor(async () => ((await bucketKeys(storage)).length >= 20 ? true : undefined), 120_000, 'the first stored files');
    const first = workers[0]!;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const storedAtKill = (await bucketKeys(storage)).length;
    expect(storedAtKill, 'killed mid-upload').toBeLessThan(shas.size);

    workers.push(await spawnWorker(settings));
    const final = await finish(runs, runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({
      planned_files: 240,
      uploaded_files: 240,
      failed_files: 0,
      data_units_registered: 240,
    } satisfies Partial<UploadSummary>);
    await expectStoredOnce(settings, storage, 'blobs', 'killed', shas);
    // The big files went up in parts, some of them interrupted: the stored objects are whole.
    for (const key of await bucketKeys(storage)) {
      const sha = key.split('/')[2]!;
      if (/f000[0-2]\.bin$/.test(shas.get(sha)!)) expect(sha256(await storage.get(key))).toBe(sha);
    }
  });
});

/** versitygw on a fixed port and data folder, so that it can be stopped and started again. */
class RestartableS3 {
  readonly accessKeyId = `test${randomBytes(6).toString('hex')}`;
  readonly secretAccessKey = randomBytes(20).toString('hex');
  private child: ChildProcess | undefined;
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<RestartableS3> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-s3-restart-'));
    mkdirSync(path.join(dir, 'meta'));
    mkdirSync(path.join(dir, 'data'));
    return new RestartableS3(await findVersitygw(), dir, await freePort());
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      this.bin,
      ['--port', `127.0.0.1:${this.port}`, '--health', '/health', '--quiet', 'posix', '--sidecar', path.join(this.dir, 'meta'), path.join(this.dir, 'data')],
      {
        env: { ...process.env, ROOT_ACCESS_KEY: this.accessKeyId, ROOT_SECRET_KEY: this.secretAccessKey },
        stdio: 'ignore',
      },
    );
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}`);
        try {
          return (await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
      'versitygw to answer',
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('the S3 server stopped for ten seconds mid-upload', () => {
  const settings = testSettings('upload-s3-down');
  let server: RestartableS3;
  let runs: RunsClient;
  let worker: { stop(): Promise<void> } | undefined;
  let storage: S3Storage;

  beforeAll(async () => {
    server = await RestartableS3.create();
    await server.start();
    process.env.UPLOAD_DOWN_S3_ID = server.accessKeyId;
    process.env.UPLOAD_DOWN_S3_SECRET = server.secretAccessKey;
    const config = s3Config(server.endpoint, 'up-down', 'UPLOAD_DOWN_S3_ID', 'UPLOAD_DOWN_S3_SECRET');
    storage = openStorage(config, { dataDir: settings.dataDir, name: 's3' }) as S3Storage;
    await storage.ensureBucket();
    await setupCollection(settings, 'blobs', [{ name: 'image', required: true, extensions: ['.bin'] }]);
    await addS3Storage(settings, 's3', config);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
    await storage?.close();
    await server?.destroy();
  });

  it('retries the batches that failed and finishes with every file stored once', async () => {
    const root = tempDir('up-down');
    const shas = makeFiles(root, 200, 2);
    const { runId } = await startUpload(runs, settings, {
      plugin: BUILTIN,
      params: { name: 'down', path: root, storage: 's3', data_collection: 'blobs', max_file_size_mb: 5 },
      budget: { unitsPerBatch: 2, batchesInFlight: 2 },
    });
    await waitFor(async () => ((await bucketKeys(storage)).length >= 20 ? true : undefined), 120_000, 'the first stored files');
    const storedBeforeOutage = (await bucketKeys(storage)).length;
    await server.stop();
    expect(storedBeforeOutage, 'stopped mid-upload').toBeLessThan(shas.size);
    // The outage itself: ten seconds in which every request is refused.
    await sleep(10_000);
    await server.start();

    const final = await finish(runs, runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({
      planned_files: 200,
      uploaded_files: 200,
      failed_files: 0,
      data_units_registered: 200,
    } satisfies Partial<UploadSummary>);
    await expectStoredOnce(settings, storage, 'blobs', 'down', shas);
    // Some batch ran more than once: the outage was felt and retried, not waited out.
    const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
    const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThan(1);
  });
});

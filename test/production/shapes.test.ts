/**
 * Every run shape on the production topology: a real Temporal cluster on PostgreSQL, the
 * platform in PostgreSQL, files in S3, two worker processes with separate data dirs. Each run
 * completes with its exact output (counted in the bucket and the database, nothing missing and
 * nothing twice), and every step ran on one of the two workers.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployments } from '../../client/deployments.js';
import type { RunState } from '../../contracts/run-state.js';
import type { TrainResult } from '../../contracts/train.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, renderItem, sampleItem, type GenerateResult } from '../../platform/generate.js';
import { ROOT, waitFor } from '../helpers.js';
import { dataUnits, setupCollection, tempDir, writeTree } from '../upload-helpers.js';
import { activityWorkers, productionSystem, type ProductionSystem } from './system.js';

let sys: ProductionSystem;
let data: GenerateResult;
const ITEMS = 40;

beforeAll(async () => {
  sys = await productionSystem('shapes');
  // One after the other: each builds the workflow bundle in its own data dir.
  await sys.spawnWorker();
  await sys.spawnWorker();
  const platform = await openDatabase({ dataDir: sys.settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: ITEMS, seed: 3, projectName: 'shapes', dataDir: sys.settings.dataDir });
  } finally {
    await platform.close();
  }
});
afterAll(async () => {
  await sys?.close();
});

const finish = async (runId: string): Promise<RunState> => (await sys.runs.temporal.workflow.getHandle(runId).result()) as RunState;

/** Every step of the run ran on one of this file's workers. */
async function expectStepsOnOurWorkers(runId: string): Promise<void> {
  const started = await activityWorkers(sys.runs, runId);
  expect(started.length).toBeGreaterThan(0);
  for (const s of started) expect(sys.workerOf(s.identity), `${s.type} ran on ${s.identity}`).toBeDefined();
}

async function keysUnder(prefix: string): Promise<string[]> {
  const storage = sys.bucketStorage();
  const keys: string[] = [];
  try {
    for await (const o of storage.list(prefix)) keys.push(o.key);
  } finally {
    await storage.close?.();
  }
  return keys;
}

describe('every shape on the cluster, two workers with separate data dirs', () => {
  it('job: a validation run', async () => {
    const { runId } = await sys.runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 150, delayMs: 1 } });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ checked: 150 });
    await expectStepsOnOurWorkers(runId);
  });

  it('export: COCO of the ground truth into the bucket, every image once', async () => {
    const params = {
      name: 'coco',
      storage: 'default',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.groundTruth.versionId },
      path: 'exports',
    };
    const { runId } = await sys.runs.start({ plugin: 'export-coco', action: 'export', params });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: ITEMS, success: ITEMS });
    const keys = await keysUnder('exports/coco/');
    const annotationsKey = keys.find((k) => /annotations\/instances_\w+\.json$/.test(k));
    expect(annotationsKey, keys.join('\n')).toBeDefined();
    const storage = sys.bucketStorage();
    const coco = JSON.parse((await storage.get(annotationsKey!)).toString()) as { images: { id: number; file_name: string }[]; annotations: unknown[] };
    await storage.close?.();
    expect(coco.images).toHaveLength(ITEMS);
    expect(new Set(coco.images.map((i) => i.file_name)).size).toBe(ITEMS);
    expect(coco.annotations.length).toBeGreaterThanOrEqual(ITEMS);
    await expectStepsOnOurWorkers(runId);
  });

  it('upload: a folder into the bucket, each file stored and registered once', async () => {
    const root = tempDir('prod-upload');
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`image/d${i % 3}/f${String(i).padStart(3, '0')}.jpg`] = `image ${i}`;
    writeTree(root, files);
    await setupCollection(sys.settings, 'photos', [{ name: 'image', required: true, extensions: ['.jpg'] }]);
    const { runId } = await sys.runs.start({
      plugin: 'upload-files',
      action: 'upload',
      params: { name: 'batch1', path: root, storage: 'default', data_collection: 'photos' },
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ planned_units: 30, uploaded_files: 30, failed_files: 0, data_units_registered: 30 });
    const units = (await dataUnits(sys.settings, 'photos')).filter((u) => u.uniqueKey.startsWith('batch1/'));
    expect(units).toHaveLength(30);
    expect(new Set(units.map((u) => u.files.image!.key)).size).toBe(30);
    const stored = await keysUnder('uploads/');
    for (const u of units) expect(stored).toContain(u.files.image!.key);
    await expectStepsOnOurWorkers(runId);
  });

  it('train: epochs with checkpoints in the bucket, the model registered', async () => {
    const { runId } = await sys.runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: { name: 'prod-model', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 3, seed: 5, batch_size: 8 } },
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
    const result = final.result as TrainResult;
    expect(result.model).toBeDefined();
    expect((await keysUnder(`train/${runId}/`)).length).toBeGreaterThan(0);
    await expectStepsOnOurWorkers(runId);
  });

  it('tune: trials as child runs, the best registered', async () => {
    const { runId } = await sys.runs.start({
      plugin: path.join(ROOT, 'test', 'fixtures', 'plugins', 'tune-objective'),
      action: 'tune',
      params: {
        name: 'prod-tuned',
        dataset: data.groundTruth.versionId,
        hyperparameters: { epochs: 2 },
        metric: 'score',
        mode: 'min',
        search_space: { x: { type: 'grid', values: [0, 1.5] }, y: { type: 'grid', values: [0.5, 2] } },
        max_concurrent_trials: 2,
      },
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.trials ?? []).toHaveLength(4);
    expect(new Set((final.trials ?? []).map((t) => JSON.stringify(t.params))).size).toBe(4);
  });

  it('task pages: validate-annotations over the project, each task once', async () => {
    const { runId } = await sys.runs.start({
      plugin: 'validate-annotations',
      action: 'validation',
      params: { project: data.project.id, storage: 'default', report_path: 'reports' },
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: ITEMS });
    await expectStepsOnOurWorkers(runId);
  });

  it('deployment: a served replica answers a prediction, then stops', async () => {
    const deployments = new Deployments(sys.runs);
    try {
      const { runId } = await sys.runs.start({
        plugin: path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts'),
        action: 'deployment',
        params: { replicas: 1 },
        heartbeatTimeoutSeconds: 3,
      });
      const replica = await waitFor(async () => (await deployments.replicas(runId)).find((r) => r.serving), 90_000, 'a serving replica');
      // A replica names its worker host:pid.
      expect(sys.workers.map((w) => `${os.hostname()}:${w.child.pid}`)).toContain(replica.worker);
      const item = sampleItem(11, 1, 'serve');
      const answer = await deployments.predict(runId, { image: renderItem(item).toString('base64') });
      expect(answer.status).toBe(200);
      await deployments.stop(runId);
      expect((await deployments.status(runId)).status).toBe('cancelled');
    } finally {
      await deployments.close();
    }
  });
});

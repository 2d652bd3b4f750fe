/**
 * The production topology under failure, done for real: a worker process SIGKILLed mid-step
 * (its step moves to a worker with ANOTHER data dir, so whatever the step needs must be in the
 * database or the bucket, not on the dead worker's disk), and the cluster's history service
 * process SIGKILLed mid-run and started again. Each run completes with its exact output: every
 * epoch, file, unit and exported item once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { readClusterInfo, signalClusterService, startClusterService, waitClusterReady } from '../../workers/cluster.js';
import { waitFor } from '../helpers.js';
import { dataUnits, setupCollection, startUpload, tempDir, writeTree } from '../upload-helpers.js';
import { activityWorkers, productionSystem, type ProductionSystem, type WorkerProcess } from './system.js';

let sys: ProductionSystem;
let data: GenerateResult;
const ITEMS = 40;

beforeAll(async () => {
  sys = await productionSystem('failures');
  const platform = await openDatabase({ dataDir: sys.settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: ITEMS, seed: 4, projectName: 'shapes', dataDir: sys.settings.dataDir });
  } finally {
    await platform.close();
  }
});
afterAll(async () => {
  await sys?.close();
});

/** The run's result, asking again while the cluster is coming back (a long poll cut by a killed service). */
async function finish(runId: string): Promise<RunState> {
  for (let i = 0; ; i++) {
    try {
      return (await sys.runs.temporal.workflow.getHandle(runId).result()) as RunState;
    } catch (err) {
      if (i >= 20 || (err as { name?: string }).name === 'WorkflowFailedError') throw err;
      await sleep(1000);
    }
  }
}

const alive = (w: WorkerProcess) => w.child.exitCode === null && w.child.signalCode === null;

/** The worker that holds the run's running step (from the server's pending activities). */
async function workerRunningStep(runId: string): Promise<WorkerProcess> {
  return waitFor(
    async () => {
      const desc = await sys.runs.temporal.workflow.getHandle(runId).describe();
      for (const p of desc.raw.pendingActivities ?? []) {
        const w = sys.workerOf(p.lastWorkerIdentity);
        if (w && alive(w) && p.state === 2 /* STARTED */) return w;
      }
      return undefined;
    },
    60_000,
    'a step running on one of the workers',
  );
}

describe('failures on the production topology', () => {
  it('a worker killed mid-epoch: the epoch resumes from its mid-epoch checkpoint on the other worker; every epoch once', async () => {
    await sys.spawnWorker();
    await sys.spawnWorker();
    const { runId } = await sys.runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: {
        name: 'killed',
        dataset: data.groundTruth.versionId,
        hyperparameters: { epochs: 3, seed: 5, batch_size: 4, checkpoint_every: 2, step_delay_ms: 80 },
      },
      heartbeatTimeoutSeconds: 3,
    });
    await waitFor(
      async () => {
        const s = (await sys.runs.store.latestCheckpoint(runId))?.state as { partial?: { epoch: number; step: number } } | undefined;
        return s?.partial && s.partial.epoch === 2 && s.partial.step >= 2 ? true : undefined;
      },
      120_000,
      'a mid-epoch checkpoint of epoch 2',
    );
    const victim = await workerRunningStep(runId);
    await victim.kill();
    const survivor = sys.workers.find((w) => w !== victim && alive(w))!;

    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
    const logs = (await sys.runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
    expect(logs.filter((l) => /epoch 1\/3 starts/.test(l))).toHaveLength(1);
    expect(
      logs.some((l) => /epoch 2\/3 starts from step [1-9]\d* of epoch 2/.test(l)),
      logs.join('\n'),
    ).toBe(true);
    // The retried epoch and the rest ran on the worker that has none of the victim's disk.
    const steps = await activityWorkers(sys.runs, runId);
    expect(steps.filter((s) => s.attempt >= 2).every((s) => sys.workerOf(s.identity) === survivor)).toBe(true);
    expect(steps.some((s) => sys.workerOf(s.identity) === survivor && s.attempt >= 2)).toBe(true);
  });

  it('an upload planned on one worker finishes on another with a separate data dir; every file and unit once', async () => {
    for (const w of sys.workers) await w.kill();
    await sys.spawnWorker();
    await sys.spawnWorker();
    const root = tempDir('prod-upload-cross');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 90; i++) files[`image/d${i % 4}/f${String(i).padStart(3, '0')}.bin`] = Buffer.alloc(512 * 1024, i);
    writeTree(root, files);
    await setupCollection(sys.settings, 'cross', [{ name: 'image', required: true, extensions: ['.bin'] }]);
    const { runId, firstExecutionRunId } = await startUpload(sys.runs, sys.settings, {
      plugin: { code: 'upload-files', version: '1.0.0' },
      params: { name: 'cross', path: root, storage: 'default', data_collection: 'cross' },
      budget: { unitsPerBatch: 2, batchesInFlight: 1, batchesPerRun: 8 },
      heartbeatTimeoutSeconds: 3,
    });
    // Once the plan is made and a few files stored, the worker that made the plan dies.
    const planner = await waitFor(
      async () => {
        const steps = await activityWorkers(sys.runs, runId, firstExecutionRunId);
        const discover = sys.workerOf(steps.find((s) => s.type === 'uploadDiscover')?.identity);
        if (!discover) return undefined;
        const s = sys.bucketStorage();
        let n = 0;
        for await (const _ of s.list('uploads/')) n++;
        await s.close?.();
        return n >= 6 ? discover : undefined;
      },
      60_000,
      'the plan and a few stored files',
    );
    expect((await sys.runs.temporal.workflow.getHandle(runId).describe()).status.name, 'the upload ended before the kill').toBe('RUNNING');
    await planner.kill();
    const finisher = sys.workers.find((w) => w !== planner && alive(w))!;

    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ planned_units: 90, uploaded_files: 90, failed_files: 0, data_units_registered: 90 });
    const units = (await dataUnits(sys.settings, 'cross')).filter((u) => u.uniqueKey.startsWith('cross/'));
    expect(units).toHaveLength(90);
    const storage = sys.bucketStorage();
    const stored: string[] = [];
    for await (const o of storage.list('uploads/')) stored.push(o.key);
    await storage.close?.();
    // Every file stored once (keys name content; 90 distinct contents), nothing left over.
    expect(stored).toHaveLength(90);
    expect(new Set(units.map((u) => u.files.image!.key))).toEqual(new Set(stored));
    // Steps ran on both workers and on no other; the last execution's on the one that lived.
    const steps = await activityWorkers(sys.runs, runId, firstExecutionRunId);
    expect(steps.some((s) => sys.workerOf(s.identity) === finisher)).toBe(true);
    expect(steps.every((s) => [planner, finisher].includes(sys.workerOf(s.identity)!))).toBe(true);
    const last = await activityWorkers(sys.runs, runId);
    expect(last.length).toBeGreaterThan(0);
    expect(last.every((s) => sys.workerOf(s.identity) === finisher)).toBe(true);
  });

  it('the history service killed mid-run and started again: the runs in flight complete, every item once', async () => {
    if (!sys.workers.some(alive)) await sys.spawnWorker();
    if (sys.workers.filter(alive).length < 2) await sys.spawnWorker();
    const dir = inject('clusterDir');
    const slow = await sys.runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 300, delayMs: 40, checkpointEvery: 20 } });
    const exported = await sys.runs.start({
      plugin: 'export-json',
      action: 'export',
      params: {
        name: 'json',
        storage: 'default',
        target: 'ground_truth',
        filter: { ground_truth_dataset_version: data.groundTruth.versionId },
        path: 'exports',
      },
    });
    await waitFor(
      async () => {
        const events = await sys.runs.events(slow.runId, 0, 100_000);
        return events.some((e) => e.data.kind === 'progress' && e.data.category === 'validate' && e.data.current >= 40) ? true : undefined;
      },
      60_000,
      'the validation under way',
    );
    expect((await sys.runs.temporal.workflow.getHandle(slow.runId).describe()).status.name, 'the validation ended before the kill').toBe('RUNNING');
    const before = readClusterInfo(dir)!.pids.history;
    expect(signalClusterService(dir, 'history', 'SIGKILL')).toBe(before);
    await sleep(5_000);
    const pid = startClusterService(dir, 'history');
    expect(pid).not.toBe(before);
    await waitClusterReady(readClusterInfo(dir)!, 120_000);

    const final = await finish(slow.runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ checked: 300 });
    const exportFinal = await finish(exported.runId);
    expect(exportFinal.status, exportFinal.error).toBe('completed');
    expect(exportFinal.result).toMatchObject({ total: ITEMS, success: ITEMS });
    const storage = sys.bucketStorage();
    const keys: string[] = [];
    for await (const o of storage.list('exports/json/json/')) keys.push(o.key);
    await storage.close?.();
    expect(keys).toHaveLength(ITEMS);
  });
});

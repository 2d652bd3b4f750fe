/**
 * The train run shape end to end with the TypeScript example trainer on generated images:
 * dataset download into the cache, one activity per epoch, evaluation, model registration;
 * continue-as-new keeping every epoch's metrics; cancel then `synapse run resume`; params
 * errors; the test and inference actions on the registered model.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { taskQueueFor, type Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { getModel } from '../../platform/repositories/models.js';
import { listAssignments } from '../../platform/repositories/projects.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { trainWorkflow } from '../../workflows/train.js';
import type { TrainResult } from '../../contracts/train.js';
import { runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('train');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;

async function generate(s: Settings, count: number): Promise<GenerateResult> {
  const platform = await openDatabase({ dataDir: s.dataDir });
  try {
    return await generateSampleData(platform, { count, seed: 3, projectName: 'shapes', dataDir: s.dataDir });
  } finally {
    await platform.close();
  }
}

const finish = async (runId: string): Promise<RunState> => (await runs.temporal.workflow.getHandle(runId).result()) as RunState;

beforeAll(async () => {
  data = await generate(settings, 120);
});

const params = (name: string, hyper: Record<string, unknown> = {}) => ({
  name,
  dataset: data.groundTruth.versionId,
  hyperparameters: { epochs: 3, seed: 11, ...hyper },
});

async function epochEnds(runId: string): Promise<number[]> {
  return (await runs.events(runId, 0, 100_000))
    .filter((e) => e.data.kind === 'event' && e.data.event === 'epoch_end')
    .map((e) => Number((e.data as unknown as { data: { epoch: number } }).data.epoch));
}

describe('train runs (TypeScript trainer)', () => {
  let modelId: number;

  it('downloads the dataset, trains epoch by epoch, evaluates and registers the model', async () => {
    const { runId } = await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('shapes-ts') });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    const result = final.result as TrainResult;
    expect(result.epochs).toBe(3);
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const e of final.epochs ?? []) expect(typeof e.metrics.loss).toBe('number');
    expect(final.progress).toMatchObject({ dataset: { current: 120, total: 120 }, train: { current: 3, total: 3 }, model_upload: { current: 1, total: 1 } });
    expect(final.percent).toBe(100);
    // Shapes are easy: the features separate them well even after three epochs.
    expect(result.metrics.accuracy).toBeGreaterThan(0.8);
    expect(await epochEnds(runId)).toEqual([1, 2, 3]);
    // Every epoch's metrics in `run status` and as events in `run watch`.
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.stdout).toMatch(/^epoch {4}3: \{"loss":/m);
    const watch = await runCli(['run', 'watch', runId, '--json'], settings);
    expect(watch.stdout.split('\n').filter((l) => l.includes('"event":"epoch_end"'))).toHaveLength(3);

    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      const model = await getModel(platform.db, result.model.id);
      expect(model).toMatchObject({ name: 'shapes-ts', runId, plugin: { code: 'train-ts-example' } });
      expect(model.configuration).toMatchObject({
        dataset: data.groundTruth.versionId,
        classes: ['circle', 'square', 'triangle'],
        hyperparameters: { epochs: 3, seed: 11 },
      });
      expect(model.metrics.accuracy).toBe(result.metrics.accuracy);
      expect(existsSync(path.join(settings.dataDir, 'storage', 'default', model.file!.key))).toBe(true);
      modelId = model.id;
    } finally {
      await platform.close();
    }
    // The dataset cache is kept for the next run of the same version.
    const logs = (await runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
    expect(
      logs.some((m) => /dataset: 120 items, 120 files/.test(m)),
      logs.join('\n'),
    ).toBe(true);

    const again = await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('shapes-ts-again', { epochs: 1 }) });
    expect((await finish(again.runId)).status).toBe('completed');
    const againLogs = (await runs.events(again.runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
    expect(
      againLogs.some((m) => /dataset: 120 items, reused/.test(m)),
      againLogs.join('\n'),
    ).toBe(true);

    // A damaged cached file (same size, other bytes) is found by its sha256 and fetched again.
    const cacheRoot = path.join(settings.dataDir, 'cache', 'datasets');
    const cacheDir = path.join(cacheRoot, readdirSync(cacheRoot)[0]!);
    const victim = path.join(cacheDir, 'files', readdirSync(path.join(cacheDir, 'files'))[0]!, 'image.png');
    const good = readFileSync(victim);
    writeFileSync(victim, Buffer.alloc(good.length, 1));
    const third = await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('shapes-ts-third', { epochs: 1 }) });
    expect((await finish(third.runId)).status).toBe('completed');
    const thirdLogs = (await runs.events(third.runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
    expect(
      thirdLogs.some((m) => /dataset: 120 items, 1 files/.test(m)),
      thirdLogs.join('\n'),
    ).toBe(true);
    expect(readFileSync(victim).equals(good)).toBe(true);
  });

  it('continues as new past its epoch budget and still shows every epoch', async () => {
    const runId = `train-can-${Date.now()}`;
    const p = params('shapes-can', { epochs: 5 });
    const now = new Date().toISOString();
    await runs.store.createRun({
      id: runId,
      pluginCode: 'train-ts-example',
      pluginVersion: '1.0.0',
      action: 'train',
      category: 'neural_net',
      method: 'job',
      status: 'pending',
      params: p,
      createdAt: now,
      updatedAt: now,
    });
    const handle = await runs.temporal.workflow.start(trainWorkflow, {
      workflowId: runId,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'train-ts-example', version: '1.0.0' },
          action: 'train',
          category: 'neural_net',
          method: 'job',
          params: p,
          progressCategories: { dataset: { weight: 20 }, train: { weight: 75 }, model_upload: { weight: 5 } },
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
          budget: { epochsPerRun: 2 },
        },
      ],
    });
    const final = await handle.result();
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    // Two continue-as-new: the run id the handle follows is no longer the first one.
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    expect((await runs.state(runId)).epochs?.length).toBe(5);
  });

  it('cancelled, then `synapse run resume` starts at the epoch after the last checkpoint', async () => {
    const { runId } = await runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: params('shapes-resume', { epochs: 6, step_delay_ms: 40 }),
      heartbeatTimeoutSeconds: 5,
    });
    await waitFor(async () => ((await epochEnds(runId)).length >= 2 ? true : undefined), 60_000, 'two epochs');
    await runs.cancel(runId);
    const cancelled = await waitFor(async () => {
      const s = await runs.state(runId);
      return s.status === 'cancelled' ? s : undefined;
    });
    expect(cancelled.status).toBe('cancelled');
    const done = await epochEnds(runId);
    const last = Math.max(...done);
    expect(last).toBeLessThan(6);

    const resumed = await runCli(['run', 'resume', runId, '--detach', '--json'], settings);
    expect(resumed.code, resumed.stderr).toBe(0);
    const started = JSON.parse(resumed.stdout) as { runId: string; resumedFrom: { runId: string; epoch: number } };
    expect(started.resumedFrom).toEqual({ runId, epoch: last });
    const final = await finish(started.runId);
    expect(final.status, final.error).toBe('completed');
    // The new run trained only the epochs after the checkpoint; its state shows all six.
    expect(await epochEnds(started.runId)).toEqual(Array.from({ length: 6 - last }, (_, i) => last + 1 + i));
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((final.result as TrainResult).resumedFrom).toEqual({ runId, epoch: last });

    // A completed run has nothing to resume.
    const again = await runCli(['run', 'resume', started.runId], settings);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('completed');
  });

  it('a resumed run cancelled early resumes from the same point, keeping every earlier epoch', async () => {
    const { runId: a } = await runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: params('shapes-chain', { epochs: 5, step_delay_ms: 40 }),
      heartbeatTimeoutSeconds: 5,
    });
    await waitFor(async () => ((await epochEnds(a)).length >= 2 ? true : undefined), 60_000, 'two epochs');
    await runs.cancel(a);
    await waitFor(async () => ((await runs.state(a)).status === 'cancelled' ? true : undefined));
    const aLast = Math.max(...(await epochEnds(a)));

    // B is cancelled at once: most likely before it finishes an epoch of its own.
    const b = await runs.resume(a, { heartbeatTimeoutSeconds: 5 });
    await runs.cancel(b.runId);
    await waitFor(async () => ((await runs.state(b.runId)).status === 'cancelled' ? true : undefined));
    const bLast = Math.max(aLast, ...(await epochEnds(b.runId)));

    const c = await runs.resume(b.runId);
    expect(c.resumedFrom).toEqual({ runId: b.runId, epoch: bLast });
    const final = await finish(c.runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(await epochEnds(c.runId)).toEqual(Array.from({ length: 5 - bLast }, (_, i) => bLast + 1 + i));
  });

  it('rejects bad params naming each field, and a model name already taken', async () => {
    const err = await runs
      .start({ plugin: 'train-ts-example', action: 'train', params: { hyperparameters: { epochs: 0, learning_rate: -1 } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems.map((p) => p.path).sort()).toEqual([
      'dataset',
      'hyperparameters.epochs',
      'hyperparameters.learning_rate',
      'name',
    ]);

    // References are checked before anything starts: a taken name, an unknown version, model or storage.
    const refs = await runs
      .start({ plugin: 'train-ts-example', action: 'train', params: { name: 'shapes-ts', dataset: 9999, checkpoint: 9999, storage: 'nowhere' } })
      .catch((e: unknown) => e);
    expect(refs).toBeInstanceOf(InvalidInputError);
    expect((refs as InvalidInputError).problems).toEqual([
      { path: 'name', message: expect.stringContaining('a model named "shapes-ts" exists already') },
      { path: 'dataset', message: 'unknown ground-truth version 9999' },
      { path: 'storage', message: 'unknown storage "nowhere"' },
      { path: 'checkpoint', message: 'unknown model 9999' },
    ]);

    // The first step checks the name again (another run may have taken it since): the run fails, not retried.
    const runId = `train-taken-${Date.now()}`;
    const p = params('shapes-ts', { epochs: 1 });
    const now = new Date().toISOString();
    await runs.store.createRun({
      id: runId,
      pluginCode: 'train-ts-example',
      pluginVersion: '1.0.0',
      action: 'train',
      category: 'neural_net',
      method: 'job',
      status: 'pending',
      params: p,
      createdAt: now,
      updatedAt: now,
    });
    const handle = await runs.temporal.workflow.start(trainWorkflow, {
      workflowId: runId,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'train-ts-example', version: '1.0.0' },
          action: 'train',
          category: 'neural_net',
          method: 'job',
          params: p,
          progressCategories: {},
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
        },
      ],
    });
    expect(await handle.result().catch((e: unknown) => e)).toBeInstanceOf(Error);
    const state = await runs.state(runId);
    expect(state.status).toBe('failed');
    expect(state.error).toContain('a model named "shapes-ts" exists already');
    expect(state.attempt).toBe(1);
  });

  it('test evaluates the registered model; inference writes its predictions as annotations', async () => {
    const tested = await finish(
      (await runs.start({ plugin: 'train-ts-example', action: 'test', params: { model: modelId, dataset: data.groundTruth.versionId, split: 'all' } })).runId,
    );
    expect(tested.status, tested.error).toBe('completed');
    expect(tested.result).toMatchObject({ model: modelId, split: 'all', items: 120 });
    expect(tested.metrics.test?.accuracy).toBeGreaterThan(0.8);

    const inferred = await finish(
      (
        await runs.start({
          plugin: 'train-ts-example',
          action: 'inference',
          params: { model: modelId, dataset: data.groundTruth.versionId, batch_size: 50, project: data.project.id },
        })
      ).runId,
    );
    expect(inferred.status, inferred.error).toBe('completed');
    expect(inferred.result).toMatchObject({ predicted: 120, written: 120 });
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      const all = await listAssignments(platform.db, { projectId: data.project.id, limit: 1000 });
      const classOf = (a: (typeof all)[number]) => a.annotations.annotations[0]?.class_name;
      const truth = new Map(all.filter((a) => a.annotator === 'generator').map((a) => [a.taskId, classOf(a)]));
      const mine = all.filter((a) => a.annotator === `model:${modelId}`);
      expect(mine).toHaveLength(120);
      const right = mine.filter((a) => classOf(a) === truth.get(a.taskId)).length;
      expect(right / mine.length).toBeGreaterThan(0.8);
    } finally {
      await platform.close();
    }
  });
});

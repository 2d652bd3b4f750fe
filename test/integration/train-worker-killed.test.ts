/**
 * Durability of training: the worker process is SIGKILLed in the middle of an epoch, after a
 * mid-epoch checkpoint. A new worker retries the epoch from that checkpoint (not from the
 * epoch's start, not from scratch), the run completes, and its model is the model of an
 * uninterrupted run with the same seed: the TypeScript trainer is deterministic (seeded
 * shuffles, float64), so the tolerance is 1e-12.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import type { RunState } from '../../contracts/run-state.js';
import type { TrainResult } from '../../contracts/train.js';
import { connectRuns, spawnWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('train-killed');
let runs: RunsClient;
let data: GenerateResult;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 120, seed: 4, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  runs = await connectRuns(settings);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await runs?.close();
});

/** Same-seed runs must agree to this: the arithmetic is the same, only the schedule differs. */
const TOLERANCE = 1e-12;

const params = (name: string, stepDelayMs: number) => ({
  name,
  dataset: data.groundTruth.versionId,
  hyperparameters: { epochs: 3, seed: 5, batch_size: 8, checkpoint_every: 2, step_delay_ms: stepDelayMs },
});

describe('a worker killed mid-epoch', () => {
  it('resumes the epoch from its mid-epoch checkpoint on a new worker; the model equals an uninterrupted run', async () => {
    workers.push(await spawnWorker(settings));
    const { runId } = await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('killed', 80), heartbeatTimeoutSeconds: 3 });

    // Kill once epoch 2 has saved a mid-epoch checkpoint.
    await waitFor(
      async () => {
        const c = await runs.store.latestCheckpoint(runId);
        const s = c?.state as { partial?: { epoch: number; step: number } } | undefined;
        return s?.partial && s.partial.epoch === 2 && s.partial.step >= 4 ? true : undefined;
      },
      60_000,
      'a mid-epoch checkpoint of epoch 2',
    );
    const first = workers[0] as ChildProcess;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const saved = (await runs.store.latestCheckpoint(runId))?.state as { epoch: number; partial?: { epoch: number; step: number } };
    expect(saved.epoch).toBe(1);
    const resumeStep = saved.partial!.step;

    workers.push(await spawnWorker(settings));
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    expect(final.attempt).toBeGreaterThanOrEqual(2);
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
    const logs = (await runs.events(runId, 0, 100_000))
      .filter((e) => e.data.kind === 'log')
      .map((e) => `${e.attempt} ${(e.data as { message: string }).message}`);
    // The retried attempt of epoch 2 started from the checkpoint, not from the epoch's start.
    expect(
      logs.some((l) => /^[2-9] epoch 2\/3 starts from step (\d+) of epoch 2/.test(l) && Number(/step (\d+)/.exec(l)![1]) >= resumeStep),
      logs.join('\n'),
    ).toBe(true);
    // Epoch 1 ran once: nothing before the checkpoint was done again.
    expect(logs.filter((l) => /epoch 1\/3 starts/.test(l))).toHaveLength(1);

    const reference = (await runs.temporal.workflow
      .getHandle((await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('reference', 0) })).runId)
      .result()) as RunState;
    expect(reference.status, reference.error).toBe('completed');
    const got = (final.result as TrainResult).metrics;
    const want = (reference.result as TrainResult).metrics;
    for (const key of ['accuracy', 'loss', 'train_val_accuracy']) {
      expect(Math.abs(Number(got[key]) - Number(want[key])), key).toBeLessThanOrEqual(TOLERANCE);
    }
    // Every epoch's figures, the resumed epoch 2's loss and accuracy included: they cover all
    // its steps (the sums before the kill came back with its checkpoint), not only those after.
    for (const [i, e] of (reference.epochs ?? []).entries()) {
      for (const key of ['val_accuracy', 'loss', 'accuracy']) {
        expect(Math.abs(Number(final.epochs![i]!.metrics[key]) - Number(e.metrics[key])), `epoch ${e.epoch} ${key}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });
});

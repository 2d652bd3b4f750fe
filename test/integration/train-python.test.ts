/**
 * Python training code through the Python runtime: the PyTorch plugin trains and registers a
 * model; its Python process SIGKILLed mid-epoch fails the attempt, the retry resumes from the
 * mid-epoch checkpoint and the model equals an uninterrupted same-seed run (tolerance 1e-6:
 * the same float32 operations in the same order on the same threads); a fixture trainer's
 * bad protocol output, hang and crash are retried failures that say what happened, and its
 * requirements.txt gets a virtual environment of its own.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import type { RunState } from '../../contracts/run-state.js';
import type { TrainResult } from '../../contracts/train.js';
import { ROOT, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('train-python');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'python-trainer');

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 90, seed: 8, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
});

const finish = async (runId: string): Promise<RunState> => (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
const logs = async (runId: string): Promise<string[]> =>
  (await runs.events(runId, 0, 100_000))
    .filter((e) => e.data.kind === 'log')
    .map((e) => `${e.attempt} ${(e.data as { level: string }).level} ${(e.data as { message: string }).message}`);

const TOLERANCE = 1e-6;

describe('Python training code', () => {
  const params = (name: string, hyper: Record<string, unknown>) => ({
    name,
    dataset: data.groundTruth.versionId,
    hyperparameters: { epochs: 2, seed: 3, batch_size: 8, ...hyper },
    num_cpus: 1,
  });

  it('the PyTorch plugin trains, evaluates and registers a model; a killed Python process is retried from its checkpoint', async () => {
    const { runId } = await runs.start({
      plugin: 'train-image-classifier',
      action: 'train',
      params: params('cnn-killed', { checkpoint_every: 2, step_delay_ms: 150 }),
      heartbeatTimeoutSeconds: 10,
    });
    // Kill the Python process once epoch 2 has a mid-epoch checkpoint.
    await waitFor(
      async () => {
        const s = (await runs.store.latestCheckpoint(runId))?.state as { partial?: { epoch: number; step: number } } | undefined;
        return s?.partial && s.partial.epoch === 2 && s.partial.step >= 2 ? true : undefined;
      },
      90_000,
      'a mid-epoch checkpoint of epoch 2',
    );
    const started = (await runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'event' && e.data.event === 'python_started');
    const pid = Number((started[started.length - 1]!.data as unknown as { data: { pid: number } }).data.pid);
    process.kill(pid, 'SIGKILL');

    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.attempt).toBeGreaterThanOrEqual(2);
    const lines = await logs(runId);
    expect(
      lines.some((l) => l.includes(`the Python process (pid ${pid}) was killed by SIGKILL`)),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => /^[2-9] INFO epoch 2\/2 starts from step \d+ of epoch 2/.test(l)),
      lines.join('\n'),
    ).toBe(true);
    const result = final.result as TrainResult;
    expect(result.model.id).toBeGreaterThan(0);
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2]);

    const reference = await finish(
      (await runs.start({ plugin: 'train-image-classifier', action: 'train', params: params('cnn-reference', { checkpoint_every: 2 }) })).runId,
    );
    expect(reference.status, reference.error).toBe('completed');
    const want = (reference.result as TrainResult).metrics;
    // train_loss and train_accuracy are the resumed epoch 2's: over all its steps, not only those after the kill.
    for (const key of ['accuracy', 'loss', 'train_val_accuracy', 'train_loss', 'train_accuracy']) {
      expect(Math.abs(Number(result.metrics[key]) - Number(want[key])), `${key}: ${result.metrics[key]} vs ${want[key]}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('test and inference run the registered PyTorch model', async () => {
    const trained = await finish((await runs.start({ plugin: 'train-image-classifier', action: 'train', params: params('cnn-eval', { epochs: 3 }) })).runId);
    expect(trained.status, trained.error).toBe('completed');
    const model = (trained.result as TrainResult).model.id;
    const tested = await finish(
      (await runs.start({ plugin: 'train-image-classifier', action: 'test', params: { model, dataset: data.groundTruth.versionId, split: 'all' } })).runId,
    );
    expect(tested.status, tested.error).toBe('completed');
    expect(tested.result).toMatchObject({ model, items: 90 });
    const inferred = await finish(
      (
        await runs.start({
          plugin: 'train-image-classifier',
          action: 'inference',
          params: { model, dataset: data.groundTruth.versionId, batch_size: 40, project: data.project.id },
        })
      ).runId,
    );
    expect(inferred.status, inferred.error).toBe('completed');
    expect(inferred.result).toMatchObject({ predicted: 90, written: 90 });
  });

  it('a cancelled Python epoch stops at its next step; `run resume` finishes the training', async () => {
    // 18 steps of 300 ms an epoch. The cancellation reaches the step with a heartbeat response, and
    // heartbeats are throttled to 80 % of the 3 s timeout: it arrives well before the epoch could end.
    const { runId } = await runs.start({
      plugin: 'train-image-classifier',
      action: 'train',
      params: params('cnn-cancel', { epochs: 3, batch_size: 4, step_delay_ms: 300 }),
      heartbeatTimeoutSeconds: 3,
    });
    const epochEnds = async (id: string) =>
      (await runs.events(id, 0, 100_000))
        .filter((e) => e.data.kind === 'event' && e.data.event === 'epoch_end')
        .map((e) => Number((e.data as unknown as { data: { epoch: number } }).data.epoch));
    // Cancel once epoch 2 is under way (a step of it reported), not between two epochs.
    await waitFor(
      async () => {
        const events = await runs.events(runId, 0, 100_000);
        const start2 = events.find((e) => e.data.kind === 'log' && e.data.message.startsWith('epoch 2/3 starts'));
        return start2 && events.some((e) => e.id > start2.id && e.data.kind === 'progress' && e.data.category === 'epoch' && e.data.current >= 2)
          ? true
          : undefined;
      },
      90_000,
      'epoch 2 under way',
    );
    await runs.cancel(runId);
    const cancelled = await waitFor(
      async () => {
        const s = await runs.state(runId);
        return s.status === 'cancelled' ? s : undefined;
      },
      60_000,
      'cancelled',
    );
    expect(cancelled.status).toBe('cancelled');
    const lines = await logs(runId);
    // The Python code saw the cancellation inside epoch 2 and stopped there; epoch 3 never started.
    expect(
      lines.some((l) => l.includes('step cancelled')),
      lines.join('\n'),
    ).toBe(true);
    expect(await epochEnds(runId)).toEqual([1]);
    expect(lines.some((l) => l.includes('epoch 3/3 starts'))).toBe(false);

    const resumed = await runs.resume(runId);
    expect(resumed.resumedFrom).toEqual({ runId, epoch: 1 });
    const final = await finish(resumed.runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(await epochEnds(resumed.runId)).toEqual([2, 3]);
  });

  it.each([
    ['garbage', 'wrote a line that is not the protocol on fd 3: "this is not json"'],
    ['hang', 'said nothing for 5 s during train_epoch: killed as hung'],
    ['crash', 'exited with code 3'],
  ])('%s on the first attempt is a retried failure that says what happened', async (mode, message) => {
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'train',
      params: params(`fixture-${mode}`, { epochs: 1, mode }),
      heartbeatTimeoutSeconds: 5,
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.attempt).toBe(2);
    const lines = await logs(runId);
    expect(
      lines.some((l) => l.startsWith('1 ERROR') && l.includes(message)),
      lines.join('\n'),
    ).toBe(true);
    // The plugin's prints reach the run's log, stdout as INFO and stderr as WARNING.
    expect(lines).toContain('2 INFO stdout line from the plugin');
    expect(lines).toContain('2 WARNING stderr line from the plugin');
    // requirements.txt: the plugin ran in its own virtual environment under the data dir.
    expect(
      lines.some((l) => l.includes(`at ${path.join(settings.dataDir, 'cache', 'python-envs')}`)),
      lines.join('\n'),
    ).toBe(true);
  });
});

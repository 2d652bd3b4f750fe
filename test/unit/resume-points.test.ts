/**
 * Where `synapse run resume` starts a train run (client/shapes/train.ts trainResumePoint), from
 * a real run store: after the last checkpointed epoch; for a resumed run that ended before its
 * first step wrote a checkpoint (cancelled at once), from the point it was itself started from,
 * so a chain A -> B -> C keeps A's epochs (train.test.ts's chain lost them when B's cancel beat
 * its prepare step: C started from epoch 0); and from epoch 0 for a run that never got anywhere.
 * A tune (client/shapes/tune.ts) the same way: a resumed tune cancelled before it opened its
 * study continues the study it was started with, not a new empty one.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainShape } from '../../client/shapes/train.js';
import { tuneShape } from '../../client/shapes/tune.js';
import type { ResumePoint } from '../../client/run-shape.js';
import type { TrainResumePoint } from '../../contracts/train.js';
import { KyselyRunStore } from '../../platform/kysely-run-store.js';
import type { RunRecord } from '../../platform/run-store.js';

let store: KyselyRunStore;
beforeAll(async () => {
  store = await KyselyRunStore.open({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-resume-point-')) });
});
afterAll(async () => {
  await store?.close();
});

const at = new Date().toISOString();
async function endedRun(id: string): Promise<RunRecord> {
  const run: RunRecord = {
    id,
    pluginCode: 'train-ts-example',
    pluginVersion: '1.0.0',
    action: 'train',
    category: 'neural_net',
    method: 'job',
    status: 'cancelled',
    params: {},
    createdAt: at,
    updatedAt: at,
  };
  await store.createRun(run);
  return run;
}

const FROM_A: TrainResumePoint = {
  runId: 'run-a',
  epoch: 2,
  model: { storage: 1, key: 'checkpoints/run-a/epoch-2.json' },
  history: [
    { epoch: 1, metrics: { loss: 0.9 } },
    { epoch: 2, metrics: { loss: 0.5 } },
  ],
};

describe('train resume point', () => {
  const resumePoint = trainShape.resumePoint!;

  it('a resumed run cancelled before its first checkpoint resumes from where it started, keeping the earlier epochs', async () => {
    const b = await endedRun('run-b');
    const point = await resumePoint({ run: b, store, startedFrom: async () => FROM_A });
    expect(point).toEqual({ ...FROM_A, runId: 'run-b' });
  });

  it('a run with a checkpoint resumes after its last epoch, with the epochs its events name', async () => {
    const c = await endedRun('run-c');
    await store.appendEvents([
      { runId: 'run-c', attempt: 1, at, data: { kind: 'event', event: 'epoch_history', data: { epoch: 2, metrics: { loss: 0.5 }, run: 'run-b' } } },
      { runId: 'run-c', attempt: 1, at, data: { kind: 'event', event: 'epoch_end', data: { epoch: 3, metrics: { loss: 0.3 } } } },
    ]);
    await store.saveCheckpoint('run-c', { seq: 1, attempt: 1, at, state: { kind: 'train', epoch: 3, model: { storage: 1, key: 'c3' } } });
    const asked: string[] = [];
    const point = await resumePoint({ run: c, store, startedFrom: async () => (asked.push('startedFrom'), FROM_A) });
    expect(point).toEqual({
      runId: 'run-c',
      epoch: 3,
      model: { storage: 1, key: 'c3' },
      history: [
        { epoch: 2, metrics: { loss: 0.5 } },
        { epoch: 3, metrics: { loss: 0.3 } },
      ],
    });
    expect(asked).toEqual([]);
  });

  it('a first run that never checkpointed resumes from epoch 0', async () => {
    const d = await endedRun('run-d');
    expect(await resumePoint({ run: d, store, startedFrom: async () => undefined })).toEqual({ runId: 'run-d', epoch: 0, model: null, history: [] });
  });
});

/** What a resumed tune's workflow input carries as its `resume` (client/shapes/tune.ts extraInput): no epoch. */
const TUNE_INPUT_RESUME = { runId: 'tune-a', study: 'tune-a' } as unknown as ResumePoint;

describe('tune resume point', () => {
  const resumePoint = tuneShape.resumePoint!;
  const trialEnd = (runId: string, number: number) => ({ runId, attempt: 1, at, data: { kind: 'event' as const, event: 'trial_end', data: { number } } });

  it("a resumed tune cancelled before it opened its study continues the study it was started with, counting that run's trials", async () => {
    await endedRun('tune-a');
    await store.appendEvents([
      { runId: 'tune-a', attempt: 1, at, data: { kind: 'event', event: 'study_open', data: { study: 'tune-a' } } },
      trialEnd('tune-a', 0),
      trialEnd('tune-a', 1),
      trialEnd('tune-a', 2),
    ]);
    const b = await endedRun('tune-b');
    const point = await resumePoint({ run: b, store, startedFrom: async () => TUNE_INPUT_RESUME });
    expect(point).toEqual({ runId: 'tune-b', epoch: 3, study: 'tune-a' });
  });

  it('a tune that opened its study resumes it with its own finished trials; one that never started gets its own', async () => {
    const c = await endedRun('tune-c');
    await store.appendEvents([
      { runId: 'tune-c', attempt: 1, at, data: { kind: 'event', event: 'study_open', data: { study: 'tune-a' } } },
      trialEnd('tune-c', 3),
    ]);
    expect(await resumePoint({ run: c, store, startedFrom: async () => undefined })).toEqual({ runId: 'tune-c', epoch: 1, study: 'tune-a' });
    const d = await endedRun('tune-d');
    expect(await resumePoint({ run: d, store, startedFrom: async () => undefined })).toEqual({ runId: 'tune-d', epoch: 0, study: 'tune-d' });
  });
});

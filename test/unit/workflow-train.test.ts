/**
 * The train run shape against stub activities (test/workflow-test-env.ts): epochs that each
 * start from the previous epoch's checkpoint, continue-as-new every `epochsPerRun` epochs
 * carrying the epoch, the checkpoint and the metrics history, and a resume that starts after
 * an earlier run's last epoch, in seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import type { ModelRef } from '../../contracts/train.js';
import { trainWorkflow, type TrainWorkflowInput } from '../../workflows/train.js';
import { executionOfActivity, startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

/** A trainer of `epochs` epochs whose loss is 1/epoch; each checkpoint's key names its epoch. */
function fakeTrainer(epochs: number) {
  const trained: { epoch: number; from: ModelRef | null; runId: string }[] = [];
  const activities: StubActivities = {
    async trainPrepare() {
      return { epochs, classes: ['a', 'b'], items: 40, splits: { train: 30, test: 10 }, fingerprint: 'fp', downloadedBytes: 0 };
    },
    async trainEpoch(input) {
      trained.push({ epoch: input.epoch, from: input.from, runId: executionOfActivity() });
      return { metrics: { loss: 1 / input.epoch }, checkpoint: { storage: 1, key: `ckpt/${input.epoch}` }, resumedAtStep: 0, attempt: 1, seconds: 0.01 };
    },
    async trainEvaluate(input) {
      return { accuracy: input.model.key === `ckpt/${epochs}` ? 0.9 : 0 };
    },
    async trainRegister(input) {
      return { id: 7, name: 'model', file: input.model, metrics: input.metrics as Record<string, number> };
    },
    async recordRunProgress() {},
    async recordRunStatus() {},
  };
  return { activities, trained };
}

function trainInput(extra: Partial<TrainWorkflowInput> = {}): TrainWorkflowInput {
  return { ...stubRunInput('neural_net', { dataset: { weight: 10 }, train: { weight: 80 }, model_upload: { weight: 10 } }), action: 'train', ...extra };
}

describe('train workflow (stub activities)', () => {
  let t: WorkflowTestEnv;
  let seq = 0;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  async function runTrain(fake: ReturnType<typeof fakeTrainer>, input: TrainWorkflowInput): Promise<{ final: RunState; executions: number }> {
    return t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(trainWorkflow, { workflowId: `train-${Date.now()}-${++seq}`, taskQueue, args: [input] });
      const final = await handle.result();
      return { final, executions: new Set(fake.trained.map((e) => e.runId)).size };
    });
  }

  it('continues as new every epochsPerRun epochs, carrying epoch, checkpoint and history: the result equals a run without', async () => {
    const straight = fakeTrainer(5);
    const continued = fakeTrainer(5);
    const a = await runTrain(straight, trainInput());
    const b = await runTrain(continued, trainInput({ budget: { epochsPerRun: 2 } }));
    expect(a.executions).toBe(1);
    expect(b.executions).toBe(3);
    // Each epoch once, each from the checkpoint of the one before.
    expect(continued.trained.map((e) => [e.epoch, e.from?.key ?? null])).toEqual([
      [1, null],
      [2, 'ckpt/1'],
      [3, 'ckpt/2'],
      [4, 'ckpt/3'],
      [5, 'ckpt/4'],
    ]);
    for (const key of ['status', 'result', 'progress', 'metrics', 'percent', 'attempt', 'epochs'] as const) expect(b.final[key], key).toEqual(a.final[key]);
    expect(b.final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(b.final.result).toMatchObject({ epochs: 5, model: { id: 7, file: { key: 'ckpt/5' } }, metrics: { train_loss: 0.2, accuracy: 0.9 } });
    expect(b.final.progress.model_upload).toEqual({ current: 1, total: 1 });
  });

  it('a resumed run starts after the resume point, from its checkpoint, keeping the earlier epochs', async () => {
    const fake = fakeTrainer(4);
    const resume = {
      runId: 'earlier-run',
      epoch: 2,
      model: { storage: 1, key: 'ckpt/2' },
      history: [1, 2, 3].map((epoch) => ({ epoch, metrics: { loss: 1 / epoch } })),
    };
    const { final } = await runTrain(fake, trainInput({ resume }));
    expect(fake.trained.map((e) => [e.epoch, e.from?.key ?? null])).toEqual([
      [3, 'ckpt/2'],
      [4, 'ckpt/3'],
    ]);
    // The earlier run's epoch 3 never finished a checkpoint: it is dropped, then trained anew.
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(final.result).toMatchObject({ epochs: 4, resumedFrom: { runId: 'earlier-run', epoch: 2 } });
  });
});

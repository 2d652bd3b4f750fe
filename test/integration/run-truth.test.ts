/**
 * A run's record tells the truth after it ends, whatever ended it (issue 17, problems 2-4):
 * - a long run's continue-as-new segments are one row in `run list` (the latest execution);
 * - a terminated train run (`temporal workflow terminate`) is `terminated` in the run store
 *   too, so its model name is free and `run resume` starts it again;
 * - a run started from a plugin folder (not the plugins path) resumes from that folder;
 * - an ended train run (cancelled, terminated) keeps its epoch table and train progress, and
 *   a completed one's epoch progress is its last epoch's last step (the final report is sent).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { SA_ACTION, SA_CATEGORY, SA_METHOD, SA_PLUGIN_CODE, SA_PLUGIN_VERSION } from '../../client/search-attributes.js';
import { taskQueueFor } from '../../client/settings.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { trainWorkflow } from '../../workflows/train.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('run-truth');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
const PYTHON_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'python-trainer');

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 40, seed: 4, projectName: 'truth', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
});

const finish = async (runId: string): Promise<RunState> => (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
const params = (name: string, hyper: Record<string, unknown> = {}) => ({
  name,
  dataset: data.groundTruth.versionId,
  hyperparameters: { epochs: 3, seed: 2, ...hyper },
});
const epochEnds = async (runId: string): Promise<number> =>
  (await runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'event' && e.data.event === 'epoch_end').length;

describe('what a run says after it ends', () => {
  it('a run that continued as new twice is one row in `run list`, with its final status', async () => {
    const runId = `truth-can-${Date.now()}`;
    const p = params('truth-can', { epochs: 5 });
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
      // As RunsClient.start sets them: `run list` lists runs by them.
      typedSearchAttributes: [
        { key: SA_PLUGIN_CODE, value: 'train-ts-example' },
        { key: SA_PLUGIN_VERSION, value: '1.0.0' },
        { key: SA_ACTION, value: 'train' },
        { key: SA_CATEGORY, value: 'neural_net' },
        { key: SA_METHOD, value: 'job' },
      ],
    });
    const final = await handle.result();
    expect(final.status).toBe('completed');
    // The last epoch's last step reached the state (not a stale `epoch 47/51`).
    const epoch = final.progress.epoch;
    expect(epoch && epoch.total > 0 && epoch.current === epoch.total, JSON.stringify(final.progress)).toBe(true);
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    // Visibility is updated asynchronously: wait for the final execution's row, then count.
    const rows = await waitFor(
      async () => {
        const list = (await runs.list({ plugin: 'train-ts-example', limit: 100 })).filter((r) => r.runId === runId);
        return list.some((r) => r.status === 'completed') ? list : undefined;
      },
      30_000,
      'the completed row',
    );
    expect(rows.map((r) => r.status)).toEqual(['completed']);
    const cli = await runCli(['run', 'list', '--plugin', 'train-ts-example', '--json'], settings);
    expect((JSON.parse(cli.stdout) as { runId: string }[]).filter((r) => r.runId === runId)).toHaveLength(1);
  }, 180_000);

  it('a terminated train run is terminated in the run store: its model name is free and it resumes', async () => {
    const { runId } = await runs.start({ plugin: 'train-ts-example', action: 'train', params: params('truth-terminated', { epochs: 4, step_delay_ms: 40 }) });
    // The workflow has recorded an epoch (not only the step's epoch_end event): then terminate.
    await waitFor(async () => (((await runs.state(runId)).epochs?.length ?? 0) >= 1 ? true : undefined), 90_000, 'an epoch in the run state');
    await runs.temporal.workflow.getHandle(runId).terminate('issue 17 test');
    const terminated = await runs.state(runId);
    expect(terminated.status).toBe('terminated');
    // Its epoch table and train progress stay (from the workflow's state at its end).
    expect(terminated.epochs?.length).toBeGreaterThanOrEqual(1);
    expect(terminated.progress.train?.current).toBeGreaterThanOrEqual(1);
    expect((await runs.store.getRun(runId))?.status).toBe('terminated');

    const resumed = await runCli(['run', 'resume', runId, '--detach', '--json'], settings);
    expect(resumed.code, resumed.stderr).toBe(0);
    const started = JSON.parse(resumed.stdout) as { runId: string; resumedFrom: { runId: string; epoch: number } };
    expect(started.resumedFrom.runId).toBe(runId);
    expect(started.resumedFrom.epoch).toBeGreaterThanOrEqual(1);
    const final = await finish(started.runId);
    expect(final.status, final.error).toBe('completed');
  }, 240_000);

  it('a run started from a plugin folder resumes from that folder', async () => {
    const { runId } = await runs.start({
      plugin: PYTHON_FIXTURE,
      action: 'train',
      params: {
        name: 'truth-folder',
        dataset: data.groundTruth.versionId,
        hyperparameters: { epochs: 2, seed: 1, mode: 'loop', loop_steps: 150 },
        num_cpus: 1,
      },
      heartbeatTimeoutSeconds: 10,
    });
    await waitFor(async () => ((await epochEnds(runId)) >= 1 ? true : undefined), 120_000, 'epoch 1');
    await runs.cancel(runId);
    const cancelled = await waitFor(
      async () => {
        const s = await runs.state(runId);
        return s.status === 'cancelled' ? s : undefined;
      },
      60_000,
      'cancelled',
    );
    // An ended train run keeps its epoch table and train progress (1 of 2 epochs).
    expect(cancelled.epochs?.map((e) => e.epoch)).toEqual([1]);
    expect(cancelled.progress.train).toEqual({ current: 1, total: 2 });

    const resumed = await runCli(['run', 'resume', runId, '--detach', '--json'], settings);
    expect(resumed.code, resumed.stderr).toBe(0);
    const started = JSON.parse(resumed.stdout) as { runId: string; resumedFrom: { runId: string; epoch: number } };
    expect(started.resumedFrom).toEqual({ runId, epoch: 1 });
    const final = await finish(started.runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2]);
  }, 240_000);

  it('`run resume` of a run that does not resume says which runs do', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 5000, delayMs: 20 } });
    await runs.cancel(runId);
    await waitFor(async () => ((await runs.state(runId)).status === 'cancelled' ? true : undefined), 60_000, 'cancelled');
    const resumed = await runCli(['run', 'resume', runId], settings);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toMatch(/only .*train.* runs resume/);
  }, 120_000);
});

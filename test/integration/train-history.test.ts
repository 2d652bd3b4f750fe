/**
 * Bounded history (issue 17 item 1): steps signal their progress to the workflow at most every
 * PROGRESS_REPORT_INTERVAL_MS (5 s) and at their end, not every second, so a training run of
 * about 50 s (5 epochs of about 10 s, a progress update every step) stays under 100 history
 * events; with a signal a second it was over 200. The run's progress and epoch table still
 * reach the query and the Web UI's details.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import type { RunsClient } from '../../client/runs.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { connectRuns, startWorker, testSettings } from '../helpers.js';

const settings = testSettings('train-history');
let runs: RunsClient;
let worker: { stop(): Promise<void> };
let data: GenerateResult;

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 120, seed: 4, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  worker = await startWorker(settings);
  runs = await connectRuns(settings);
});
afterAll(async () => {
  await runs?.close();
  await worker?.stop();
});

describe('a 50 s training run', () => {
  it('has fewer than 100 history events, and its state still has every epoch', async () => {
    const started = Date.now();
    const { runId } = await runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: { name: 'history', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 5, seed: 5, batch_size: 8, step_delay_ms: 700 } },
    });
    const handle = runs.temporal.workflow.getHandle(runId);
    const final = (await handle.result()) as RunState;
    const seconds = (Date.now() - started) / 1000;
    expect(final.status, final.error).toBe('completed');
    expect(final.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const signals = events.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    console.log(`train run of ${seconds.toFixed(1)} s: ${events.length} history events, ${signals} progress signals`);
    // The run really is the 50 s run of the issue (about 13 steps of 0.7 s an epoch).
    expect(seconds).toBeGreaterThanOrEqual(40);
    expect(events.length).toBeLessThan(100);
    // The epoch's last step reached the workflow: the final state is not a step behind.
    expect(final.progress.epoch).toEqual({ current: final.progress.epoch!.total, total: final.progress.epoch!.total });
  }, 240_000);
});

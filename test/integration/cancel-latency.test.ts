/**
 * A cancel reaches plugin code within about a second whatever the heartbeat timeout (issue 17,
 * problem 1): the worker's heartbeat throttle is 1 s (workers/worker.ts), not the SDK's 0.8 x
 * the timeout (24 s at 30 s, 60 s at 120 s), and the run context heartbeats every second.
 *
 * Measured by the plugin's own loop, not by a clock: both plugins take a 20 ms step at a time
 * and log the step at which they saw the cancel. The step reported just before the request
 * is a lower bound of where the loop stood; the gap must be under 250 steps (5 s of steps),
 * where the old throttle let at least 1,200 steps (30 s) or 3,000 (120 s) pass first. A loaded
 * machine only makes the steps slower, so the gap smaller. The cancel comes after the 100th
 * step (2 s in), past the step's first heartbeat, which the SDK sends at once whatever its
 * throttle (a cancel before it is seen early with any throttle). Also: the state says
 * `cancelRequested` while the run still runs, and cancelling an ended run is exit 5.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { statusWords, type RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('cancel-latency');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
const PYTHON_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'python-trainer');
/** Steps the plugin may take between the request and seeing it: 5 s of 20 ms steps. */
const MAX_STEPS_AFTER_CANCEL = 250;

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 12, seed: 5, projectName: 'cancel', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
});

/** The latest progress of `category` in the run store (undefined before the first). */
async function latestProgress(runId: string, category: string): Promise<number | undefined> {
  const events = await runs.events(runId, 0, 100_000);
  const p = events.filter((e) => e.data.kind === 'progress' && e.data.category === category).at(-1);
  return p && p.data.kind === 'progress' ? p.data.current : undefined;
}

async function cancelAndCount(runId: string, category: string, logPattern: RegExp): Promise<{ before: number; seenAt: number; state: RunState }> {
  const before = await waitFor(
    async () => {
      const current = await latestProgress(runId, category);
      return current !== undefined && current >= 100 ? current : undefined;
    },
    120_000,
    `${category} progress past 100`,
  );
  await runs.cancel(runId);
  const state = await waitFor(
    async () => {
      const s = await runs.state(runId);
      return s.status === 'cancelled' ? s : undefined;
    },
    120_000,
    'the run cancelled',
  );
  const logs = (await runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
  const seen = logs.map((m) => logPattern.exec(m)).find(Boolean);
  expect(seen, logs.join('\n')).toBeTruthy();
  return { before, seenAt: Number(seen![1]), state };
}

describe('cancellation reaches plugin code within about a second', () => {
  for (const heartbeatTimeoutSeconds of [30, 120]) {
    it(`TypeScript, heartbeat timeout ${heartbeatTimeoutSeconds} s: ctx.signal fires within ${MAX_STEPS_AFTER_CANCEL} steps of 20 ms`, async () => {
      const { runId } = await runs.start({
        plugin: 'demo-validation',
        action: 'validation',
        params: { count: 100_000, delayMs: 20, checkpointEvery: 1_000_000 },
        heartbeatTimeoutSeconds,
      });
      const { before, seenAt, state } = await cancelAndCount(runId, 'validate', /^cancelled at item (\d+)/);
      expect(seenAt).toBeGreaterThanOrEqual(before);
      expect(seenAt - before).toBeLessThan(MAX_STEPS_AFTER_CANCEL);
      expect(state.status).toBe('cancelled');
    }, 180_000);

    it(`Python, heartbeat timeout ${heartbeatTimeoutSeconds} s: ctx.cancelled turns True within ${MAX_STEPS_AFTER_CANCEL} steps of 20 ms`, async () => {
      const { runId } = await runs.start({
        plugin: PYTHON_FIXTURE,
        action: 'train',
        params: {
          name: `loop-${heartbeatTimeoutSeconds}`,
          dataset: data.groundTruth.versionId,
          hyperparameters: { epochs: 1, seed: 1, mode: 'loop' },
          num_cpus: 1,
        },
        heartbeatTimeoutSeconds,
      });
      const { before, seenAt } = await cancelAndCount(runId, 'epoch', /^cancelled at step (\d+)/);
      expect(seenAt).toBeGreaterThanOrEqual(before);
      expect(seenAt - before).toBeLessThan(MAX_STEPS_AFTER_CANCEL);
    }, 240_000);
  }

  it('the state says cancellation requested at once, while the step has not yet stopped', async () => {
    // Items of 20 s: the action looks at ctx.signal only between items, so the run stays
    // running for a while after the request.
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3, delayMs: 20_000 }, heartbeatTimeoutSeconds: 30 });
    await waitFor(async () => ((await latestProgress(runId, 'load')) !== undefined ? true : undefined), 60_000, 'the step started');
    await runs.cancel(runId);
    const requested = await waitFor(
      async () => {
        const s = await runs.state(runId);
        return s.cancelRequested || s.status !== 'running' ? s : undefined;
      },
      30_000,
      'cancelRequested',
    );
    expect(requested.status).toBe('running');
    expect(requested.cancelRequested).toBe(true);
    expect(statusWords(requested)).toBe('running (cancellation requested)');
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.stdout).toMatch(/status +running \(cancellation requested\)/);
    await waitFor(async () => ((await runs.state(runId)).status === 'cancelled' ? true : undefined), 60_000, 'cancelled');
  }, 120_000);

  it('`run cancel` of a run that has ended is exit 5 and says it has ended', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 2, delayMs: 0 } });
    await runs.temporal.workflow.getHandle(runId).result();
    const cancel = await runCli(['run', 'cancel', runId], settings);
    expect(cancel.code).toBe(5);
    expect(cancel.stderr).toContain(`run ${runId} has already ended (completed)`);
    expect(cancel.stdout).not.toContain('requested');
  }, 60_000);
});

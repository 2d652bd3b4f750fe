/**
 * A run whose step Temporal is retrying says why its last attempt failed: `lastFailure` in its
 * state (CLI `run status`: a "retrying" line; the gateway's RunState), from the pending
 * activity's last failure, while the next attempt runs. Before, only the attempt number showed.
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { ROOT, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const PLUGIN = path.join(ROOT, 'test', 'fixtures', 'plugins', 'retry-once');
const settings = testSettings('run-retrying');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

it("a running run whose step is retried shows its last attempt's failure; a run that never failed shows none", async () => {
  const { runId } = await runs.start({ plugin: PLUGIN, action: 'validation', params: {} });
  const state = await waitFor(
    async () => {
      const s = await runs.state(runId);
      return s.status === 'running' && s.lastFailure ? s : undefined;
    },
    120_000,
    'the retried attempt',
  );
  expect(state.lastFailure).toContain('the first attempt breaks on purpose');
  expect(state.attempt).toBeGreaterThanOrEqual(2);
  await runs.cancel(runId);
  const ended = await waitFor(async () => {
    const s = await runs.state(runId);
    return s.status === 'cancelled' ? s : undefined;
  });
  expect(ended.lastFailure).toBeUndefined();

  const plain = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 20, delayMs: 200 } });
  const running = await waitFor(async () => {
    const s = await runs.state(plain.runId);
    return s.status === 'running' ? s : undefined;
  });
  expect(running.lastFailure).toBeUndefined();
});

/** Cancelling from the CLI reaches the action's ctx.signal within the heartbeat interval; the run ends cancelled. */
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('cancelling');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

describe('cancelling a run', () => {
  it('`synapse run cancel` stops the action through ctx.signal and the run ends cancelled', async () => {
    const { runId } = await runs.start({
      plugin: 'demo-validation',
      action: 'validation',
      params: { count: 5000, delayMs: 20 },
      heartbeatTimeoutSeconds: 3,
    });
    await waitFor(async () => {
      const p = (await runs.events(runId)).find((e) => e.data.kind === 'progress' && e.data.category === 'validate' && e.data.current > 0);
      return p ? true : undefined;
    });

    const cancel = await runCli(['run', 'cancel', runId], settings);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancellation of ${runId} requested`);

    const state = await waitFor(async () => {
      const s = await runs.state(runId);
      return s.status === 'cancelled' ? s : undefined;
    });
    expect(state.status).toBe('cancelled');
    // The action itself saw the cancellation and stopped early, not at the end of its work.
    const logs = (await runs.events(runId)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
    const stoppedAt = logs.map((m) => /^cancelled at item (\d+)/.exec(m)).find(Boolean);
    expect(stoppedAt, logs.join('\n')).toBeTruthy();
    expect(Number(stoppedAt![1])).toBeLessThan(5000);

    const status = await runCli(['run', 'status', runId, '--json'], settings);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as RunState).status).toBe('cancelled');
    await waitFor(async () => ((await runs.store.getRun(runId))?.status === 'cancelled' ? true : undefined), 10_000, 'run store status');
  });

  it('`run watch` of a cancelled run exits 1 and says so', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 5000, delayMs: 20 }, heartbeatTimeoutSeconds: 3 });
    await runs.cancel(runId);
    const watch = await runCli(['run', 'watch', runId, '--json'], settings);
    expect(watch.code).toBe(1);
    const end = JSON.parse(watch.stdout.trim().split('\n').at(-1) as string) as { state: RunState };
    expect(end.state.status).toBe('cancelled');
  });
});

/**
 * A run whose worker is gone (issue 17, problem 2): Temporal has the step's next attempt
 * scheduled once the heartbeat timeout passes, while no worker can report it. `run status`
 * shows that attempt, not `attempt 1` for ever. (The no-worker hint comes only once the dead
 * worker's last poll is 2 minutes old: an idle live worker's long poll looks the same.)
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { connectRuns, runCli, spawnWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('worker-gone');
let runs: RunsClient;
let worker: ChildProcess | undefined;
let runId: string | undefined;

beforeAll(async () => {
  runs = await connectRuns(settings);
});
afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  if (runId)
    await runs.temporal.workflow
      .getHandle(runId)
      .terminate('test over')
      .catch(() => {});
  await runs?.close();
});

describe('a run whose worker was killed', () => {
  it('shows the attempt Temporal has scheduled', async () => {
    worker = await spawnWorker(settings);
    ({ runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 5000, delayMs: 20 }, heartbeatTimeoutSeconds: 3 }));
    const id = runId;
    await waitFor(async () =>
      (await runs.events(id)).some((e) => e.data.kind === 'progress' && e.data.category === 'validate' && e.data.current > 0) ? true : undefined,
    );
    worker.kill('SIGKILL');
    await once(worker, 'exit');

    const state = await waitFor(
      async () => {
        const s = await runs.state(id);
        return s.attempt >= 2 ? s : undefined;
      },
      60_000,
      'attempt 2 in the run state',
    );
    expect(state.status).toBe('running');
    const status = await runCli(['run', 'status', id], settings);
    expect(status.stdout).toMatch(/^status +running +[\d.]+% +attempt [2-9]/m);
  }, 120_000);
});

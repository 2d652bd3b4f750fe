/**
 * A bug in plugin code fails its run at once (issue 17 item 4): a TypeError thrown by the
 * action is the plugin's bug, so the step is not retried (it was, ten times over minutes) and
 * the run's error names the class and, when the stack has it, the file:line in the plugin
 * folder. Run by a real worker (the action in its plugin host) on the dev server.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { highestActivityAttempt, ROOT, runCli, testSettings, useWorkerAndRuns } from '../helpers.js';

const settings = testSettings('plugin-bug');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

describe('a TypeError in plugin code', () => {
  it('fails the run on its first attempt with the class and where', async () => {
    const { runId } = await runs.start({ plugin: path.join(ROOT, 'test', 'fixtures', 'plugins', 'plugin-bug'), action: 'validation', params: {} });
    const final = (await runs.temporal.workflow
      .getHandle(runId)
      .result()
      .catch(() => undefined)) as RunState | undefined;
    expect(final).toBeUndefined();
    const state = await runs.state(runId);
    expect(state.status).toBe('failed');
    expect(state.error).toMatch(
      /^TypeError in plugin code at plugin\/bug\.ts:13:\d+: Cannot read properties of undefined \(reading 'name'\) \(a bug in the plugin: not retried\)$/,
    );
    console.log(`run error: ${state.error}`);
    expect(await highestActivityAttempt(runs, runId)).toBe(1);
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.stdout).toContain('TypeError in plugin code');
  }, 120_000);
});

/**
 * Bad input from the command line: each case gives one clear message, the exit code of
 * DESIGN.md section 8, no stack trace, and starts nothing.
 */
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { taskQueueFor } from '../../client/settings.js';
import { runActionWorkflow } from '../../workflows/run-action.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns } from '../helpers.js';

const settings = testSettings('bad-input');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

async function expectNotStarted(runId: string): Promise<void> {
  expect((await runCli(['run', 'status', runId], settings)).code).toBe(3);
}

describe('bad input on the command line', () => {
  it('params failing the schema: exit 2, every field named, nothing started', async () => {
    const res = await runCli(
      ['plugin', 'run', 'validation', '{"count": -1, "delayMs": "slow", "extra": 1}', '--plugin', 'demo-validation', '--job-id', 'bad-params-1'],
      settings,
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('invalid params for demo-validation validation');
    expect(res.stderr).toMatch(/count: .*>=\s*0/);
    expect(res.stderr).toMatch(/delayMs: .*number/);
    expect(res.stderr).toMatch(/extra/);
    expectNoStack(res.stderr);
    await expectNotStarted('bad-params-1');
  });

  it('params that are not JSON: exit 2', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '{count: 1', '--plugin', 'demo-validation'], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('params is not valid JSON');
    expectNoStack(res.stderr);
  });

  it('an unknown plugin or action: exit 3', async () => {
    const plugin = await runCli(['plugin', 'run', 'validation', '--plugin', 'no-such-plugin'], settings);
    expect(plugin.code).toBe(3);
    expect(plugin.stderr).toContain('unknown plugin "no-such-plugin"');
    expectNoStack(plugin.stderr);

    const action = await runCli(['plugin', 'run', 'train', '--plugin', 'demo-validation', '--job-id', 'bad-action-1'], settings);
    expect(action.code).toBe(3);
    expect(action.stderr).toContain('plugin demo-validation has no action "train" (it has: validation)');
    expectNoStack(action.stderr);
    await expectNotStarted('bad-action-1');
  });

  it('a --heartbeat-timeout that is not a positive number: exit 2 naming the option, nothing started', async () => {
    for (const value of ['abc', '0', '-5']) {
      const res = await runCli(['plugin', 'run', 'validation', '--plugin', 'noop', '--heartbeat-timeout', value, '--job-id', 'bad-heartbeat-1'], settings);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('heartbeat-timeout: must be a positive number of seconds');
      expectNoStack(res.stderr);
    }
    await expectNotStarted('bad-heartbeat-1');
  });

  it('a broken config.yaml: exit 2 with file:line:column', async () => {
    const dir = path.join(ROOT, 'test/fixtures/cli-plugins/broken-yaml');
    const res = await runCli(['plugin', 'run', 'export', '--plugin', dir], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${path.join(dir, 'config.yaml')}:3:`);
    expect(res.stderr).toContain('is not valid YAML');
    expectNoStack(res.stderr);
  });

  it('an unknown run: exit 3', async () => {
    for (const cmd of ['status', 'cancel', 'watch', 'logs']) {
      const res = await runCli(['run', cmd, 'no-such-run'], settings);
      expect(res.code, cmd).toBe(3);
      expect(res.stderr, cmd).toContain('unknown run "no-such-run"');
    }
  });

  it('a run id already in use: exit 2', async () => {
    await runs.start({ plugin: 'noop', action: 'validation', runId: 'taken-id-1' });
    const res = await runCli(['plugin', 'run', 'validation', '--plugin', 'noop', '--job-id', 'taken-id-1', '--detach'], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('run id "taken-id-1" is already in use');
  });

  it('an unreachable Temporal address: exit 4 naming the address', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '--plugin', 'noop'], settings, { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(res.code).toBe(4);
    expect(res.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
    expectNoStack(res.stderr);
  });

  it('an unknown command or option: exit 2', async () => {
    expect((await runCli(['plugin', 'fly'], settings)).code).toBe(2);
    expect((await runCli(['run', 'list', '--status', 'sleeping'], settings)).code).toBe(2);
  });

  it('params that reach the workflow unchecked fail it at once, non-retryably, listing every problem', async () => {
    // A client that skips validation (an old CLI, a hand-written start) must not cause retries.
    const handle = await runs.temporal.workflow.start(runActionWorkflow, {
      workflowId: 'unchecked-params-1',
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'demo-validation', version: '1.0.0' },
          action: 'validation',
          category: 'data_validation',
          method: 'job',
          params: { count: 'many', delayMs: -5 },
          progressCategories: {},
          heartbeatTimeoutSeconds: 10,
          startToCloseSeconds: 60,
        },
      ],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activityFailure = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activityFailure).toBeInstanceOf(ActivityFailure);
    const failure = activityFailure.cause as ApplicationFailure;
    expect(failure.type).toBe('ParamsError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/count: /);
    expect(failure.message).toMatch(/delayMs: /);
    const state = await runs.state('unchecked-params-1');
    expect(state.status).toBe('failed');
    expect(state.error).toContain('invalid params for demo-validation validation');
  });
});

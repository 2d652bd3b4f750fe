/**
 * Messages and exit codes a new user meets (issue 17 item 4), against the real dev server and
 * a worker: `--debug` on a category action says what it runs (exit 2, was exit 1 with a
 * TypeError), `run resume` of a completed run says it completed and what resumes (was "cancel
 * it first"), and `run list` shows a newer ended run above an older one still running (open
 * executions came first whatever their age).
 */
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('new-user-errors');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

describe('a new user', () => {
  it('gets exit 2 and what --debug runs for an export, a train and an upload action', async () => {
    for (const [plugin, action, shape] of [
      ['export-coco', 'export', 'export'],
      ['train-ts-example', 'train', 'train'],
      ['upload-files', 'upload', 'upload'],
    ] as const) {
      const r = await runCli(['plugin', 'run', action, '{}', '--plugin', plugin, '--debug'], settings);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${plugin} ${action} runs as the ${shape} workflow, whose steps run on a worker: drop --debug`);
    }
  }, 120_000);

  it('is told that a completed run has nothing to resume, and what resumes', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3, delayMs: 0 } });
    await runs.temporal.workflow.getHandle(runId).result();
    const r = await runCli(['run', 'resume', runId], settings);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`run ${runId} completed: there is nothing left to resume; only a cancelled, failed, terminated or timed-out train`);
    expect(r.stderr).not.toContain('cancel it first');
  }, 120_000);

  it('sees `run list` newest first, a newer completed run above an older running one', async () => {
    const older = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 400, delayMs: 100 } });
    try {
      await waitFor(async () => ((await runs.state(older.runId)).status === 'running' ? true : undefined));
      const newer = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 2, delayMs: 0 } });
      await runs.temporal.workflow.getHandle(newer.runId).result();
      const listed = await waitFor(async () => {
        const ids = (await runs.list({ plugin: 'demo-validation' })).map((r) => r.runId);
        return ids.includes(newer.runId) && ids.includes(older.runId) ? ids : undefined;
      });
      expect(listed.indexOf(newer.runId)).toBeLessThan(listed.indexOf(older.runId));
      const cli = await runCli(['run', 'list'], settings);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout.indexOf(newer.runId)).toBeLessThan(cli.stdout.indexOf(older.runId));
    } finally {
      await runs.temporal.workflow
        .getHandle(older.runId)
        .terminate('test over')
        .catch(() => {});
    }
  }, 120_000);
});

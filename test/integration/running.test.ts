/**
 * A plugin action started from the CLI runs as a Temporal workflow on a real dev server:
 * progress, metrics and logs are visible while and after it runs, and the run carries its
 * search attributes; the run store has its end once.
 */
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { SA_ACTION, SA_CATEGORY, SA_METHOD, SA_PLUGIN_CODE, SA_PLUGIN_VERSION } from '../../client/search-attributes.js';
import { runStateQuery } from '../../contracts/run-messages.js';
import type { RunState } from '../../contracts/run-state.js';
import { runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('running');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

describe('running a plugin action', () => {
  it('--detach prints the run id and `run status --json` returns status, progress and metrics', async () => {
    const started = await runCli(
      ['plugin', 'run', 'validation', '{"count": 30, "delayMs": 5}', '--plugin', 'demo-validation', '--detach', '--job-id', 'status-json-1'],
      settings,
    );
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout.trim()).toBe('status-json-1');

    await waitFor(async () => ((await runs.state('status-json-1')).status === 'completed' ? true : undefined));
    const status = await runCli(['run', 'status', 'status-json-1', '--json'], settings);
    expect(status.code).toBe(0);
    const state = JSON.parse(status.stdout) as RunState;
    expect(state.status).toBe('completed');
    expect(state.percent).toBe(100);
    expect(state.progress).toEqual({ load: { current: 30, total: 30 }, validate: { current: 30, total: 30 } });
    expect(state.metrics.validation).toMatchObject({ checked: 30 });
    expect(state.result).toMatchObject({ checked: 30, resumedFrom: null });
    expect((state.result as { valid: number }).valid + (state.result as { invalid: number }).invalid).toBe(30);

    // The run store has the end once, written by the step itself after its last events; the
    // workflow's history has no local activity (marker) for it (activities/run-action.ts).
    const row = await runs.store.getRun('status-json-1');
    expect(row?.status).toBe('completed');
    expect(row?.result).toEqual(state.result);
    const events = await runs.events('status-json-1');
    const statuses = events.filter((e) => e.data.kind === 'status');
    expect(statuses.map((e) => e.data)).toEqual([{ kind: 'status', status: 'completed' }]);
    expect(events.at(-1)).toBe(statuses[0]);
    const history = await runs.temporal.workflow.getHandle('status-json-1').fetchHistory();
    expect(history.events?.filter((e) => e.markerRecordedEventAttributes)).toEqual([]);
  });

  it('--follow prints JSON lines of progress per category and exits 0 with the result', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '{"count": 20, "delayMs": 5}', '--plugin', 'demo-validation', '--follow'], settings);
    expect(res.code).toBe(0);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const categories = new Set(lines.filter((l) => l.kind === 'progress').map((l) => l.category));
    expect(categories).toEqual(new Set(['load', 'validate']));
    expect(lines.some((l) => l.kind === 'metrics')).toBe(true);
    expect(lines.some((l) => l.kind === 'log' && String(l.message).startsWith('validating 20 items'))).toBe(true);
    const end = lines.at(-1) as { type: string; state: RunState };
    expect(end.type).toBe('end');
    expect(end.state.status).toBe('completed');
    expect(end.state.result).toMatchObject({ checked: 20 });
  });

  it('the query serves progress while the run is going, and the run has its search attributes', async () => {
    // About 12 s: steps signal progress to the workflow at most every 5 s (bounded history).
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 400, delayMs: 30 } });
    const handle = runs.temporal.workflow.getHandle(runId);
    const midway = await waitFor(async () => {
      const s = await handle.query(runStateQuery);
      const v = s.progress.validate;
      return v && v.current > 0 && v.current < 400 ? s : undefined;
    });
    expect(midway.status).toBe('running');
    expect(midway.percent).toBeGreaterThan(0);
    expect(midway.percent).toBeLessThan(100);
    expect(midway.progress.load).toEqual({ current: 400, total: 400 });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(SA_PLUGIN_CODE)).toBe('demo-validation');
    expect(description.typedSearchAttributes.get(SA_PLUGIN_VERSION)).toBe('1.0.0');
    expect(description.typedSearchAttributes.get(SA_ACTION)).toBe('validation');
    expect(description.typedSearchAttributes.get(SA_CATEGORY)).toBe('data_validation');
    expect(description.typedSearchAttributes.get(SA_METHOD)).toBe('job');

    const final = (await handle.result()) as RunState;
    expect(final.status).toBe('completed');
    expect(final.percent).toBe(100);
  });

  it('an empty run (total 0) completes as done', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '{"count": 0}', '--plugin', 'demo-validation', '--json'], settings);
    expect(res.code).toBe(0);
    const end = JSON.parse(res.stdout.trim().split('\n').at(-1) as string) as { state: RunState };
    expect(end.state.status).toBe('completed');
    expect(end.state.progress.validate).toEqual({ current: 0, total: 0 });
    expect(end.state.percent).toBe(100);
  });

  it('run list filters by plugin, action, category and status', async () => {
    const all = await waitFor(async () => {
      const list = await runs.list({ plugin: 'demo-validation', status: 'completed' });
      return list.length >= 2 ? list : undefined;
    });
    expect(all.every((r) => r.plugin === 'demo-validation' && r.status === 'completed')).toBe(true);
    expect(await runs.list({ plugin: 'no-such-plugin' })).toEqual([]);
    expect((await runs.list({ category: 'data_validation', action: 'validation' })).length).toBeGreaterThanOrEqual(2);
    const cli = await runCli(['run', 'list', '--plugin', 'demo-validation', '--json'], settings);
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as unknown[]).length).toBeGreaterThanOrEqual(2);
  });

  it('run logs prints the log lines of a run', async () => {
    const res = await runCli(['run', 'logs', 'status-json-1'], settings);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/INFO\s+validating 30 items/);
    expect(res.stdout).toMatch(/INFO\s+done: \d+ valid, \d+ invalid/);
  });
});

/**
 * The seed's export filter keys (issue 12, fault 10): `assignment` on a task export and
 * `task` on an assignment export select exactly those records, `status` filters, a task's
 * `expand: ["assignment"]` brings its assignments; an unknown key, an unknown storage or a
 * reference that does not exist is a params error before the run starts (exit 2 on the
 * command line, nothing started), never an export of everything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { ParamsError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, runCli, startWorker, testSettings } from '../helpers.js';
import { createEdgeData, EDGE_UNITS, type EdgeData } from '../export-fidelity-data.js';

describe('export filters', () => {
  const settings = testSettings('export-filters');
  const root = path.join(settings.dataDir, 'storage', 'default');
  let runs: RunsClient;
  let worker: { stop(): Promise<void> };
  let data: EdgeData;

  const exportJson = async (name: string, target: string, filter: Record<string, unknown>): Promise<RunState> => {
    const { runId } = await runs.start({ plugin: 'export-json', action: 'export', params: { name, storage: 'default', target, filter } });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, JSON.stringify(final.error ?? null)).toBe('completed');
    return final;
  };
  const items = (name: string) =>
    readdirSync(path.join(root, name, 'json')).map((f) => JSON.parse(readFileSync(path.join(root, name, 'json', f), 'utf8')) as Record<string, unknown>);

  beforeAll(async () => {
    data = await createEdgeData(settings);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
  });

  it("task export with {project, assignment}: only that assignment's task; expand adds its assignments", async () => {
    const bob = data.assignmentIds.at(-1)!;
    const final = await exportJson('t-by-assignment', 'task', { project: data.projectId, assignment: bob, expand: ['data_unit', 'assignment'] });
    expect(final.result).toMatchObject({ total: 1, success: 1 });
    const [task] = items('t-by-assignment');
    expect(task!.id).toBe(data.taskIds[0]);
    expect((task!.assignments as { annotator: string }[]).map((a) => a.annotator).sort()).toEqual(['alice', 'bob']);
    // Without expand, no assignments in the item.
    await exportJson('t-all', 'task', { project: data.projectId });
    expect(items('t-all')).toHaveLength(EDGE_UNITS.length);
    expect(items('t-all').every((t) => !('assignments' in t))).toBe(true);
  });

  it('assignment export with {project, task} and {project, status}', async () => {
    expect((await exportJson('a-task', 'assignment', { project: data.projectId, task: data.taskIds[0] })).result).toMatchObject({ total: 2 });
    expect((await exportJson('a-submitted', 'assignment', { project: data.projectId, status: 'submitted', expand: ['data'] })).result).toMatchObject({
      total: 1,
    });
    expect(items('a-submitted')[0]!.annotator).toBe('bob');
  });

  it('an unknown filter key, a bad status or expand, an unknown storage, project or assignment: a params error naming each, no run', async () => {
    const start = (params: Record<string, unknown>) =>
      runs
        .start({
          plugin: 'export-json',
          action: 'export',
          params: { name: 'bad', storage: 'default', target: 'task', filter: { project: data.projectId }, ...params },
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
    const paths = async (params: Record<string, unknown>) => {
      const err = await start(params);
      expect(err).toBeInstanceOf(ParamsError);
      return (err as ParamsError).problems.map((p) => p.path).sort();
    };
    expect(await paths({ filter: { project: data.projectId, projekt: 1 } })).toEqual(['filter.projekt']);
    expect(await paths({ filter: { project: data.projectId, status: 'done', expand: ['data_units'] } })).toEqual(['filter.expand', 'filter.status']);
    expect(await paths({ storage: 'nowhere' })).toEqual(['storage']);
    expect(await paths({ filter: { project: 999 } })).toEqual(['filter.project']);
    expect(await paths({ filter: { project: data.projectId, assignment: 999 } })).toEqual(['filter.assignment']);

    const cli = await runCli(
      [
        'plugin',
        'run',
        'export',
        JSON.stringify({ name: 'bad', storage: 'nowhere', target: 'task', filter: { project: data.projectId, assignment: 3, projekt: 1 } }),
        '--plugin',
        'export-json',
        '--job-id',
        'bad-export-1',
      ],
      settings,
    );
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('filter.projekt');
    expect((await runCli(['run', 'status', 'bad-export-1'], settings)).code).toBe(3);
  });
});

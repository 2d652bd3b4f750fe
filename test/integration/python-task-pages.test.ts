/**
 * A Python plugin of an annotation category (data_validation, task pages) on real platform
 * data: the hooks run in the plugin's warm Python process and reach the platform only through
 * ctx.platform requests answered by the worker (runtimes/python/synapse_task_pages.py,
 * activities/python-task-pages.ts). A generated project with two spoiled tasks: one whose
 * annotations are empty (the plugin raises: that task fails alone) and one with an unknown class
 * (the plugin fails it with the names). Every task's result is stored, the report written by
 * finish() is in storage, and a misspelt filter key, in task_filters or in a platform call from
 * Python, stops the run naming the key.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { listItemResults, listTasks } from '../../platform/repositories/index.js';
import { connectRuns, ROOT, startWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('pytasks');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'plugins');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 12, seed: 5, projectName: 'pyval', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('a Python validation plugin (task pages)', () => {
  it('stores every task result; the task that raises fails alone; finish writes the report', async () => {
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    expect(tasks).toHaveLength(12);
    const spoil = async (i: number, change: (doc: { annotations: { class_name: string }[] }) => void) => {
      const row = await platform.db.selectFrom('assignments').select(['id', 'annotations']).where('task_id', '=', tasks[i]!.id).executeTakeFirstOrThrow();
      const doc = (typeof row.annotations === 'string' ? JSON.parse(row.annotations) : row.annotations) as { annotations: { class_name: string }[] };
      change(doc);
      await platform.db
        .updateTable('assignments')
        .set({ annotations: JSON.stringify(doc) })
        .where('id', '=', row.id)
        .execute();
    };
    await spoil(0, (d) => (d.annotations = []));
    await spoil(1, (d) => (d.annotations[0]!.class_name = 'hexagon'));

    const { runId } = await runs.start({ plugin: path.join(FIXTURES, 'validate-python'), action: 'validation', params: { project: data.project.name } });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    const reportKey = `python-reports/${runId}.json`;
    expect(final.result).toMatchObject({ total: 12, success: 10, failed: 2, report: reportKey });
    expect(final.metrics.annotate_task_data).toEqual({ total: 12, success: 10, failed: 2, stand_by: 0 });

    const results = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(results.size).toBe(12);
    const raised = results.get(`task:${tasks[0]!.id}`)!;
    expect(raised.status).toBe('failed');
    expect(raised.data.error).toBe(`ValueError: task ${tasks[0]!.id} has no annotations`);
    const unknown = results.get(`task:${tasks[1]!.id}`)!;
    expect(unknown.status).toBe('failed');
    expect(unknown.data).toMatchObject({ boxes: 1, png: true, unknown_classes: ['hexagon'] });
    for (const t of tasks.slice(2)) {
      const r = results.get(`task:${t.id}`)!;
      expect(r.status, JSON.stringify(r.data)).toBe('success');
      expect(r.data).toMatchObject({ boxes: 1, png: true, min_boxes: 1 });
      expect(r.data.image_bytes as number).toBeGreaterThan(8);
    }

    const report = JSON.parse(readFileSync(path.join(settings.dataDir, 'storage', 'default', reportKey), 'utf8')) as unknown;
    expect(report).toEqual({ total: 12, success: 10, failed: [`task:${tasks[0]!.id}`, `task:${tasks[1]!.id}`].sort() });
  });

  it('a Python process that dies mid-page: the page is retried in a fresh process, the results on record kept, nothing written twice', async () => {
    const { runId } = await runs.start({ plugin: path.join(FIXTURES, 'python-crash-once'), action: 'validation', params: { project: data.project.id } });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: 12, success: 12, failed: 0 });
    const results = await listItemResults(platform.db, runId);
    expect(results).toHaveLength(12);
    // Item keys sort as text; the first two tasks by id were done (and flushed) before the crash.
    const byId = [...results].sort((a, b) => Number(a.item.slice(5)) - Number(b.item.slice(5)));
    expect(byId.map((r) => r.attempt)).toEqual([1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(byId[0]!.data.pid).toBe(byId[1]!.data.pid);
    expect(byId[2]!.data.pid).not.toBe(byId[0]!.data.pid);
  });

  it("the action's own params (config.yaml params) are checked at start: an unknown key or a bad value is refused, naming it", async () => {
    const start = (params: Record<string, unknown>) =>
      runs.start({ plugin: path.join(FIXTURES, 'validate-python'), action: 'validation', params: { project: data.project.id, ...params } }).then(
        () => undefined,
        (err: unknown) => err,
      );
    const unknown = await start({ min_box: 2 });
    expect(unknown).toBeInstanceOf(InvalidInputError);
    expect((unknown as InvalidInputError).problems).toEqual([{ path: 'min_box', message: 'unknown key "min_box"' }]);
    const bad = await start({ min_boxes: -1 });
    expect(bad).toBeInstanceOf(InvalidInputError);
    expect((bad as InvalidInputError).problems.map((p) => p.path)).toEqual(['min_boxes']);
  });

  it('an unknown task_filters key is refused at start, naming it', async () => {
    const refused = await runs
      .start({ plugin: path.join(FIXTURES, 'validate-python'), action: 'validation', params: { project: data.project.name, task_filters: { asignee: 'x' } } })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect((refused as InvalidInputError).exitCode).toBe(2);
    expect((refused as InvalidInputError).problems).toEqual([{ path: 'task_filters.asignee', message: 'unknown key "asignee"' }]);
  });

  it('an unknown filter key in a platform call from Python stops the run in prepare, naming it, with nothing written', async () => {
    const { runId } = await runs.start({ plugin: path.join(FIXTURES, 'python-bad-filter'), action: 'validation', params: { project: data.project.id } });
    const err = await runs.temporal.workflow
      .getHandle(runId)
      .result()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const state = await waitFor(async () => {
      const run = await runs.store.getRun(runId);
      return run?.status === 'failed' ? run : undefined;
    });
    expect(state.error).toContain('InvalidInputError: invalid task filter');
    expect(state.error).toContain('unknown key "asignee"');
    expect(await listItemResults(platform.db, runId)).toEqual([]);
  });
});

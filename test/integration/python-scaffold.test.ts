/**
 * `synapse plugin create --runtime python` for the annotation categories makes plugins that
 * work as they come: each scaffold (pre_annotation's to_task and pre_annotation,
 * data_validation's validation, post_annotation) passes `plugin check` and runs as task pages
 * on generated platform data through its warm Python process, doing what its template says
 * (cli/plugin-scaffold-python.ts). smart_tool is refused, naming --runtime.
 */
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { assignmentsByTask, listItemResults, listTasks } from '../../platform/repositories/index.js';
import { connectRuns, runCli, startWorker, testSettings } from '../helpers.js';

const settings = testSettings('pyscaffold');
const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-pyscaffold-'));
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 6, seed: 9, projectName: 'pyscaf', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

/** Creates and checks a Python scaffold; returns its folder. */
async function scaffold(category: string, action: string): Promise<string> {
  const dir = path.join(work, `py-${action.replace(/_/g, '-')}`);
  const created = await runCli(['plugin', 'create', dir, '--category', category, '--action', action, '--runtime', 'python'], settings);
  expect(created.code, created.stderr).toBe(0);
  expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toContain('runtime: python');
  const check = await runCli(['plugin', 'check', dir], settings);
  expect(check.code, `${dir}: ${check.stderr}`).toBe(0);
  return dir;
}

async function run(dir: string, action: string, params: Record<string, unknown>): Promise<{ runId: string; final: RunState }> {
  const { runId } = await runs.start({ plugin: dir, action, params });
  const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
  expect(final.status, final.error).toBe('completed');
  return { runId, final };
}

describe('plugin create --runtime python, annotation categories', () => {
  it('validation: every generated task passes; the report is in storage', async () => {
    const dir = await scaffold('data_validation', 'validation');
    const { runId, final } = await run(dir, 'validation', { project: data.project.id });
    expect(final.result).toMatchObject({ total: 6, success: 6, failed: 0, report: `reports/${runId}.json` });
    const report = JSON.parse(readFileSync(path.join(settings.dataDir, 'storage', 'default', 'reports', `${runId}.json`), 'utf8')) as unknown;
    expect(report).toEqual({ total: 6, valid: 6, failed: [] });
    // Its own param (config.yaml params) reaches the Python code.
    const strict = await run(dir, 'validation', { project: data.project.id, min_boxes: 2 });
    expect(strict.final.result).toMatchObject({ total: 6, success: 0, failed: 6 });
    const results = await listItemResults(platform.db, strict.runId);
    expect(results.map((r) => r.data.problems)).toEqual(Array(6).fill(['1 boxes, fewer than 2']));
  });

  it('to_task: the task whose unit has an annotation file gets it; the others are skipped', async () => {
    const dir = await scaffold('pre_annotation', 'to_task');
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const target = tasks[0]!;
    const docs = await assignmentsByTask(platform.db, [target.id]);
    const doc = structuredClone(docs.get(target.id)![0]!.annotations) as { annotations: { x: number }[] };
    doc.annotations[0]!.x = 3;
    const key = `pyscaf-annotations/${target.dataUnit.uniqueKey}.json`;
    mkdirSync(path.join(settings.dataDir, 'storage', 'default', 'pyscaf-annotations'), { recursive: true });
    writeFileSync(path.join(settings.dataDir, 'storage', 'default', key), JSON.stringify(doc));
    const files = { ...target.dataUnit.files, annotation: { storage: target.dataUnit.files.image!.storage, key } };
    await platform.db
      .updateTable('data_units')
      .set({ files: JSON.stringify(files) })
      .where('id', '=', target.dataUnit.id)
      .execute();

    const { runId, final } = await run(dir, 'to_task', { project: data.project.name });
    expect(final.result).toMatchObject({ total: 6, success: 1, skipped: 5, failed: 0 });
    const results = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(results.get(`task:${target.id}`)).toMatchObject({ status: 'success', data: { boxes: 1 } });
    const written = (await assignmentsByTask(platform.db, [target.id])).get(target.id)!.find((a) => a.annotator === 'plugin:py-to-task');
    expect((written?.annotations.annotations[0] as { x: number } | undefined)?.x).toBe(3);
  });

  it('pre_annotation: each data unit has its task (existing ones kept, none made twice)', async () => {
    const dir = await scaffold('pre_annotation', 'pre_annotation');
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const { runId, final } = await run(dir, 'pre_annotation', { project: data.project.id });
    expect(final.result).toMatchObject({ total: 6, success: 6, failed: 0 });
    const results = await listItemResults(platform.db, runId);
    expect(results.map((r) => r.data.task).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect(await listTasks(platform.db, { projectId: data.project.id })).toHaveLength(6);
  });

  it('post_annotation: completed assignments go into one ground-truth version', async () => {
    const dir = await scaffold('post_annotation', 'post_annotation');
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const byTask = await assignmentsByTask(
      platform.db,
      tasks.map((t) => t.id),
    );
    const completed = tasks.filter((t) => (byTask.get(t.id) ?? []).some((a) => a.status === 'completed')).length;
    expect(completed).toBeGreaterThan(0);
    const { runId, final } = await run(dir, 'post_annotation', { project: data.project.id });
    expect(final.result).toMatchObject({ total: 6, success: completed, skipped: 6 - completed, failed: 0 });
    const versions = new Set((await listItemResults(platform.db, runId)).filter((r) => r.status === 'success').map((r) => r.data.version));
    expect(versions.size).toBe(1);
    const rows = await platform.db
      .selectFrom('ground_truth_events')
      .select('id')
      .where('version_id', '=', [...versions][0] as number)
      .execute();
    expect(rows).toHaveLength(completed);
  });

  it('smart_tool is refused, naming --runtime', async () => {
    const refused = await runCli(['plugin', 'create', path.join(work, 'py-auto'), '--category', 'smart_tool', '--runtime', 'python'], settings);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--runtime: python runs neural_net trainers');
  });
});

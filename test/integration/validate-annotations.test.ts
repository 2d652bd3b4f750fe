/**
 * validation (data_validation, the task-page run shape) on real platform data: a generated
 * project (PNG images, one box per task with its required `color` attribute) in which seven
 * tasks are spoiled one way each, written straight into the database as a buggy tool would
 * (a box outside the image, an unknown class, a duplicate box, an overlapping box, a missing
 * required attribute, no annotations, an image gone from storage). The run fails exactly those
 * tasks, each with its problem code, passes the others, and writes the report file. And a
 * validation whose worker is SIGKILLed mid-page finishes on a new worker with every task
 * checked once and nothing on record before the kill written again.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { assignmentsByTask, countItemResults, listItemResults, listTasks } from '../../platform/repositories/index.js';
import { connectRuns, ROOT, spawnWorker, startWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('validate');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
const children: ChildProcess[] = [];
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 20, seed: 3, projectName: 'val', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('validate-annotations', () => {
  it('fails exactly the spoiled tasks, each with its problem, and writes the report', async () => {
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const docs = await assignmentsByTask(
      platform.db,
      tasks.map((t) => t.id),
    );
    const docOf = (i: number) => structuredClone(docs.get(tasks[i]!.id)![0]!.annotations);
    const write = async (i: number, doc: unknown) => {
      await platform.db
        .updateTable('assignments')
        .set({ annotations: JSON.stringify(doc) })
        .where('task_id', '=', tasks[i]!.id)
        .execute();
    };
    const spoiled: Record<number, string> = {};
    // 0: a box outside the 64 x 64 image.
    let d = docOf(0);
    Object.assign(d.annotations[0]!, { x: 50, width: 30 });
    await write(0, d);
    spoiled[0] = 'outside_image';
    // 1: an unknown class.
    d = docOf(1);
    d.annotations[0]!.class_name = 'hexagon';
    await write(1, d);
    spoiled[1] = 'unknown_class';
    // 2: the same box twice.
    d = docOf(2);
    d.annotations.push({ ...d.annotations[0]!, id: 'copy' });
    await write(2, d);
    spoiled[2] = 'duplicate';
    // 3: a box overlapping the first (same class, IoU 0.6).
    d = docOf(3);
    const b = d.annotations[0] as { x: number; y: number; width: number; height: number };
    const shifted = { ...d.annotations[0]!, id: 'shifted', x: b.x + b.width / 4, width: b.width } as (typeof d.annotations)[number];
    d.annotations.push(shifted);
    await write(3, d);
    spoiled[3] = 'overlap';
    // 4: the required colour left out.
    d = docOf(4);
    d.annotations[0]!.attributes = {};
    await write(4, d);
    spoiled[4] = 'missing_attribute';
    // 5: no annotations.
    d = docOf(5);
    d.annotations = [];
    await write(5, d);
    spoiled[5] = 'empty';
    // 6: its image gone from storage.
    const imageKey = tasks[6]!.dataUnit.files.image!.key;
    const { rm } = await import('node:fs/promises');
    await rm(path.join(settings.dataDir, 'storage', 'default', imageKey));
    spoiled[6] = 'missing_file';

    const { runId } = await runs.start({
      plugin: 'validate-annotations',
      action: 'validation',
      params: { project: data.project.id, storage: 'default', report_path: 'reports' },
    });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: 20, success: 13, failed: 7, report: `reports/${runId}.json` });
    expect(final.metrics.annotate_task_data).toEqual({ total: 20, success: 13, failed: 7, stand_by: 0 });

    const results = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(results.size).toBe(20);
    tasks.forEach((t, i) => {
      const r = results.get(`task:${t.id}`)!;
      const codes = ((r.data.problems as { code: string }[] | undefined) ?? []).map((p) => p.code);
      if (spoiled[i]) {
        expect(r.status, `task ${i}`).toBe('failed');
        expect(codes, `task ${i}`).toEqual([spoiled[i]]);
      } else {
        expect(r.status, `task ${i}: ${JSON.stringify(r.data)}`).toBe('success');
      }
    });

    const report = JSON.parse(readFileSync(path.join(settings.dataDir, 'storage', 'default', 'reports', `${runId}.json`), 'utf8')) as {
      total: number;
      invalid: number;
      problems: Record<string, number>;
      failed: { item: string }[];
    };
    expect(report.total).toBe(20);
    expect(report.invalid).toBe(7);
    expect(report.problems).toEqual({ outside_image: 1, unknown_class: 1, duplicate: 1, overlap: 1, missing_attribute: 1, empty: 1, missing_file: 1 });
    expect(report.failed.map((f) => f.item).sort()).toEqual(
      Object.keys(spoiled)
        .map((i) => `task:${tasks[Number(i)]!.id}`)
        .sort(),
    );
  });
});

describe('validation with its worker killed mid-run', () => {
  it('finishes on a new worker: every task once, nothing written before the kill written again, the report whole', async () => {
    await worker?.stop();
    worker = undefined;
    const more = await generateSampleData(platform, { count: 100, seed: 8, projectName: 'val-kill', dataDir: settings.dataDir });
    children.push(await spawnWorker(settings));
    const plugin = path.join(ROOT, 'test', 'fixtures', 'plugins', 'validate-slow');
    const { runId } = await runs.start({
      plugin,
      action: 'validation',
      params: { project: more.project.id, delay_ms: 40, report_path: 'kill' },
      heartbeatTimeoutSeconds: 3,
    });
    await waitFor(async () => ((await countItemResults(platform.db, runId)).success >= 30 ? true : undefined));
    const first = children[0]!;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const killedAt = new Date().toISOString();
    const before = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(before.size).toBeLessThan(100);

    children.push(await spawnWorker(settings));
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    // Whether a page step was cut mid-way depends on where the kill lands (it was not, in 2 of ~6
    // runs): what this test holds to is that the run finished after the kill with every task once.
    expect(final.result).toMatchObject({ total: 100, success: 100, failed: 0, report: `kill/${runId}.json` });
    const after = await listItemResults(platform.db, runId);
    expect(after).toHaveLength(100);
    for (const r of after) {
      const earlier = before.get(r.item);
      if (earlier) expect(r, r.item).toEqual(earlier);
      else expect(r.at > killedAt, `${r.item} written after the kill`).toBe(true);
    }
    const report = JSON.parse(readFileSync(path.join(settings.dataDir, 'storage', 'default', 'kill', `${runId}.json`), 'utf8')) as {
      total: number;
      valid: number;
    };
    expect(report).toMatchObject({ total: 100, valid: 100 });
  });
});

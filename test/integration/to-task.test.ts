/**
 * to_task (pre_annotation, the task-page run shape) on real platform data with the real
 * servers: data units carrying an image and an annotation file written by datumaro
 * (test/fixtures/datumaro/make.py: COCO instances, YOLO, Pascal VOC; not our exporters) or
 * in the platform's own JSON; the run imports each into its task with the same boxes and
 * labels, a task whose file is not valid JSON or is missing fails alone, a missing
 * specification stops the run before any write, an unknown filter key is refused naming it
 * (method inference: test/integration/to-task-inference.test.ts),
 * and a worker SIGKILLed mid-run leaves nothing written twice and nothing lost.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { encodePng } from '../../platform/png.js';
import {
  addDataUnits,
  assignmentsByTask,
  countItemResults,
  createDataCollection,
  createProject,
  createTasks,
  ensureDefaultStorage,
  listItemResults,
  type NewDataUnit,
} from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { connectRuns, highestActivityAttempt, ROOT, runCli, spawnWorker, startWorker, testSettings, waitFor } from '../helpers.js';

const DATUMARO = path.join(ROOT, 'test', 'fixtures', 'datumaro');
const SLOW = path.join(ROOT, 'test', 'fixtures', 'plugins', 'to-task-slow');
const CLASSES = ['circle', 'square', 'triangle'];
type Box = { class_name: string; x: number; y: number; width: number; height: number };
const TRUTH = JSON.parse(readFileSync(path.join(DATUMARO, 'boxes.json'), 'utf8')) as Record<string, Box[]>;
const IMAGES = Object.keys(TRUTH);

const settings = testSettings('to-task');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
const children: ChildProcess[] = [];

async function finish(runId: string): Promise<RunState> {
  return (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
}

/** A collection (image + annotation files), a project with the three classes, units and their tasks. */
async function makeProject(name: string, units: { key: string; files: Record<string, { key: string; body: Buffer | string }> }[]) {
  const storageRecord = await ensureDefaultStorage(platform.db);
  const storage = openStorage(storageRecord.config, { dataDir: settings.dataDir, name: storageRecord.name });
  const collection = await createDataCollection(platform.db, {
    name,
    files: [
      { name: 'image', required: true, extensions: ['.png'] },
      { name: 'annotation', required: false },
    ],
  });
  const project = await createProject(platform.db, {
    name,
    collection: collection.id,
    configuration: { data_type: 'image', classes: CLASSES.map((c) => ({ name: c, type: 'bbox' as const })) },
  });
  const newUnits: NewDataUnit[] = [];
  for (const u of units) {
    const files: NewDataUnit['files'] = {};
    for (const [spec, f] of Object.entries(u.files)) {
      await storage.put(f.key, f.body);
      files[spec] = { storage: storageRecord.id, key: f.key };
    }
    newUnits.push({ uniqueKey: u.key, files });
  }
  const added = await addDataUnits(platform.db, collection.id, newUnits);
  const tasks = await createTasks(
    platform.db,
    project.id,
    added.map((u) => u.id),
  );
  return { project, tasks, unitKeyOfTask: new Map(tasks.map((t, i) => [t.id, units[i]!.key])) };
}

const png = encodePng(64, 64, new Uint8Array(64 * 64 * 3).fill(200));
const fixture = (rel: string) => readFileSync(path.join(DATUMARO, rel));

function boxesOf(doc: { annotations: { type: string; class_name: string; x?: number; y?: number; width?: number; height?: number }[] }): Box[] {
  return doc.annotations.map((a) => ({ class_name: a.class_name, x: a.x!, y: a.y!, width: a.width!, height: a.height! }));
}

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  runs = await connectRuns(settings);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('to_task, method file', () => {
  let made: Awaited<ReturnType<typeof makeProject>>;
  beforeAll(async () => {
    worker = await startWorker(settings);
    const units: Parameters<typeof makeProject>[1] = [];
    for (const img of IMAGES) {
      // COCO: one instances file for all images; each unit points at it and is found by its image's name.
      units.push({
        key: `coco-${img}`,
        files: {
          image: { key: `tt/coco/${img}.png`, body: png },
          annotation: { key: 'tt/coco/instances_default.json', body: fixture('coco/annotations/instances_default.json') },
        },
      });
      units.push({
        key: `yolo-${img}`,
        files: { image: { key: `tt/yolo/${img}.png`, body: png }, annotation: { key: `tt/yolo/${img}.txt`, body: fixture(`yolo/obj_train_data/${img}.txt`) } },
      });
      units.push({
        key: `voc-${img}`,
        files: { image: { key: `tt/voc/${img}.png`, body: png }, annotation: { key: `tt/voc/${img}.xml`, body: fixture(`voc/Annotations/${img}.xml`) } },
      });
    }
    const own = {
      version: 1,
      data_type: 'image',
      size: { width: 64, height: 64 },
      annotations: [{ id: 'a', type: 'bbox', class_name: 'square', x: 1, y: 2, width: 3, height: 4 }],
    };
    units.push({
      key: 'synapse-own',
      files: { image: { key: 'tt/own/own.png', body: png }, annotation: { key: 'tt/own/own.json', body: JSON.stringify(own) } },
    });
    units.push({
      key: 'broken-json',
      files: { image: { key: 'tt/bad/bad.png', body: png }, annotation: { key: 'tt/bad/bad.json', body: '{"data_type": "image", "annotations": [' } },
    });
    units.push({ key: 'no-file', files: { image: { key: 'tt/none/none.png', body: png } } });
    made = await makeProject('tt', units);
  });

  it('imports COCO, YOLO and VOC files written by datumaro with the same boxes and labels; bad tasks fail alone', async () => {
    const classes = fixture('yolo/obj.names').toString().trim().split('\n');
    const params = { project: made.project.id, agent: 7, method: 'file', target_specification_name: 'annotation', pre_processor_params: { classes } };
    const { runId } = await runs.start({ plugin: 'to-task', action: 'to_task', params });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: 12, success: 10, failed: 2, skipped: 0 });
    expect(final.metrics.annotate_task_data).toEqual({ total: 12, success: 10, failed: 0 + 2, stand_by: 0 });
    expect(final.progress.annotate_task_data).toEqual({ current: 12, total: 12 });

    const written = await assignmentsByTask(
      platform.db,
      made.tasks.map((t) => t.id),
    );
    for (const task of made.tasks) {
      const key = made.unitKeyOfTask.get(task.id)!;
      const mine = (written.get(task.id) ?? []).filter((a) => a.annotator === 'plugin:to-task');
      if (key === 'broken-json' || key === 'no-file') {
        expect(mine, key).toHaveLength(0);
        continue;
      }
      expect(mine, key).toHaveLength(1);
      const doc = mine[0]!.annotations;
      expect(doc.size, key).toEqual({ width: 64, height: 64 });
      if (key === 'synapse-own') {
        expect(boxesOf(doc)).toEqual([{ class_name: 'square', x: 1, y: 2, width: 3, height: 4 }]);
        continue;
      }
      const img = key.split('-')[1]!;
      expect(boxesOf(doc), key).toEqual(TRUTH[img]);
    }

    // Per-item results: the failures say why, naming the file.
    const results = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(results.size).toBe(12);
    const taskOf = (unitKey: string) => made.tasks.find((t) => made.unitKeyOfTask.get(t.id) === unitKey)!.id;
    const broken = results.get(`task:${taskOf('broken-json')}`)!;
    expect(broken.status).toBe('failed');
    expect(String(broken.data.error)).toContain('tt/bad/bad.json: not valid JSON');
    expect(String(results.get(`task:${taskOf('no-file')}`)!.data.error)).toContain('data unit "no-file" has no "annotation" file');
    expect(results.get(`task:${taskOf('voc-img2')}`)!.data).toMatchObject({ format: 'voc', boxes: 3, agent: 7 });
  });

  it('task_filters narrow the tasks; running again rewrites the same rows, never a second one', async () => {
    const ids = made.tasks.slice(0, 3).map((t) => t.id);
    const params = { project: 'tt', method: 'file', target_specification_name: 'annotation', task_filters: { id__in: ids, status: 'pending' } };
    const final = await finish((await runs.start({ plugin: 'to-task', action: 'to_task', params })).runId);
    expect(final.result).toMatchObject({ total: 3, success: 3, failed: 0 });
    const written = await assignmentsByTask(platform.db, ids);
    for (const id of ids) expect(written.get(id)!.filter((a) => a.annotator === 'plugin:to-task')).toHaveLength(1);
  });

  it('a missing specification stops the run before any write, naming it', async () => {
    const params = { project: made.project.id, method: 'file', target_specification_name: 'labels' };
    const { runId } = await runs.start({ plugin: 'to-task', action: 'to_task', params });
    const err = await finish(runId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const state = await waitFor(async () => {
      const run = await runs.store.getRun(runId);
      return run?.status === 'failed' ? run : undefined;
    });
    expect(state.error).toContain('no file specification "labels" (it has image, annotation)');
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 0, failed: 0, skipped: 0 });
  });

  it('refuses an unknown filter key and method inference without a deployment before anything starts (exit 2)', async () => {
    const bad = await runs
      .start({ plugin: 'to-task', action: 'to_task', params: { project: 1, target_specification_name: 'annotation', task_filters: { colour: 'red' } } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidInputError);
    expect((bad as InvalidInputError).problems).toEqual([{ path: 'task_filters.colour', message: 'unknown key "colour"' }]);
    const inference = await runs
      .start({ plugin: 'to-task', action: 'to_task', params: { project: 1, target_specification_name: 'x', method: 'inference' } })
      .catch((e: unknown) => e);
    expect((inference as InvalidInputError).problems.map((p) => p.path)).toEqual(['deployment']);
    const cli = await runCli(
      ['plugin', 'run', 'to_task', JSON.stringify({ project: 1, target_specification_name: 'a', task_filters: { colour: 'red' } }), '--plugin', 'to-task'],
      settings,
    );
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toContain('task_filters.colour');
  });
});

describe('to_task with its worker killed mid-run', () => {
  it('finishes on a new worker: every task once, nothing written before the kill written again', async () => {
    await worker?.stop();
    worker = undefined;
    const units: Parameters<typeof makeProject>[1] = [];
    for (let i = 0; i < 120; i++) {
      const doc = {
        data_type: 'image',
        size: { width: 64, height: 64 },
        annotations: [{ id: 'b', type: 'bbox', class_name: CLASSES[i % 3], x: i % 50, y: 1, width: 5, height: 6 }],
      };
      units.push({ key: `k-${i}`, files: { image: { key: `kill/${i}.png`, body: png }, annotation: { key: `kill/${i}.json`, body: JSON.stringify(doc) } } });
    }
    const made = await makeProject('killed', units);
    children.push(await spawnWorker(settings));
    const params = { project: made.project.id, target_specification_name: 'annotation', delay_ms: 40 };
    const { runId } = await runs.start({ plugin: SLOW, action: 'to_task', params, heartbeatTimeoutSeconds: 3 });
    await waitFor(async () => ((await countItemResults(platform.db, runId)).success >= 30 ? true : undefined));
    const first = children[0]!;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const killedAt = new Date().toISOString();
    const before = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r]));
    expect(before.size).toBeGreaterThanOrEqual(30);
    expect(before.size).toBeLessThan(120);
    const assignmentsBefore = await assignmentsByTask(
      platform.db,
      made.tasks.map((t) => t.id),
    );

    children.push(await spawnWorker(settings));
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(await highestActivityAttempt(runs, runId)).toBeGreaterThanOrEqual(2);
    expect(final.result).toMatchObject({ total: 120, success: 120, failed: 0 });
    expect(final.metrics.annotate_task_data).toEqual({ total: 120, success: 120, failed: 0, stand_by: 0 });

    const after = await listItemResults(platform.db, runId);
    expect(after).toHaveLength(120);
    // What was on record before the kill was not written again (same attempt and time); the rest was written after it.
    for (const r of after) {
      const earlier = before.get(r.item);
      if (earlier) expect(r, r.item).toEqual(earlier);
      else expect(r.at > killedAt, `${r.item} written after the kill`).toBe(true);
    }
    // A page killed half-way was retried (attempt 2+) and kept what its first attempt wrote.
    expect(after.some((r) => r.attempt >= 2)).toBe(true);
    const assignmentsAfter = await assignmentsByTask(
      platform.db,
      made.tasks.map((t) => t.id),
    );
    for (const task of made.tasks) {
      const mine = assignmentsAfter.get(task.id)!.filter((a) => a.annotator === 'plugin:to-task-slow');
      expect(mine, `task ${task.id}`).toHaveLength(1);
      const earlier = (assignmentsBefore.get(task.id) ?? []).find((a) => a.annotator === 'plugin:to-task-slow');
      if (earlier) expect(mine[0]!.updatedAt, `task ${task.id}`).toBe(earlier.updatedAt);
    }
  });
});

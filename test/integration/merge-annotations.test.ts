/**
 * post_annotation (merge-annotations, the task-page run shape) on real platform data: a
 * generated project whose tasks carry the generator's assignment, and a second (and third)
 * annotator who agrees, disagrees on the class, draws elsewhere, or is outvoted. The merged
 * ground-truth version follows the documented rule (plugins/merge-annotations/plugin/merge.ts)
 * and every disagreement is listed, per task and in the disagreements file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { assignmentsByTask, listGroundTruthEvents, listItemResults, listTasks, upsertAssignments } from '../../platform/repositories/index.js';
import type { AnnotationDocument } from '../../sdk/annotations.js';
import { connectRuns, startWorker, testSettings } from '../helpers.js';

const settings = testSettings('merge');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> };
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 6, seed: 11, projectName: 'merge', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

type Box = { type: 'bbox'; class_name: string; x: number; y: number; width: number; height: number };

describe('merge-annotations', () => {
  it('merges two annotators who disagree by the documented rule and lists every disagreement', async () => {
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const gen = await assignmentsByTask(
      platform.db,
      tasks.map((t) => t.id),
    );
    const doc = (i: number) => structuredClone(gen.get(tasks[i]!.id)![0]!.annotations) as AnnotationDocument;
    const box = (d: AnnotationDocument) => d.annotations[0] as unknown as Box;
    const other = (cls: string) => ['circle', 'square', 'triangle'].find((c) => c !== cls)!;

    const bob: { taskId: number; annotator: string; annotations: AnnotationDocument }[] = [];
    // 0: bob agrees, his box 2 px to the right: the merged box is the mean.
    const d0 = doc(0);
    box(d0).x += 2;
    bob.push({ taskId: tasks[0]!.id, annotator: 'bob', annotations: d0 });
    // 1: bob draws the same box with another class: a tie, the first annotator by name (bob) wins.
    const d1 = doc(1);
    const genClass1 = box(d1).class_name;
    box(d1).class_name = other(genClass1);
    bob.push({ taskId: tasks[1]!.id, annotator: 'bob', annotations: d1 });
    // 2: bob draws somewhere else: neither box has a majority, both are listed.
    const d2 = doc(2);
    Object.assign(box(d2), { x: 0, y: 0, width: 5, height: 5 });
    if (box(doc(2)).x < 6 && box(doc(2)).y < 6) Object.assign(box(d2), { x: 58, y: 58, width: 5, height: 5 });
    bob.push({ taskId: tasks[2]!.id, annotator: 'bob', annotations: d2 });
    // 3: bob's class differs, carol agrees with the generator: the majority class wins.
    const d3 = doc(3);
    const genClass3 = box(d3).class_name;
    box(d3).class_name = other(genClass3);
    bob.push({ taskId: tasks[3]!.id, annotator: 'bob', annotations: d3 });
    bob.push({ taskId: tasks[3]!.id, annotator: 'carol', annotations: doc(3) });
    await upsertAssignments(platform.db, data.project.id, bob);

    const params = { project: data.project.id, dataset: 'merged', version: 'v1', iou_threshold: 0.5, report_path: 'post' };
    const { runId } = await runs.start({ plugin: 'merge-annotations', action: 'post_annotation', params });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ total: 6, success: 6, failed: 0, tasks_with_disagreements: 3 });
    const versionId = (final.result as { ground_truth_version: number }).ground_truth_version;

    const events = new Map((await listGroundTruthEvents(platform.db, { versionId })).map((e) => [e.dataUnitId, e.annotations]));
    expect(events.size).toBe(6);
    const merged = (i: number) => events.get(tasks[i]!.dataUnitId)!.annotations as unknown as Box[];
    const g = (i: number) => box(doc(i));
    expect(merged(0)).toHaveLength(1);
    expect(merged(0)[0]).toMatchObject({ class_name: g(0).class_name, x: g(0).x + 1, y: g(0).y, width: g(0).width });
    expect(merged(1)).toHaveLength(1);
    expect(merged(1)[0]!.class_name).toBe(other(genClass1));
    expect(merged(2)).toEqual([]);
    expect(merged(3)).toHaveLength(1);
    expect(merged(3)[0]!.class_name).toBe(genClass3);
    for (const i of [4, 5]) expect(merged(i)).toEqual([{ ...g(i), id: 'm1' }]);

    const results = new Map((await listItemResults(platform.db, runId)).map((r) => [r.item, r.data]));
    const kinds = (i: number) => ((results.get(`task:${tasks[i]!.id}`)!.disagreements as { kind: string }[]) ?? []).map((d) => d.kind);
    expect(kinds(0)).toEqual([]);
    expect(kinds(1)).toEqual(['class']);
    expect(kinds(2)).toEqual(['unmatched', 'unmatched']);
    expect(kinds(3)).toEqual(['class']);
    expect(results.get(`task:${tasks[3]!.id}`)!.annotators).toEqual(['bob', 'carol', 'generator']);
    const file = JSON.parse(readFileSync(path.join(settings.dataDir, 'storage', 'default', 'post', `${runId}-disagreements.json`), 'utf8')) as {
      tasks: { item: string }[];
    };
    expect(file.tasks.map((t) => t.item).sort()).toEqual([1, 2, 3].map((i) => `task:${tasks[i]!.id}`).sort());

    // Run again: the same version, the same events (upserts), nothing added.
    const again = (await runs.temporal.workflow
      .getHandle((await runs.start({ plugin: 'merge-annotations', action: 'post_annotation', params })).runId)
      .result()) as RunState;
    expect((again.result as { ground_truth_version: number }).ground_truth_version).toBe(versionId);
    expect(await listGroundTruthEvents(platform.db, { versionId })).toHaveLength(6);
  });
});

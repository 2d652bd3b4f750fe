/**
 * to_task's `inference` method with the real servers: a TypeScript colour classifier
 * (test/fixtures/plugins/serve-ts) deployed as deployment.test.ts does, and a project whose
 * tasks carry generated shape images. The run sends each task's image to the deployment and
 * writes its label as a classification with its confidence; a task whose image is not a PNG
 * fails alone, naming the deployment's answer. A deployment that does not exist stops the run
 * before any write; a missing `deployment` param is refused at the edge naming it; a
 * deployment that is down (running, but its replicas wait on a GPU queue no worker polls)
 * fails the page, which is retried, then the run fails naming the deployment, with nothing
 * written.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { taskQueueFor } from '../../client/settings.js';
import { InvalidInputError } from '../../contracts/errors.js';
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { renderItem, sampleItem, type SampleItem } from '../../platform/generate.js';
import { isServing, listReplicas } from '../../platform/repositories/deployments.js';
import {
  addDataUnits,
  assignmentsByTask,
  countItemResults,
  createDataCollection,
  createProject,
  createTasks,
  ensureDefaultStorage,
  listItemResults,
} from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { connectRuns, highestActivityAttempt, ROOT, startWorker, testSettings, waitFor } from '../helpers.js';

const SERVE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts');
const TO_TASK = path.join(ROOT, 'plugins', 'to-task');
const COLOURS = ['red', 'green', 'blue', 'yellow'];
const settings = testSettings('to-task-inf');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
const deployments: string[] = [];
let items: SampleItem[];
let taskIds: number[];
let brokenTask: number;
let deployment: string;

async function finish(runId: string): Promise<RunState> {
  await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(() => undefined);
  return runs.state(runId);
}

async function deploy(params: Record<string, unknown>): Promise<string> {
  const { runId } = await runs.start({ plugin: SERVE, action: 'deployment', params, heartbeatTimeoutSeconds: 3 });
  deployments.push(runId);
  return runId;
}

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
  const storageRecord = await ensureDefaultStorage(platform.db);
  const storage = openStorage(storageRecord.config, { dataDir: settings.dataDir, name: storageRecord.name });
  const collection = await createDataCollection(platform.db, { name: 'inf', files: [{ name: 'image', required: true, extensions: ['.png'] }] });
  await createProject(platform.db, {
    name: 'inf',
    collection: collection.id,
    configuration: { data_type: 'image', classes: COLOURS.map((c) => ({ name: c, type: 'classification' as const })) },
  });
  items = Array.from({ length: 8 }, (_, i) => sampleItem(21, i, 'inf'));
  for (const item of items) await storage.put(item.imageKey, renderItem(item));
  await storage.put('inf/broken.png', 'not a png at all');
  const units = await addDataUnits(platform.db, collection.id, [
    ...items.map((item) => ({ uniqueKey: item.uniqueKey, files: { image: { storage: storageRecord.id, key: item.imageKey } } })),
    { uniqueKey: 'broken', files: { image: { storage: storageRecord.id, key: 'inf/broken.png' } } },
  ]);
  const tasks = await createTasks(
    platform.db,
    'inf',
    units.map((u) => u.id),
  );
  taskIds = tasks.slice(0, 8).map((t) => t.id);
  brokenTask = tasks[8]!.id;
  deployment = await deploy({ replicas: 1 });
  await waitFor(async () => ((await listReplicas(platform.db, deployment)).some((r) => isServing(r, 5000)) ? true : undefined), 60_000, 'a ready replica');
}, 120_000);
afterAll(async () => {
  for (const id of deployments) {
    await runs?.cancel(id).catch(() => undefined);
    await runs?.temporal.workflow
      .getHandle(id)
      .result()
      .catch(() => undefined);
  }
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('to_task, method inference', () => {
  it("writes each task's prediction; a task whose image is not a PNG fails alone", async () => {
    const { runId } = await runs.start({
      plugin: 'to-task',
      action: 'to_task',
      params: { project: 'inf', method: 'inference', deployment, target_specification_name: 'image', confidence_threshold: 0.3 },
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.metrics.annotate_task_data).toMatchObject({ total: 9, success: 8, failed: 1, stand_by: 0 });
    const assignments = await assignmentsByTask(platform.db, [...taskIds, brokenTask]);
    taskIds.forEach((id, i) => {
      const mine = assignments.get(id)!.filter((a) => a.annotator === 'plugin:to-task');
      expect(mine).toHaveLength(1);
      const [a] = mine[0]!.annotations.annotations;
      expect(a).toMatchObject({ type: 'classification', class_name: items[i]!.color });
      expect(a!.confidence).toBeGreaterThanOrEqual(0.3);
    });
    expect(assignments.get(brokenTask) ?? []).toEqual([]);
    const broken = (await listItemResults(platform.db, runId)).find((r) => r.item === `task:${brokenTask}`)!;
    expect(broken.status).toBe('failed');
    expect(String(broken.data.error)).toContain(`deployment ${deployment}`);
  });

  it('stops before any write for a deployment that does not exist, and refuses a missing one at the edge', async () => {
    const { runId } = await runs.start({
      plugin: 'to-task',
      action: 'to_task',
      params: { project: 'inf', method: 'inference', deployment: 'no-such-deployment', target_specification_name: 'image' },
    });
    const final = await finish(runId);
    expect(final.status).toBe('failed');
    expect(final.error).toContain('no deployment no-such-deployment');
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 0, failed: 0, skipped: 0 });

    const missing = await runs
      .start({ plugin: 'to-task', action: 'to_task', params: { project: 'inf', method: 'inference', target_specification_name: 'image' } })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(InvalidInputError);
    expect((missing as InvalidInputError).problems.map((p) => p.path)).toEqual(['deployment']);
  });

  it('retries the page while the deployment is down, then fails naming it, with nothing written', async () => {
    // Running, but its replicas wait on the gpu restapi queue, which no worker of this test polls.
    const down = await deploy({ replicas: 1, num_gpus: 1 });
    await waitFor(async () => ((await runs.state(down)).status === 'running' ? true : undefined), 30_000, 'the down deployment running');
    const runId = `to-task-down-${Date.now()}`;
    const params = { project: 'inf', method: 'inference', deployment: down, target_specification_name: 'image' };
    const now = new Date().toISOString();
    await runs.store.createRun({
      id: runId,
      pluginCode: 'to-task',
      pluginVersion: '1.0.0',
      action: 'to_task',
      category: 'pre_annotation',
      method: 'job',
      status: 'pending',
      params,
      createdAt: now,
      updatedAt: now,
    });
    await runs.temporal.workflow.start(WORKFLOW_TYPES.taskPages, {
      workflowId: runId,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'to-task', version: '1.0.0', dir: TO_TASK },
          action: 'to_task',
          category: 'pre_annotation',
          method: 'job',
          params,
          progressCategories: { annotate_task_data: { weight: 100 } },
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
          budget: { pageAttempts: 2 },
        },
      ],
    });
    const final = await finish(runId);
    expect(final.status).toBe('failed');
    expect(final.error).toContain(`deployment ${down} has no ready replica`);
    expect(await highestActivityAttempt(runs, runId)).toBe(2);
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 0, failed: 0, skipped: 0 });
  });
});

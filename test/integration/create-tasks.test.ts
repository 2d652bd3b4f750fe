/**
 * pre_annotation (create-tasks, the task-page run shape over data units) on real platform
 * data: a second project on a generated collection gets tasks for the units whose meta says
 * `split: train`, half of them by the deterministic split; running it again adds nothing,
 * and a larger fraction only adds units.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, SAMPLE_CONFIGURATION, type GenerateResult } from '../../platform/generate.js';
import { createProject, listDataUnits, listItemResults, listTasks } from '../../platform/repositories/index.js';
import { splitPoint } from '../../plugins/create-tasks/plugin/create-tasks.js';
import { connectRuns, startWorker, testSettings } from '../helpers.js';

const settings = testSettings('create-tasks');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> };
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 40, seed: 4, projectName: 'ct', dataDir: settings.dataDir, images: false });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

async function run(params: Record<string, unknown>): Promise<RunState> {
  const { runId } = await runs.start({ plugin: 'create-tasks', action: 'pre_annotation', params });
  return (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
}

describe('create-tasks', () => {
  it('creates tasks for the filtered, split units only; again adds nothing; a larger fraction only adds', async () => {
    const round2 = await createProject(platform.db, { name: 'ct-round2', collection: data.collectionId, configuration: SAMPLE_CONFIGURATION });
    const units = await listDataUnits(platform.db, { collectionId: data.collectionId });
    const chosen = (fraction: number) => units.filter((u) => u.meta.split === 'train' && splitPoint(`s1${u.uniqueKey}`) < fraction).map((u) => u.id);
    const half = chosen(0.5);
    expect(half.length).toBeGreaterThan(3);
    expect(half.length).toBeLessThan(units.length - 3);

    const params = {
      project: 'ct-round2',
      data_unit_filters: { task__isnull: true, project: 'ct-round2' },
      meta_equals: { split: 'train' },
      fraction: 0.5,
      seed: 's1',
    };
    const first = await run(params);
    expect(first.status, first.error).toBe('completed');
    expect(first.result).toMatchObject({ total: 40, success: half.length, skipped: 40 - half.length, failed: 0 });
    const tasks = await listTasks(platform.db, { projectId: round2.id });
    expect(tasks.map((t) => t.dataUnit.id).sort((a, b) => a - b)).toEqual(half.sort((a, b) => a - b));
    // Why each skipped unit was skipped is in its result.
    const results = await listItemResults(platform.db, first.runId);
    expect(results.filter((r) => r.status === 'skipped').every((r) => /meta\.split|outside the fraction/.test(String(r.data.reason)))).toBe(true);

    // Again: the units with tasks are filtered out, the rest skipped as before.
    const again = await run(params);
    expect(again.result).toMatchObject({ total: 40 - half.length, success: 0, skipped: 40 - half.length });
    expect(await listTasks(platform.db, { projectId: round2.id })).toHaveLength(half.length);

    // A larger fraction keeps the first half and adds to it.
    const more = await run({ ...params, fraction: 0.9 });
    const ninety = chosen(0.9);
    expect(more.result).toMatchObject({ success: ninety.length - half.length });
    expect((await listTasks(platform.db, { projectId: round2.id })).map((t) => t.dataUnit.id).sort((a, b) => a - b)).toEqual(ninety.sort((a, b) => a - b));
  });

  it('refuses an unknown data unit filter key, naming it', async () => {
    const err = await runs
      .start({ plugin: 'create-tasks', action: 'pre_annotation', params: { project: 'ct', data_unit_filters: { shape: 'circle' } } })
      .catch((e: unknown) => e);
    expect((err as { problems: unknown[] }).problems).toEqual([{ path: 'data_unit_filters.shape', message: 'unknown key "shape"' }]);
  });
});

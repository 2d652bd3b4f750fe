/**
 * validation over a ground-truth version (not the tasks) on real platform data with the real
 * servers: a generated project's version v1 in which two entries are spoiled in the database
 * (a box outside the image, an unknown class). The run checks every entry of the version,
 * fails exactly those two data units with their problem codes, and writes a report naming the
 * version. A version of another project stops the run before any page, naming the param;
 * a version together with task filters is refused at the edge, naming them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { countItemResults, ensureDefaultStorage, listGroundTruthEvents, listItemResults } from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { connectRuns, startWorker, testSettings } from '../helpers.js';

const settings = testSettings('validate-gt');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let data: GenerateResult;
let other: GenerateResult;

async function finish(runId: string): Promise<RunState> {
  await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(() => undefined);
  return runs.state(runId);
}

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 15, seed: 8, projectName: 'gt', dataDir: settings.dataDir });
  other = await generateSampleData(platform, { count: 3, seed: 9, projectName: 'other', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('validate-annotations over a ground-truth version', () => {
  it('checks every entry of the version and fails exactly the spoiled ones', async () => {
    const versionId = data.groundTruth.versionId;
    const entries = await listGroundTruthEvents(platform.db, { versionId });
    expect(entries.length).toBeGreaterThan(5);
    const spoil = async (i: number, change: (a: Record<string, unknown>) => void) => {
      const doc = structuredClone(entries[i]!.annotations);
      change(doc.annotations[0] as unknown as Record<string, unknown>);
      await platform.db
        .updateTable('ground_truth_events')
        .set({ annotations: JSON.stringify(doc) })
        .where('id', '=', entries[i]!.id)
        .execute();
    };
    await spoil(1, (a) => Object.assign(a, { x: 50, width: 30 }));
    await spoil(3, (a) => Object.assign(a, { class_name: 'hexagon' }));

    const { runId } = await runs.start({ plugin: 'validate-annotations', action: 'validation', params: { project: 'gt', ground_truth_version: versionId } });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.metrics.annotate_task_data).toMatchObject({ total: entries.length, success: entries.length - 2, failed: 2 });
    const results = await listItemResults(platform.db, runId);
    expect(results.map((r) => r.item).sort()).toEqual(entries.map((e) => `data_unit:${e.dataUnitId}`).sort());
    const failed = results.filter((r) => r.status === 'failed');
    const codes = Object.fromEntries(failed.map((r) => [r.item, (r.data.problems as { code: string }[]).map((p) => p.code)]));
    expect(codes).toEqual({ [`data_unit:${entries[1]!.dataUnitId}`]: ['outside_image'], [`data_unit:${entries[3]!.dataUnitId}`]: ['unknown_class'] });

    const storage = await ensureDefaultStorage(platform.db);
    const report = JSON.parse(
      (await openStorage(storage.config, { dataDir: settings.dataDir, name: storage.name }).get(`validation-reports/${runId}.json`)).toString(),
    ) as Record<string, unknown>;
    expect(report).toMatchObject({ ground_truth_version: versionId, total: entries.length, valid: entries.length - 2, invalid: 2 });
    expect(report.task_filters).toBeUndefined();
  });

  it("stops before any page for another project's version, and refuses a version with task filters", async () => {
    const { runId } = await runs.start({
      plugin: 'validate-annotations',
      action: 'validation',
      params: { project: 'gt', ground_truth_version: other.groundTruth.versionId },
    });
    const final = await finish(runId);
    expect(final.status).toBe('failed');
    expect(final.error).toContain(`ground_truth_version: version ${other.groundTruth.versionId}`);
    expect(final.error).toContain('is not of project "gt"');
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 0, failed: 0, skipped: 0 });

    const both = await runs
      .start({
        plugin: 'validate-annotations',
        action: 'validation',
        params: { project: 'gt', ground_truth_version: data.groundTruth.versionId, task_filters: { status: 'completed' } },
      })
      .catch((e: unknown) => e);
    expect(both).toBeInstanceOf(InvalidInputError);
    expect((both as InvalidInputError).problems.map((p) => p.path)).toEqual(['task_filters']);
  });
});

/**
 * ctx.platform on a one-activity (job) run, not only the task-page shape: a job action
 * (test/fixtures/plugins/platform-job) run by a real worker against the dev server pages
 * through a generated project's tasks with the seed's filters, records one result per task
 * and writes a report file into the default storage; an unknown filter key fails the run
 * naming the key (before any result is written).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { countItemResults, ensureDefaultStorage, listItemResults, listTasks, setTaskStatus } from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { connectRuns, ROOT, startWorker, testSettings } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'platform-job');
const settings = testSettings('platform-job');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let data: GenerateResult;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  data = await generateSampleData(platform, { count: 12, seed: 5, projectName: 'pj', dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
});
afterAll(async () => {
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

async function finish(runId: string): Promise<RunState> {
  return (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
}

describe('ctx.platform in a job', () => {
  it('pages tasks with filters, records results and writes a file', async () => {
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    await setTaskStatus(platform.db, tasks[0]!.id, 'pending');
    await setTaskStatus(platform.db, tasks[1]!.id, 'pending');

    const { runId } = await runs.start({ plugin: FIXTURE, action: 'validation', params: { project: 'pj', task_filters: { status: 'completed' } } });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toEqual({ project: 'pj', tasks: 10 });
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 10, failed: 0, skipped: 0 });
    const items = (await listItemResults(platform.db, runId)).map((r) => r.item);
    expect(items).not.toContain(`task:${tasks[0]!.id}`);
    expect(items).toContain(`task:${tasks[2]!.id}`);
    const storage = await ensureDefaultStorage(platform.db);
    const body = await openStorage(storage.config, { dataDir: settings.dataDir, name: storage.name }).get('platform-job/report.json');
    const report = JSON.parse(body.toString()) as { units: string[] };
    expect(report.units).toHaveLength(10);
  });

  it('fails the run naming an unknown filter key, with no result written', async () => {
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'validation', params: { project: 'pj', more_filters: { colour: 'red' } } });
    const failure = await finish(runId).catch((e: unknown) => e);
    expect(String((failure as { cause?: { cause?: { message?: string } } }).cause?.cause?.message)).toContain('colour: unknown key "colour"');
    const final = await runs.state(runId);
    expect(final.status).toBe('failed');
    expect(final.error).toContain('invalid task filter');
    expect(final.error).toContain('colour: unknown key "colour"');
    expect(final.attempt).toBe(1);
    expect(await countItemResults(platform.db, runId)).toEqual({ success: 0, failed: 0, skipped: 0 });
  });
});

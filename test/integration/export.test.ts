/**
 * The export run shape end to end: a generated dataset exported by the export workflow
 * (prepare, pages in parallel, finalize), filter errors per target, zero items, an item whose
 * conversion throws, and a worker SIGKILLed mid-export whose run a new worker finishes with
 * output byte-identical to an uninterrupted export.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { InvalidInputError } from '../../contracts/errors.js';
import { taskQueueFor } from '../../client/settings.js';
import { exportWorkflow } from '../../workflows/export.js';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, ROOT, spawnWorker, startWorker, testSettings, waitFor } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'export-test');

async function generate(settings: Settings, count: number): Promise<GenerateResult> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    return await generateSampleData(platform, { count, seed: 5, projectName: 'exp', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
}

/** Every file under `<storage root>/<exportPath>`, by relative path. */
function readTree(settings: Settings, exportPath: string): Map<string, Buffer> {
  const root = path.join(settings.dataDir, 'storage', 'default', exportPath);
  const files = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full));
    }
  };
  walk(root);
  return files;
}

interface Summary {
  export_path: string;
  total: number;
  success: number;
  failed: number;
  skipped: number;
}

async function finish(runs: RunsClient, runId: string): Promise<RunState> {
  return (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
}

describe('export runs', () => {
  const settings = testSettings('export');
  let runs: RunsClient;
  let worker: { stop(): Promise<void> };
  let data: GenerateResult;

  beforeAll(async () => {
    data = await generate(settings, 30);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
  });

  it('exports a ground-truth version as one JSON file per item, with error list and manifest', async () => {
    const params = {
      name: 'gt',
      storage: 'default',
      path: 'exports',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.groundTruth.versionId },
    };
    const { runId } = await runs.start({ plugin: 'export-json', action: 'export', params });
    const final = await finish(runs, runId);
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ export_path: 'exports/gt', total: 30, success: 30, failed: 0, skipped: 0 });
    expect(final.progress.dataset_conversion).toEqual({ current: 30, total: 30 });
    expect(final.metrics.data_file).toMatchObject({ success: 30, failed: 0, stand_by: 0 });
    const files = readTree(settings, 'exports/gt');
    const json = [...files.keys()].filter((k) => k.startsWith('json/'));
    expect(json).toHaveLength(30);
    expect(json[0]).toBe('json/0000000_1.json');
    const first = JSON.parse(files.get('json/0000000_1.json')!.toString()) as { target: string; annotations: { annotations: unknown[] } };
    expect(first.target).toBe('ground_truth');
    expect(first.annotations.annotations).toHaveLength(1);
    expect(files.get('error_file_list.json')!.toString()).toBe('[]');
    expect(JSON.parse(files.get('manifest.json')!.toString())).toMatchObject({ name: 'gt', target: 'ground_truth', total: 30, success: 30 });
    expect([...files.keys()].some((k) => k.startsWith('_parts/'))).toBe(false);
    // The run store and `run status` see the same.
    const state = await runs.state(runId);
    expect(state.status).toBe('completed');
    expect(state.percent).toBe(100);
    // Item counts are run events too (run logs, the gateway's event stream), the last one final.
    const events = await runs.events(runId, 0, 10_000);
    const progress = events.filter((e) => e.data.kind === 'progress' && e.data.category === 'dataset_conversion').map((e) => e.data);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ current: 30, total: 30 });
    const metrics = events.filter((e) => e.data.kind === 'metrics' && e.data.category === 'data_file').map((e) => e.data);
    expect(metrics.at(-1)).toMatchObject({ values: { success: 30, failed: 0, stand_by: 0 } });

    // The same name again goes to a new folder.
    const again = await finish(runs, (await runs.start({ plugin: 'export-json', action: 'export', params })).runId);
    expect((again.result as Summary).export_path).toBe('exports/gt(1)');
  });

  it('exports assignments and tasks of a project', async () => {
    for (const target of ['assignment', 'task'] as const) {
      const params = { name: `p-${target}`, storage: 'default', target, filter: { project: data.project.id } };
      const final = await finish(runs, (await runs.start({ plugin: 'export-json', action: 'export', params })).runId);
      expect(final.result, target).toMatchObject({ export_path: `p-${target}`, total: 30, success: 30 });
      const item = JSON.parse(readTree(settings, `p-${target}`).get('json/0000005_6.json')!.toString()) as Record<string, unknown>;
      expect(item.target).toBe(target);
    }
  });

  it('exports COCO instances assembled from every page', async () => {
    const params = { name: 'coco', storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: data.groundTruth.versionId } };
    const final = await finish(runs, (await runs.start({ plugin: 'export-coco', action: 'export', params })).runId);
    expect(final.result).toMatchObject({ total: 30, success: 30 });
    const files = readTree(settings, 'coco');
    const coco = JSON.parse(files.get('annotations/instances_default.json')!.toString()) as {
      images: { id: number; width: number }[];
      annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number }[];
      categories: { id: number; name: string }[];
    };
    expect(coco.categories.map((c) => c.name)).toEqual(['circle', 'square', 'triangle']);
    expect(coco.images).toHaveLength(30);
    expect(coco.images[0]!.width).toBe(64);
    expect(coco.annotations.map((a) => a.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const a = coco.annotations[0]!;
    expect(a.bbox).toHaveLength(4);
    expect(a.area).toBe(a.bbox[2]! * a.bbox[3]!);
    expect(coco.images.map((i) => i.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(a.iscrowd).toBe(0);
    expect(JSON.parse(files.get('manifest.json')!.toString()).files.coco).toBe('annotations/instances_default.json');
  });

  it('continues as new past its page budget, carrying the cursor and counts', async () => {
    const runId = `export-can-${Date.now()}`;
    const params = { name: 'can', storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: data.groundTruth.versionId } };
    const now = new Date().toISOString();
    await runs.store.createRun({
      id: runId,
      pluginCode: 'export-test',
      pluginVersion: '1.0.0',
      action: 'export',
      category: 'export',
      method: 'job',
      status: 'pending',
      params,
      createdAt: now,
      updatedAt: now,
    });
    const handle = await runs.temporal.workflow.start(exportWorkflow, {
      workflowId: runId,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'export-test', version: '1.0.0', dir: FIXTURE },
          action: 'export',
          category: 'export',
          method: 'job',
          params,
          progressCategories: { dataset_conversion: { weight: 100 } },
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
          budget: { pagesPerPlan: 1, pagesPerRun: 1 },
        },
      ],
    });
    const final = await handle.result();
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ export_path: 'can', total: 30, success: 30, failed: 0 });
    expect(final.progress.dataset_conversion).toEqual({ current: 30, total: 30 });
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    const files = readTree(settings, 'can');
    expect([...files.keys()].filter((k) => k.startsWith('json/'))).toHaveLength(30);
    expect((await runs.state(runId)).status).toBe('completed');
  });

  it('rejects a missing filter key per target, naming it, before anything starts', async () => {
    const cases = [
      ['assignment', 'filter.project'],
      ['ground_truth', 'filter.ground_truth_dataset_version'],
      ['task', 'filter.project'],
    ] as const;
    for (const [target, key] of cases) {
      const err = await runs
        .start({ plugin: 'export-json', action: 'export', params: { name: 'x', storage: 'default', target, filter: {} } })
        .catch((e: unknown) => e);
      expect(err, target).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).constructor.name).toBe('ParamsError');
      expect((err as InvalidInputError).problems.map((p) => p.path)).toEqual([key]);
    }
    // extra_params are checked by the exporter's own schema.
    const bad = await runs
      .start({
        plugin: FIXTURE,
        action: 'export',
        params: { name: 'x', storage: 'default', target: 'task', filter: { project: 1 }, extra_params: { delay_ms: -1 } },
      })
      .catch((e: unknown) => e);
    expect((bad as InvalidInputError).problems.map((p) => p.path)).toEqual(['extra_params.delay_ms']);
  });

  it('completes with an empty result when there is nothing to export', async () => {
    const params = { name: 'none', storage: 'default', target: 'task', filter: { project: data.project.id, status: 'rejected' } };
    const final = await finish(runs, (await runs.start({ plugin: 'export-json', action: 'export', params })).runId);
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ total: 0, success: 0, failed: 0 });
    expect(final.progress.dataset_conversion).toEqual({ current: 0, total: 0 });
    expect(final.percent).toBe(100);
  });

  it('records an item whose conversion throws and goes on with the others', async () => {
    const params = {
      name: 'failing',
      storage: 'default',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.groundTruth.versionId },
      extra_params: { fail_indices: [3, 17] },
    };
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'export', params });
    const final = await finish(runs, runId);
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ total: 30, success: 28, failed: 2 });
    expect(final.metrics.data_file).toMatchObject({ success: 28, failed: 2 });
    const files = readTree(settings, 'failing');
    const errorList = [
      ['0000003_4.json', 'cannot convert item 3'],
      ['0000017_18.json', 'cannot convert item 17'],
    ];
    // Streamed by finalize, in the seed's layout: the bytes of JSON.stringify(list, null, 4).
    expect(files.get('error_file_list.json')!.toString()).toBe(JSON.stringify(errorList, null, 4));
    expect(files.has('json/0000003_4.json')).toBe(false);
    expect([...files.keys()].filter((k) => k.startsWith('json/'))).toHaveLength(28);
    const failedEvents = await waitFor(
      async () => {
        const events = (await runs.events(runId, 0, 10_000)).filter((e) => e.data.kind === 'event' && e.data.event === 'export_item_failed');
        return events.length >= 2 ? events : undefined;
      },
      10_000,
      'item failure events',
    );
    expect(failedEvents).toHaveLength(2);
  });
});

describe('an export whose worker is killed', () => {
  const settings = testSettings('export-kill');
  let runs: RunsClient;
  const workers: ChildProcess[] = [];
  let data: GenerateResult;

  beforeAll(async () => {
    data = await generate(settings, 120);
    runs = await connectRuns(settings);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await runs?.close();
  });

  it('is finished by a new worker with output byte-identical to an uninterrupted export', async () => {
    workers.push(await spawnWorker(settings));
    const params = {
      name: 'killed',
      storage: 'default',
      path: 'exports',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.groundTruth.versionId },
      extra_params: { delay_ms: 60 },
    };
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'export', params, heartbeatTimeoutSeconds: 3 });
    const parts = path.join(settings.dataDir, 'storage', 'default', 'exports', 'killed', '_parts');
    await waitFor(() => (existsSync(parts) && readdirSync(parts).filter((f) => f.endsWith('.json')).length >= 3 ? true : undefined), 90_000, 'some pages done');
    // Kill while a page is running on this worker (not while only a workflow task is due),
    // so the kill really lands mid-step.
    await waitFor(
      async () => {
        const { raw } = await runs.temporal.workflow.getHandle(runId).describe();
        return raw.pendingActivities?.some((a) => a.state === 2 /* PENDING_ACTIVITY_STATE_STARTED */) ? true : undefined;
      },
      90_000,
      'a page running',
    );
    const first = workers[0] as ChildProcess;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const before = readdirSync(parts).filter((f) => f.endsWith('.json')).length;
    expect(before).toBeLessThan(12);

    workers.push(await spawnWorker(settings));
    const killed = await finish(runs, runId);
    expect(killed.status).toBe('completed');
    expect(killed.result).toMatchObject({ export_path: 'exports/killed', total: 120, success: 120, failed: 0 });
    // Some page was retried: its last started attempt is past the first.
    const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
    expect(history.events?.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) > 1)).toBe(true);

    const reference = await finish(runs, (await runs.start({ plugin: FIXTURE, action: 'export', params: { ...params, extra_params: { delay_ms: 0 } } })).runId);
    expect((reference.result as Summary).export_path).toBe('exports/killed(1)');

    const got = readTree(settings, 'exports/killed');
    const want = readTree(settings, 'exports/killed(1)');
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [key, bytes] of want) expect(got.get(key)?.equals(bytes), key).toBe(true);
    const json = [...got.keys()].filter((k) => k.startsWith('json/'));
    expect(json).toHaveLength(120);
    expect(new Set(json).size).toBe(120);
    expect(JSON.parse(got.get('manifest.json')!.toString())).toMatchObject({ total: 120, success: 120, failed: 0 });
  });
});

/**
 * `synapse demo --pipeline` (cli/demo-pipeline.ts) end to end as a person runs it, small
 * (40 images, 2 epochs), against the test's Temporal server: every step's run completes
 * (upload, create-tasks, to_task, validation, two merges, two trainings, COCO export), the
 * auto_label step goes through both deployments, and the platform holds what the pipeline
 * says: 24 tasks imported from files by to-task, ground-truth version "all" with every
 * annotated unit, the COCO file in storage. The command exits 0.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { runCli, testSettings } from '../helpers.js';

const settings = testSettings('demo-pipeline');
let platform: PlatformDb;

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
});
afterAll(async () => {
  await platform?.close();
});

describe('synapse demo --pipeline', () => {
  it('runs every step on one project and leaves its results in the platform', async () => {
    const run = await runCli(['demo', '--pipeline', '--count', '40', '--epochs', '2', '--json'], settings);
    expect(run.code, run.stderr).toBe(0);
    const ends = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"type":"end"'))
      .map((l) => (JSON.parse(l) as { state: { plugin: { code: string }; action: string; status: string } }).state);
    expect(ends.map((s) => `${s.plugin.code} ${s.action} ${s.status}`)).toEqual([
      'upload-files upload completed',
      'create-tasks pre_annotation completed',
      'to-task to_task completed',
      'validate-annotations validation completed',
      'merge-annotations post_annotation completed',
      'train-image-classifier train completed',
      'merge-annotations post_annotation completed',
      'export-coco export completed',
      'train-image-classifier train completed',
    ]);
    expect(run.stderr).toMatch(/16 tasks auto-labelled in/);
    expect(run.stderr).toContain('The pipeline took');

    const imported = await platform.db
      .selectFrom('assignments')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .where('annotator', '=', 'plugin:to-task')
      .executeTakeFirstOrThrow();
    expect(Number(imported.n)).toBe(24);
    const versions = await platform.db.selectFrom('ground_truth_versions').select(['id', 'name']).execute();
    expect(versions.map((v) => v.name).sort()).toEqual(['all', 'imported']);
    const all = versions.find((v) => v.name === 'all')!;
    const entries = await platform.db
      .selectFrom('ground_truth_events')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .where('version_id', '=', all.id)
      .executeTakeFirstOrThrow();
    // The 24 imported ones, and each auto-labelled task that got a suggestion over the threshold.
    expect(Number(entries.n)).toBeGreaterThanOrEqual(24);
    expect(Number(entries.n)).toBeLessThanOrEqual(40);
    const exports = path.join(settings.dataDir, 'storage', 'default', 'exports');
    const [coco] = readdirSync(exports).filter((d) => d.endsWith('-coco'));
    expect(existsSync(path.join(exports, coco!, 'annotations', 'instances_default.json'))).toBe(true);
  }, 600_000);
});

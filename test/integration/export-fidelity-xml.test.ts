/**
 * Class names that XML cannot hold (issue 12, fault 4): a control character (U+000B) is
 * refused where a class enters the platform, with the reason; and a row that holds one anyway
 * (written before the check, or straight into the database) fails its item in the VOC export
 * with the reason in error_file_list.json, while every XML file written parses with Python's
 * xml.etree and datumaro imports the rest. Before, the name was written raw and the run
 * reported success with a file no parser reads.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { createDataCollection } from '../../platform/repositories/collections.js';
import { listGroundTruthEvents } from '../../platform/repositories/ground-truth.js';
import { createProject } from '../../platform/repositories/projects.js';
import { connectRuns, ROOT, startWorker, testSettings } from '../helpers.js';
import { createEdgeData, EDGE_UNITS, type EdgeData } from '../export-fidelity-data.js';

const TOOLS_PYTHON = process.env.SYNAPSE_TOOLS_PYTHON ?? path.join(ROOT, '.cache', 'python-tools', 'bin', 'python');
const READER = path.join(ROOT, 'test', 'fidelity', 'read_export.py');
const tool = (args: string[]): unknown => JSON.parse(execFileSync(TOOLS_PYTHON, [READER, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));

describe('class names in XML', () => {
  const settings = testSettings('export-xml');
  let runs: RunsClient;
  let worker: { stop(): Promise<void> };
  let data: EdgeData;

  beforeAll(async () => {
    data = await createEdgeData(settings);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
  });

  it('the platform refuses a class name with a control character, naming the field and the character', async () => {
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      const collection = await createDataCollection(platform.db, { name: 'ctl', files: [{ name: 'image' }] });
      const err = await createProject(platform.db, {
        name: 'ctl',
        collection: collection.id,
        configuration: {
          data_type: 'image',
          classes: [
            { name: 'ok', type: 'bbox' },
            { name: 'ca\u000br', type: 'bbox' },
            { name: ' padded', type: 'bbox' },
          ],
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      const problems = (err as InvalidInputError).problems;
      expect(problems.map((p) => p.path)).toEqual(['configuration.classes.1.name', 'configuration.classes.2.name']);
      expect(problems[0]!.message).toContain('U+000B');
    } finally {
      await platform.close();
    }
  });

  it('a stored name with U+000B fails its VOC item with the reason; every XML written parses; datumaro reads the rest', async () => {
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      // A row from before the check: the class name written straight into the database.
      const event = (await listGroundTruthEvents(platform.db, { versionId: data.versionId }))[1]!;
      const doc = event.annotations as { annotations: { class_name: string }[] };
      doc.annotations[0]!.class_name = 'ca\u000br';
      await platform.db
        .updateTable('ground_truth_events')
        .set({ annotations: JSON.stringify(doc) })
        .where('id', '=', event.id)
        .execute();
    } finally {
      await platform.close();
    }
    const params = {
      name: 'voc',
      storage: 'default',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.versionId },
      save_original_file: true,
    };
    const { runId } = await runs.start({ plugin: 'export-voc', action: 'export', params });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ total: EDGE_UNITS.length, success: EDGE_UNITS.length - 1, failed: 1 });
    const dir = path.join(settings.dataDir, 'storage', 'default', 'voc');
    const errors = JSON.parse(readFileSync(path.join(dir, 'error_file_list.json'), 'utf8')) as [string, string][];
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toMatch(/^000001_\d+\.json$/);
    expect(errors[0]![1]).toContain('U+000B');
    // The failed item left nothing behind: no XML, no JSON, no image copy.
    const stem = errors[0]![0].replace(/\.json$/, '');
    for (const sub of ['Annotations', 'json', 'JPEGImages']) expect(readdirSync(path.join(dir, sub)).filter((f) => f.startsWith(`${stem}.`))).toEqual([]);
    const xmls = readdirSync(path.join(dir, 'Annotations')).map((f) => path.join(dir, 'Annotations', f));
    expect(xmls).toHaveLength(EDGE_UNITS.length - 1);
    expect(Object.values(tool(['xml', ...xmls]) as Record<string, string>)).toEqual(xmls.map(() => 'ok'));
    const dm = tool(['datumaro', 'voc', dir]) as { labels: string[]; items: unknown[] };
    expect(dm.items).toHaveLength(EDGE_UNITS.length - 1);
    expect(dm.labels).not.toContain('ca\u000br');
  });
});

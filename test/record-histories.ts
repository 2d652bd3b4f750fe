/**
 * Records the workflow histories that test/unit/replay.test.ts replays. Run it when a
 * workflow change is *meant* to alter history (behind `patched()`), keeping the old files:
 *   node bin/run-ts.mjs test/record-histories.ts [name-prefix ...]
 * (with name prefixes, only the recordings whose names start with one of them, e.g. `export`).
 * It starts its own dev server and worker, runs one completed, one cancelled and one failed
 * run and one export (three pages, one failing item), and writes their histories to test/fixtures/histories/<name>.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { startDevServer } from '../workers/dev-server.js';
import { findTemporalCli } from '../workers/temporal-cli.js';
import { startWorker } from '../workers/worker.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData } from '../platform/generate.js';

const OUT = path.join(import.meta.dirname, 'fixtures', 'histories');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-record-'));
const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'record' });
const worker = await startWorker({ settings });
const runs = await RunsClient.connect(settings);

const cli = await findTemporalCli();
const only = process.argv.slice(2);
const want = (name: string): boolean => only.length === 0 || only.some((o) => name.startsWith(o));

/** The CLI writes the canonical JSON form of a history, the one `historyFromJSON` reads. */
async function save(name: string, runId: string): Promise<void> {
  const json = execFileSync(cli, ['workflow', 'show', '--address', server.address, '-w', runId, '-o', 'json'], { encoding: 'utf8' });
  writeFileSync(path.join(OUT, `${name}.json`), json);
  console.log(`recorded ${name} (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
}

try {
  if (want('run-action-completed')) {
    const completed = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 60, delayMs: 40 }, runId: 'replay-completed' });
    await runs.temporal.workflow.getHandle(completed.runId).result();
    await save('run-action-completed', completed.runId);
  }

  if (want('run-action-cancelled')) {
    const cancelled = await runs.start({
      plugin: 'demo-validation',
      action: 'validation',
      params: { count: 5000, delayMs: 20 },
      runId: 'replay-cancelled',
      heartbeatTimeoutSeconds: 2,
    });
    await new Promise((r) => setTimeout(r, 2500));
    await runs.cancel(cancelled.runId);
    await runs.temporal.workflow
      .getHandle(cancelled.runId)
      .result()
      .catch(() => {});
    await save('run-action-cancelled', cancelled.runId);
  }

  if (want('run-action-failed')) {
    const failed = await runs.temporal.workflow.start('runActionWorkflow', {
      workflowId: 'replay-failed',
      taskQueue: 'record-job',
      args: [
        {
          plugin: { code: 'demo-validation', version: '1.0.0' },
          action: 'validation',
          category: 'data_validation',
          method: 'job',
          params: { count: 'x' },
          progressCategories: {},
          heartbeatTimeoutSeconds: 5,
          startToCloseSeconds: 60,
        },
      ],
    });
    await failed.result().catch(() => {});
    await save('run-action-failed', 'replay-failed');
  }

  if (want('export-completed')) {
    // Three pages of ten (the fixture exporter's page size) in parallel, one item failing.
    const platform = await openDatabase({ dataDir });
    const data = await generateSampleData(platform, { count: 25, dataDir, projectName: 'replay' });
    await platform.close();
    const exported = await runs.start({
      plugin: path.join(import.meta.dirname, 'fixtures', 'plugins', 'export-test'),
      action: 'export',
      params: {
        name: 'replay',
        storage: 'default',
        target: 'ground_truth',
        filter: { ground_truth_dataset_version: data.groundTruth.versionId },
        extra_params: { fail_indices: [4] },
      },
      runId: 'replay-export-completed',
    });
    await runs.temporal.workflow.getHandle(exported.runId).result();
    await save('export-completed', exported.runId);
  }

  if (want('upload-completed')) {
    // Five files in three batches, two in flight, one incomplete unit reported; then data units.
    const { createDataCollection } = await import('../platform/repositories/collections.js');
    const { ensureDefaultStorage } = await import('../platform/repositories/storages.js');
    const { mkdirSync } = await import('node:fs');
    const platform = await openDatabase({ dataDir });
    await ensureDefaultStorage(platform.db);
    await createDataCollection(platform.db, {
      name: 'replay-upload',
      files: [
        { name: 'image', required: true },
        { name: 'label', required: true },
      ],
    });
    await platform.close();
    const root = path.join(dataDir, 'upload-source');
    for (const spec of ['image', 'label']) mkdirSync(path.join(root, spec), { recursive: true });
    for (let i = 0; i < 6; i++) {
      writeFileSync(path.join(root, 'image', `f${i}.jpg`), `image ${i}`);
      if (i < 5) writeFileSync(path.join(root, 'label', `f${i}.json`), `{"i":${i}}`);
    }
    const upload = await runs.temporal.workflow.start('uploadWorkflow', {
      workflowId: 'replay-upload-completed',
      taskQueue: 'record-job',
      args: [
        {
          plugin: { code: 'upload-files', version: '1.0.0' },
          action: 'upload',
          category: 'upload',
          method: 'job',
          params: { name: 'replay', path: root, storage: 'default', data_collection: 'replay-upload' },
          progressCategories: { analyze_collection: { weight: 2 }, upload_data_files: { weight: 38 }, generate_data_units: { weight: 60 } },
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
          budget: { unitsPerBatch: 2, batchesInFlight: 2 },
        },
      ],
    });
    await upload.result();
    await save('upload-completed', 'replay-upload-completed');
  }
  if (want('train-completed')) {
    // A TypeScript trainer: prepare, three epoch activities with progress signals, evaluate, register.
    const platform = await openDatabase({ dataDir });
    const data = await generateSampleData(platform, { count: 30, dataDir, projectName: 'replay-train' });
    await platform.close();
    const trained = await runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: { name: 'replay', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 3, step_delay_ms: 100 } },
      runId: 'replay-train-completed',
    });
    await runs.temporal.workflow.getHandle(trained.runId).result();
    await save('train-completed', trained.runId);
  }
} finally {
  await runs.close();
  await worker.stop();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

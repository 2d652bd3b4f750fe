/**
 * Records the workflow histories that test/unit/replay.test.ts replays. Run it when a
 * workflow change is *meant* to alter history (behind `patched()`), keeping the old files:
 *   node bin/run-ts.mjs test/record-histories.ts
 * It starts its own dev server and worker, runs one completed, one cancelled and one failed
 * run, and writes their histories to test/fixtures/histories/<name>.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { startDevServer } from '../workers/dev-server.js';
import { findTemporalCli } from '../workers/temporal-cli.js';
import { runWorker } from '../workers/worker.js';

const OUT = path.join(import.meta.dirname, 'fixtures', 'histories');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-record-'));
const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'record' });
const abort = new AbortController();
let ready!: () => void;
const isReady = new Promise<void>((r) => (ready = r));
const worker = runWorker({ settings, signal: abort.signal, onReady: ready });
await isReady;
const runs = await RunsClient.connect(settings);

const cli = await findTemporalCli();

/** The CLI writes the canonical JSON form of a history, the one `historyFromJSON` reads. */
async function save(name: string, runId: string): Promise<void> {
  const json = execFileSync(cli, ['workflow', 'show', '--address', server.address, '-w', runId, '-o', 'json'], { encoding: 'utf8' });
  writeFileSync(path.join(OUT, `${name}.json`), json);
  console.log(`recorded ${name} (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
}

try {
  const completed = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 60, delayMs: 40 }, runId: 'replay-completed' });
  await runs.temporal.workflow.getHandle(completed.runId).result();
  await save('run-action-completed', completed.runId);

  const cancelled = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 5000, delayMs: 20 }, runId: 'replay-cancelled', heartbeatTimeoutSeconds: 2 });
  await new Promise((r) => setTimeout(r, 2500));
  await runs.cancel(cancelled.runId);
  await runs.temporal.workflow.getHandle(cancelled.runId).result().catch(() => {});
  await save('run-action-cancelled', cancelled.runId);

  const failed = await runs.temporal.workflow.start('runActionWorkflow', {
    workflowId: 'replay-failed',
    taskQueue: 'record-job',
    args: [{ plugin: { code: 'demo-validation', version: '1.0.0' }, action: 'validation', category: 'data_validation', method: 'job', params: { count: 'x' }, progressCategories: {}, heartbeatTimeoutSeconds: 5, startToCloseSeconds: 60 }],
  });
  await failed.result().catch(() => {});
  await save('run-action-failed', 'replay-failed');
} finally {
  await runs.close();
  abort.abort();
  await worker;
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

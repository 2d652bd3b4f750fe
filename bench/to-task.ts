/**
 * to_task throughput: the built-in `to-task` plugin importing one annotation JSON file per
 * task into N tasks through the task-page workflow (RunsClient.start -> result, an in-process
 * worker, a private ephemeral Temporal dev server), against a plain script in the same
 * process writing the same rows (each task's assignment and its run_item_results row) from
 * the same files into a twin project: pages of 1000 tasks, one file read, JSON parse and
 * check per task, one transaction per page. Prints tasks per second of each and the ratio.
 *
 *   node bin/run-ts.mjs bench/to-task.ts [--count 20000] [--json out.json]
 *
 * Everything lives in a temp data dir on the embedded SQLite database and local storage.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import type { RunState } from '../contracts/run-state.js';
import { openDatabase } from '../platform/db.js';
import {
  addDataUnits,
  annotationProblems,
  createDataCollection,
  createProject,
  createTasks,
  ensureDefaultStorage,
  getProject,
  inTransaction,
  listTasks,
  upsertAssignments,
  writeItemResults,
  type NewDataUnit,
} from '../platform/repositories/index.js';
import { openStorage } from '../storage/index.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '20000' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node bin/run-ts.mjs bench/to-task.ts [--count N] [--json FILE]\n');
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
  process.stderr.write(`to-task: --count must be an integer from 1 to 1000000 (got "${values.count}")\n`);
  process.exit(2);
}
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const CLASSES = ['circle', 'square', 'triangle'];

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-to-task-'));
  const platform = await openDatabase({ dataDir });
  const storageRecord = await ensureDefaultStorage(platform.db);
  const storage = openStorage(storageRecord.config, { dataDir, name: storageRecord.name });
  progress(`writing ${count} annotation files and tasks in two twin projects ...`);
  const collection = await createDataCollection(platform.db, { name: 'bench', files: [{ name: 'annotation', required: true, extensions: ['.json'] }] });
  const configuration = { data_type: 'image' as const, classes: CLASSES.map((name) => ({ name, type: 'bbox' as const })) };
  const subject = await createProject(platform.db, { name: 'bench-workflow', collection: collection.id, configuration });
  const twin = await createProject(platform.db, { name: 'bench-script', collection: collection.id, configuration });
  for (let start = 0; start < count; start += 1000) {
    const units: NewDataUnit[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const key = `bench/${String(i).padStart(7, '0')}.json`;
      const doc = {
        version: 1,
        data_type: 'image',
        size: { width: 64, height: 64 },
        annotations: [{ id: 'a', type: 'bbox', class_name: CLASSES[i % 3], x: i % 40, y: (i * 7) % 40, width: 12, height: 10 }],
      };
      await storage.put(key, JSON.stringify(doc), { sync: false });
      units.push({ uniqueKey: key, files: { annotation: { storage: storageRecord.id, key } } });
    }
    const added = await addDataUnits(platform.db, collection.id, units);
    await createTasks(
      platform.db,
      subject.id,
      added.map((u) => u.id),
    );
    await createTasks(
      platform.db,
      twin.id,
      added.map((u) => u.id),
    );
  }
  await storage.flush?.();

  // The plain script: the same rows, as directly as the repositories allow.
  progress('plain script ...');
  const scriptStart = performance.now();
  const project = await getProject(platform.db, twin.id);
  let afterId = 0;
  let scripted = 0;
  for (;;) {
    const tasks = await listTasks(platform.db, { projectId: twin.id, afterId, limit: 1000 });
    if (tasks.length === 0) break;
    const docs: unknown[] = [];
    for (const t of tasks) docs.push(JSON.parse((await storage.get(t.dataUnit.files.annotation!.key)).toString('utf8')));
    const { problems } = annotationProblems(docs, project.configuration.classes, project.configuration.data_type, (i) => String(i));
    if (problems.length) throw new Error(`bench data is invalid: ${problems[0]!.message}`);
    await inTransaction(platform.db, async (trx) => {
      await upsertAssignments(
        trx,
        twin.id,
        tasks.map((t, i) => ({ taskId: t.id, annotator: 'plugin:to-task', status: 'completed', annotations: docs[i] })),
      );
      await writeItemResults(
        trx,
        'bench-script',
        1,
        tasks.map((t) => ({ item: `task:${t.id}`, status: 'success', data: { format: 'synapse', file: t.dataUnit.files.annotation!.key, boxes: 1 } })),
      );
    });
    scripted += tasks.length;
    afterId = tasks[tasks.length - 1]!.id;
  }
  const scriptSeconds = (performance.now() - scriptStart) / 1000;

  progress('through the workflow ...');
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});
  const worker = await startWorker({ settings, methods: ['job'] });
  const runs = await RunsClient.connect(settings);
  let result: RunState;
  let workflowSeconds: number;
  try {
    const started = performance.now();
    const { runId } = await runs.start({
      plugin: 'to-task',
      action: 'to_task',
      params: { project: subject.id, method: 'file', target_specification_name: 'annotation', pre_processor: 'synapse' },
    });
    result = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    workflowSeconds = (performance.now() - started) / 1000;
  } finally {
    await runs.close();
    await worker.stop();
    await server.stop();
  }
  const done = result.result as { success: number; failed: number };
  if (result.status !== 'completed' || done.success !== count || scripted !== count)
    throw new Error(`unexpected: ${JSON.stringify({ status: result.status, result: result.result, scripted })}`);
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });

  const out = {
    tasks: count,
    script: { seconds: scriptSeconds, tasks_per_second: count / scriptSeconds },
    workflow: { seconds: workflowSeconds, tasks_per_second: count / workflowSeconds },
    ratio: workflowSeconds / scriptSeconds,
  };
  process.stdout.write(
    `to_task, ${count} tasks (one JSON file each)\n` +
      `  plain script      ${out.script.seconds.toFixed(2)} s  ${out.script.tasks_per_second.toFixed(0)} tasks/s\n` +
      `  to-task workflow  ${out.workflow.seconds.toFixed(2)} s  ${out.workflow.tasks_per_second.toFixed(0)} tasks/s\n` +
      `  ratio             ${out.ratio.toFixed(2)}x (goal: within 1.5x)\n`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

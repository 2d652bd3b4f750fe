/** Fixtures shared by the upload tests: file trees, Excel files written by openpyxl, runs with budgets, platform reads. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunsClient } from '../client/runs.js';
import { taskQueueFor, type Settings } from '../client/settings.js';
import { openDatabase } from '../platform/db.js';
import { createDataCollection, getDataCollection, listDataUnits, type DataUnit } from '../platform/repositories/collections.js';
import { ensureDefaultStorage } from '../platform/repositories/storages.js';
import type { RunState } from '../contracts/run-state.js';
import { uploadWorkflow, type UploadWorkflowInput } from '../workflows/upload.js';
import { ROOT } from './helpers.js';

export const UPLOAD_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'upload-test');
/** Debian's python3 (with python3-openpyxl), not whatever python3 comes first on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export function tempDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `synapse-${name}-`));
}

/** Writes `files` (relative path -> content) under `root`; `mtime` (seconds) sets a file's time. */
export function writeTree(root: string, files: Record<string, string | Buffer | { body: string | Buffer; mtime: number }>): void {
  for (const [rel, value] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    const body = typeof value === 'string' || Buffer.isBuffer(value) ? value : value.body;
    writeFileSync(full, body);
    if (typeof value === 'object' && !Buffer.isBuffer(value)) utimesSync(full, value.mtime, value.mtime);
  }
}

export function sha256(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Runs a Python snippet with Debian's python3; throws with its stderr when it fails. */
export function python(code: string, args: string[] = []): void {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
}

/** An .xlsx written by openpyxl: `rows` is JSON; cells `{"date": "2024-03-05"}` / `{"datetime": ...}` become dates. */
export function writeXlsx(file: string, rows: unknown[][]): void {
  python(
    `
import json, sys, datetime, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
def cell(v):
    if isinstance(v, dict) and 'date' in v: return datetime.date.fromisoformat(v['date'])
    if isinstance(v, dict) and 'datetime' in v: return datetime.datetime.fromisoformat(v['datetime'])
    return v
for row in json.loads(sys.argv[2]):
    ws.append([cell(v) for v in row])
wb.save(sys.argv[1])
`,
    [file, JSON.stringify(rows)],
  );
}

export async function setupCollection(
  settings: Settings,
  name: string,
  files: { name: string; required?: boolean; extensions?: string[] }[],
): Promise<{ collectionId: number }> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    await ensureDefaultStorage(platform.db);
    const c = await createDataCollection(platform.db, { name, files });
    return { collectionId: c.id };
  } finally {
    await platform.close();
  }
}

export async function dataUnits(settings: Settings, collection: string | number): Promise<DataUnit[]> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    const c = await getDataCollection(platform.db, collection);
    return await listDataUnits(platform.db, { collectionId: c.id, limit: 100_000 });
  } finally {
    await platform.close();
  }
}

export async function finish(runs: RunsClient, runId: string): Promise<RunState> {
  return (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
}

/**
 * Starts the upload workflow directly with batch budgets (small batches, few in flight,
 * continue-as-new early), as runs.start would with the default ones.
 */
export async function startUpload(
  runs: RunsClient,
  settings: Settings,
  opts: {
    plugin?: { code: string; version: string; dir?: string };
    params: Record<string, unknown>;
    budget?: UploadWorkflowInput['budget'];
    heartbeatTimeoutSeconds?: number;
    runId?: string;
  },
): Promise<{ runId: string; firstExecutionRunId: string }> {
  const runId = opts.runId ?? `upload-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
  const plugin = opts.plugin ?? { code: 'upload-test', version: '1.0.0', dir: UPLOAD_FIXTURE };
  const now = new Date().toISOString();
  await runs.store.createRun({
    id: runId,
    pluginCode: plugin.code,
    pluginVersion: plugin.version,
    action: 'upload',
    category: 'upload',
    method: 'job',
    status: 'pending',
    params: opts.params,
    createdAt: now,
    updatedAt: now,
  });
  const handle = await runs.temporal.workflow.start(uploadWorkflow, {
    workflowId: runId,
    taskQueue: taskQueueFor(settings, 'job'),
    args: [
      {
        plugin,
        action: 'upload',
        category: 'upload',
        method: 'job',
        params: opts.params,
        progressCategories: { analyze_collection: { weight: 2 }, upload_data_files: { weight: 38 }, generate_data_units: { weight: 60 } },
        heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds ?? 30,
        startToCloseSeconds: 600,
        ...(opts.budget ? { budget: opts.budget } : {}),
      },
    ],
  });
  return { runId, firstExecutionRunId: handle.firstExecutionRunId };
}

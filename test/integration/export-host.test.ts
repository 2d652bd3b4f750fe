/**
 * Export plugin code runs in plugin hosts (issue 18): an exporter's hooks and finalize never
 * run in the worker. On one in-process worker against the dev server, with the fixture
 * exporters of test/fixtures/export-host:
 *
 * 1. an exporter that snoops the environment and the worker's files sees no secret and is
 *    refused every read, while a normal export beside it finishes with exact counts;
 * 2. an exporter whose convertData calls process.exit fails its run naming the exit (not
 *    retried past attempt 2 here), and the worker goes on with the next export;
 * 3. the hooks and finalize ran in the plugin host's pid (the run's `plugin_host` event),
 *    not the worker's;
 * 4. the worker stores only keys under the export folder (not its page parts), and copies
 *    only an item's own files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { settle, useHostileWorker } from '../hostile-worker.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { highestActivityAttempt, ROOT, testSettings } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'export-host');
const COUNT = 30;
const settings = testSettings('export-host');
let runs: RunsClient;
let data: GenerateResult;

/** The worker's secrets: in its environment (before plugin hosts, in every exporter's too). */
const SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIAEXPORTWORKERKEY',
  AWS_SECRET_ACCESS_KEY: 'export-worker-secret-access-key',
  SYNAPSE_GATEWAY_TOKEN: 'syn_export_worker_token',
  MY_EXPORT_TOKEN: 'undeclared-export-token',
};

useHostileWorker(
  settings,
  {
    secrets: SECRETS,
    limits: { maxCrashAttempts: 2 },
    before: async () => {
      const platform = await openDatabase({ dataDir: settings.dataDir });
      try {
        data = await generateSampleData(platform, { count: COUNT, seed: 7, projectName: 'exp-host', dataDir: settings.dataDir });
      } finally {
        await platform.close();
      }
    },
  },
  (r) => (runs = r),
);

/** Ground-truth export params for export folder `name`. */
function params(name: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    storage: 'default',
    target: 'ground_truth',
    filter: { ground_truth_dataset_version: data.groundTruth.versionId },
    ...(extra ? { extra_params: extra } : {}),
  };
}

/** The files of an export folder in the default storage, by path under it. */
function exportFiles(exportPath: string): Map<string, string> {
  const root = path.join(settings.dataDir, 'storage', 'default', exportPath);
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full, 'utf8'));
    }
  };
  walk(root);
  return files;
}

/** Starts a normal export (the built-in export-json) beside another run; it must finish with exact counts. */
async function normalBeside(name: string): Promise<{ settled: Promise<RunState> }> {
  const { runId } = await runs.start({ plugin: 'export-json', action: 'export', params: params(name) });
  return { settled: settle(runs, runId) };
}

function expectNormal(state: RunState): void {
  expect(state.status).toBe('completed');
  expect(state.result).toMatchObject({ total: COUNT, success: COUNT, failed: 0, skipped: 0 });
}

/** The pids of the plugin hosts that ran the run's steps (`plugin_host` events). */
async function hostPids(runId: string): Promise<Set<number>> {
  const events = await runs.store.readEvents(runId);
  return new Set(events.flatMap((e) => (e.data.kind === 'event' && e.data.event === 'plugin_host' ? [e.data.data.pid as number] : [])));
}

describe('export plugin code runs in plugin hosts', () => {
  it("a snooping exporter sees none of the worker's secrets and may read none of its files; the export beside it is exact", async () => {
    const keys = path.join(settings.dataDir, 's3', 'secrets.json');
    mkdirSync(path.dirname(keys), { recursive: true });
    writeFileSync(keys, JSON.stringify({ secretAccessKey: 'export-storage-secret' }));
    const files = [
      path.join(settings.dataDir, 'synapse.db'),
      keys,
      path.join(settings.dataDir, 'storage', 'default'),
      '/etc/passwd',
      path.join(ROOT, 'package.json'),
    ];
    const normal = await normalBeside('normal-beside-snoop');
    const snoop = await settle(runs, (await runs.start({ plugin: FIXTURE, action: 'snoop', params: params('snoop', { files }) })).runId);
    expectNormal(await normal.settled);

    expect(snoop.status).toBe('completed');
    expect(snoop.result).toMatchObject({ total: COUNT, success: COUNT, failed: 0 });
    const items = [...exportFiles('snoop')].filter(([key]) => key.startsWith('json/'));
    expect(items).toHaveLength(COUNT);
    for (const [key, text] of items) {
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(text, key).not.toContain(name);
        expect(text, key).not.toContain(value);
      }
      expect(text, key).not.toContain('export-storage-secret');
      const seen = JSON.parse(text) as { env: Record<string, string>; ctxEnvs: Record<string, string>; reads: Record<string, string> };
      expect(Object.keys(seen.env).filter((k) => /DATABASE|AWS|TOKEN|SECRET|TEMPORAL|SYNAPSE|^PG/.test(k))).toEqual([]);
      expect(seen.ctxEnvs).toEqual({});
      expect(Object.keys(seen.reads)).toEqual(files);
      for (const [file, outcome] of Object.entries(seen.reads)) expect(`${file}: ${outcome}`).toBe(`${file}: refused: ERR_ACCESS_DENIED`);
    }
  });

  it('an exporter whose convertData calls process.exit fails its run naming the exit; the worker goes on', async () => {
    const crash = await settle(runs, (await runs.start({ plugin: FIXTURE, action: 'crash', params: params('crash', { at: 3 }) })).runId);
    expect(crash.status).toBe('failed');
    expect(crash.error).toContain('exited with code 7');
    expect(crash.error).toContain('not retried');
    expect(await highestActivityAttempt(runs, crash.runId)).toBe(2);
    // The same worker runs the next export to the end.
    expectNormal(await (await normalBeside('normal-after-crash')).settled);
  });

  it("an exporter's hooks and finalize run in the plugin host's process, not the worker's", async () => {
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'whoami', params: params('whoami') });
    const state = await settle(runs, runId);
    expect(state.status).toBe('completed');
    expect(state.result).toMatchObject({ total: COUNT, success: COUNT });
    const files = exportFiles('whoami');
    const hosts = await hostPids(runId);
    expect(hosts.size).toBeGreaterThan(0);
    expect(hosts.has(process.pid)).toBe(false);
    const itemPids = [...files].filter(([key]) => key.startsWith('json/')).map(([, text]) => (JSON.parse(text) as { pid: number }).pid);
    expect(itemPids).toHaveLength(COUNT);
    for (const pid of itemPids) {
      expect(pid).not.toBe(process.pid);
      expect(hosts.has(pid)).toBe(true);
    }
    const pids = JSON.parse(files.get('pids.json') ?? '{}') as { finalize: number; items: number[]; count: number };
    expect(pids.count).toBe(COUNT);
    expect(pids.finalize).not.toBe(process.pid);
    expect(pids.items.every((pid) => hosts.has(pid))).toBe(true);
    expect(JSON.parse(files.get('manifest.json') ?? '{}')).toMatchObject({ files: { pids: 'pids.json' } });
  });

  it("the worker stores an exporter's files only under its export folder, and copies only its items' own files", async () => {
    const escape = await settle(runs, (await runs.start({ plugin: FIXTURE, action: 'escape', params: params('escape-w', { mode: 'write' }) })).runId);
    expect(escape.status).toBe('completed');
    expect(escape.result).toMatchObject({ total: COUNT, success: 0, failed: COUNT });
    expect(existsSync(path.join(settings.dataDir, 'storage', 'default', 'escape-w-stolen'))).toBe(false);
    const written = exportFiles('escape-w');
    expect([...written.keys()].sort()).toEqual(['error_file_list.json', 'manifest.json']);
    const errors = JSON.parse(written.get('error_file_list.json')!) as [string, string][];
    expect(errors).toHaveLength(COUNT);
    for (const [, reason] of errors) expect(reason).toContain('may only write and read under its export folder "escape-w/"');

    // A forged page part would change the counts finalize sums: refused too.
    const part = await settle(runs, (await runs.start({ plugin: FIXTURE, action: 'escape', params: params('escape-p', { mode: 'part' }) })).runId);
    expect(part.result).toMatchObject({ total: COUNT, success: 0, failed: COUNT });
    const parted = JSON.parse(exportFiles('escape-p').get('error_file_list.json')!) as [string, string][];
    for (const [, reason] of parted) expect(reason).toContain("may not write or read the export's part files");

    const copy = await settle(
      runs,
      (await runs.start({ plugin: FIXTURE, action: 'escape', params: { ...params('escape-c', { mode: 'copy' }), save_original_file: true } })).runId,
    );
    expect(copy.status).toBe('completed');
    expect(copy.result).toMatchObject({ total: COUNT, success: 0, failed: COUNT });
    // Each item whole or not at all: its JSON, stored before the refused copy, is deleted.
    const copied = exportFiles('escape-c');
    expect([...copied.keys()].sort()).toEqual(['error_file_list.json', 'manifest.json']);
    for (const [, reason] of JSON.parse(copied.get('error_file_list.json')!) as [string, string][])
      expect(reason).toContain("may only copy its item's own files");
  });
});

/**
 * An uploader's hooks run in its plugin host, not in the worker (issue 18). Each hostile mode
 * of test/fixtures/upload-host runs beside a normal upload (the built-in upload-files plugin)
 * on one in-process worker against the dev server: the normal upload completes with exact
 * counts on its first attempt; the hostile one saw none of the worker's secrets or files, or
 * fails naming its crash, or is refused naming the file it made up, with nothing uploaded. A
 * hook that needs a file's bytes gets them through BaseUploader.readFile, read by the worker.
 *
 * A host crash is not retried from attempt 2 here (SYNAPSE_PLUGIN_MAX_CRASH_ATTEMPTS), so the
 * exit case ends quickly.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import type { UploadSummary } from '../../activities/upload.js';
import { settle, useHostileWorker } from '../hostile-worker.js';
import { highestActivityAttempt, ROOT, testSettings } from '../helpers.js';
import { dataUnits, setupCollection, sha256, startUpload, tempDir, writeTree } from '../upload-helpers.js';

const HOSTILE = { code: 'upload-host', version: '1.0.0', dir: path.join(ROOT, 'test', 'fixtures', 'upload-host') };
const NORMAL = { code: 'upload-files', version: '1.0.0', dir: path.join(ROOT, 'plugins', 'upload-files') };
const settings = testSettings('upload-host');
let runs: RunsClient;

/** The worker's secrets: in its environment (and so, before plugin hosts, in every uploader's hooks). */
const SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIAUPLOADWORKERKEY',
  AWS_SECRET_ACCESS_KEY: 'upload-worker-secret-access-key',
  MY_SERVICE_TOKEN: 'undeclared-token-not-for-plugins',
  SYNAPSE_GATEWAY_TOKEN: 'syn_upload_worker_token',
};

useHostileWorker(
  settings,
  {
    secrets: SECRETS,
    limits: { maxCrashAttempts: 2 },
    before: async () => {
      await setupCollection(settings, 'pics', [{ name: 'image', required: true, extensions: ['.jpg'] }]);
    },
  },
  (r) => (runs = r),
);

/** A folder of `n` images with content unique to `tag`. */
function images(tag: string, n: number): { root: string; bodies: string[] } {
  const root = tempDir(`up-host-${tag}`);
  const bodies = Array.from({ length: n }, (_, i) => `${tag} image ${i} ${Math.random()}`);
  writeTree(root, Object.fromEntries(bodies.map((b, i) => [`image/${tag}-${i}.jpg`, b])));
  return { root, bodies };
}

/** The storage's object keys (local storage under the data dir). */
function storedKeys(): string[] {
  const dir = path.join(settings.dataDir, 'storage', 'default');
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map((k) => k.split(path.sep).join('/'));
}

/** Runs a hostile upload beside a normal one of 5 images; the normal one must finish untouched, with exact counts. */
async function beside(name: string, extra: Record<string, unknown>, root?: string): Promise<RunState> {
  const normal = images(`${name}-normal`, 5);
  const hostileRoot = root ?? images(name, 3).root;
  const n = await startUpload(runs, settings, {
    plugin: NORMAL,
    params: { name: `${name}-normal`, path: normal.root, storage: 'default', data_collection: 'pics' },
  });
  const h = await startUpload(runs, settings, {
    plugin: HOSTILE,
    params: { name, path: hostileRoot, storage: 'default', data_collection: 'pics', extra_params: extra },
  });
  const [ns, hs] = await Promise.all([settle(runs, n.runId), settle(runs, h.runId)]);
  expect(ns.status, ns.error).toBe('completed');
  expect(await highestActivityAttempt(runs, n.runId)).toBe(1);
  const summary = ns.result as UploadSummary;
  expect(summary).toMatchObject({ planned_units: 5, planned_files: 5, uploaded_files: 5, failed_files: 0, data_units_registered: 5, rejected_units: 0 });
  const keys = storedKeys();
  for (const body of normal.bodies) expect(keys.some((k) => k.includes(sha256(body)))).toBe(true);
  return hs;
}

describe('upload hooks run in a plugin host, beside a normal upload', () => {
  it("hooks that read process.env and the worker's files see no secrets and are refused", async () => {
    const keys = path.join(settings.dataDir, 's3', 'secrets.json');
    mkdirSync(path.dirname(keys), { recursive: true });
    writeFileSync(keys, JSON.stringify({ secretAccessKey: 'storage-secret-not-for-plugins' }));
    const files = [path.join(settings.dataDir, 'synapse.db'), keys, '/etc/passwd'];
    const h = await beside('snoop', { mode: 'snoop', files });
    expect(h.status, h.error).toBe('completed');
    expect(h.result).toMatchObject({ planned_units: 3, uploaded_files: 3, data_units_registered: 3 });
    const units = (await dataUnits(settings, 'pics')).filter((u) => u.uniqueKey.startsWith('snoop/'));
    expect(units).toHaveLength(3);
    const meta = units[0]!.meta as { env: string; reads: string; pid: number };
    expect(meta.pid).not.toBe(process.pid);
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(meta.env).not.toContain(name);
      expect(meta.env).not.toContain(value);
    }
    const reads = JSON.parse(meta.reads) as Record<string, string>;
    // The three files asked for and the unit's own image (the upload's folder is the worker's to read).
    expect(Object.keys(reads)).toHaveLength(4);
    for (const [file, outcome] of Object.entries(reads)) expect(`${file}: ${outcome}`).toBe(`${file}: refused: ERR_ACCESS_DENIED`);
  });

  it("a hook reads a discovered file's first bytes through readFile (the worker reads them); any other path is refused", async () => {
    const h = await beside('peek', { mode: 'peek' });
    expect(h.status, h.error).toBe('completed');
    const units = (await dataUnits(settings, 'pics')).filter((u) => u.uniqueKey.startsWith('peek/'));
    expect(units).toHaveLength(3);
    for (const u of units) {
      expect(u.meta.head).toBe('peek imag');
      expect(u.meta.other).toBe('readFile: /etc/passwd is not one of the files the upload found');
    }
  });

  it('organizeFiles calling process.exit fails the run naming the crash; the worker goes on', async () => {
    const h = await beside('exit', { mode: 'exit' });
    expect(h.status).toBe('failed');
    expect(h.error).toContain('exited with code 7');
    expect(h.error).toContain('not retried');
    expect((await dataUnits(settings, 'pics')).filter((u) => u.uniqueKey.startsWith('exit/'))).toEqual([]);
  });

  it('a unit naming a file discovery did not find, or of the wrong shape, is refused naming it, nothing uploaded', async () => {
    const h = await beside('escape', { mode: 'escape', redirect_to: '/etc/passwd' });
    expect(h.status).toBe('failed');
    expect(h.error).toContain('/etc/passwd is outside the folder of "image"');
    // Inside the folder but skipped by discovery (an extension the collection does not allow).
    const { root, bodies } = images('escape2', 2);
    const skipped = path.join(root, 'image', 'notes.txt.jpg.txt');
    writeTree(root, { 'image/notes.txt.jpg.txt': 'not an image' });
    const h2 = await beside('escape2', { mode: 'escape', redirect_to: skipped }, root);
    expect(h2.status).toBe('failed');
    expect(h2.error).toContain(`${skipped} is not one of the files the upload found`);
    const units = await dataUnits(settings, 'pics');
    expect(units.filter((u) => u.uniqueKey.startsWith('escape/') || u.uniqueKey.startsWith('escape2/'))).toEqual([]);
    // Units of the wrong shape: each wrong field named.
    const h3 = await beside('garbage', { mode: 'garbage' });
    expect(h3.status).toBe('failed');
    expect(h3.error).toContain("the uploader's validateFiles returned something the upload cannot use");
    expect(h3.error).toContain('units.0.key');
    expect(h3.error).toContain('units.0.files');
    expect((await dataUnits(settings, 'pics')).filter((u) => u.uniqueKey.startsWith('garbage/'))).toEqual([]);
    const keys = storedKeys();
    for (const body of [...bodies, 'not an image']) expect(keys.some((k) => k.includes(sha256(body)))).toBe(false);
  });
});

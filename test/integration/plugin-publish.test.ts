/**
 * Publishing a plugin and running the release from another machine: `synapse plugin publish`
 * puts a deterministic archive into an S3-compatible storage and records the release in
 * PostgreSQL; a real `synapse worker` process with its own, empty data dir (the plugin folder
 * gone) downloads, verifies and extracts it and runs it. Releases are immutable; a tampered
 * or hostile archive is refused before anything is extracted.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { openDatabase } from '../../platform/db.js';
import { createPluginRelease, createStorage, getPluginRelease } from '../../platform/repositories/index.js';
import { packTarGz, sha256, type ArchiveEntry } from '../../engine/plugin-archive.js';
import { releaseKey } from '../../engine/plugin-releases.js';
import { openStorage, type S3Storage, type StorageConfig } from '../../storage/index.js';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, ROOT, runCli, spawnWorker, testSettings } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';

// One platform (PostgreSQL) and one storage (versitygw) shared by every "machine" below,
// as in production. Set before anything opens a database; spawned processes inherit them.
const pgServer = inject('postgresUrl');
if (!pgServer) throw new Error(`PostgreSQL is not running for the tests: ${inject('postgresError')}`);
if (!inject('s3Endpoint')) throw new Error(`no S3 server for the publish tests: ${inject('s3Error')}`);
process.env.DATABASE_URL = await createDatabase(pgServer, `publish_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`);
process.env.PUBLISH_S3_ID = inject('s3AccessKeyId');
process.env.PUBLISH_S3_SECRET = inject('s3SecretAccessKey');

/** The publisher's machine. */
const settings = testSettings('publish');
/** The worker's machine: same Temporal, platform and storage, its own (empty) data dir. */
const workerSettings = { ...settings, dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-publish-worker-')) };

const s3: StorageConfig = {
  provider: 's3',
  bucket: `releases-${Date.now().toString(36)}`,
  endpoint: inject('s3Endpoint'),
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { source: 'env', accessKeyIdEnv: 'PUBLISH_S3_ID', secretAccessKeyEnv: 'PUBLISH_S3_SECRET' },
};

const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-publish-src-'));
const pluginDir = path.join(work, 'pub-demo');
let bucket: S3Storage;
let storageId: number;
let runs: RunsClient;
const workers: ChildProcess[] = [];

/** The demo plugin's config.yaml under another code and version. */
function demoConfig(code: string, version: string): string {
  return readFileSync(path.join(ROOT, 'plugins/demo-validation/config.yaml'), 'utf8')
    .replace(/^code: .*$/m, `code: ${code}`)
    .replace(/^version: .*$/m, `version: ${version}`);
}

/** A copy of the demo plugin under another code, outside this project (so with its own package.json). */
function makePlugin(dir: string, code: string, version = '1.0.0'): void {
  cpSync(path.join(ROOT, 'plugins/demo-validation'), dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.yaml'), demoConfig(code, version));
  writeFileSync(path.join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
}

/** Every path under `dir` (empty when it does not exist). */
function tree(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() : [];
}

async function withDb<T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<T>): Promise<T> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    return await fn(platform.db);
  } finally {
    await platform.close();
  }
}

beforeAll(async () => {
  bucket = openStorage(s3, { dataDir: settings.dataDir, name: 'releases' }) as S3Storage;
  await bucket.ensureBucket();
  storageId = await withDb(async (db) => (await createStorage(db, { name: 'releases', config: s3 })).id);
  runs = await connectRuns(settings);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGTERM');
  await runs?.close();
  await bucket?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('synapse plugin publish', () => {
  it('stores the archive under plugins/<code>/<version>/ with the recorded sha256, and lists the release', async () => {
    makePlugin(pluginDir, 'pub-demo');
    // Never published: installed dependencies and local secrets.
    cpSync(path.join(pluginDir, 'README.md'), path.join(pluginDir, 'node_modules/dep/README.md'), { recursive: true });
    writeFileSync(path.join(pluginDir, '.env'), 'TOKEN=secret\n');

    const res = await runCli(['plugin', 'publish', pluginDir, '--storage', 'releases', '--json'], settings);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { status: string; checksum: string; key: string; files: string[]; storage: { id: number } };
    expect(out.status).toBe('published');
    expect(out.key).toBe('plugins/pub-demo/1.0.0/pub-demo-1.0.0.tar.gz');
    expect(out.storage.id).toBe(storageId);
    expect(out.files).toEqual(['README.md', 'config.yaml', 'package.json', 'plugin/validate.ts']);

    const stored = await bucket.get(out.key);
    expect(sha256(stored)).toBe(out.checksum);
    const release = await withDb((db) => getPluginRelease(db, 'pub-demo', '1.0.0'));
    expect(release).toMatchObject({
      checksum: out.checksum,
      archive: { storage: storageId, key: out.key },
      config: { code: 'pub-demo', category: 'data_validation' },
    });

    const listed = await runCli(['plugin', 'releases', 'pub-demo'], settings);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`pub-demo@1.0.0`);
    expect(listed.stdout).toContain(out.checksum.slice(0, 16));
  });

  it('publishing the same files again is a no-op; other files under the same version are refused', async () => {
    const before = sha256(await bucket.get(releaseKey('pub-demo', '1.0.0')));
    const again = await runCli(['plugin', 'publish', pluginDir, '--storage', 'releases'], settings);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`pub-demo@1.0.0 is already published with the same content (sha256 ${before}): nothing to do`);

    // The row outlived its object: publishing the same files puts it back.
    await bucket.delete(releaseKey('pub-demo', '1.0.0'));
    const restored = await runCli(['plugin', 'publish', pluginDir, '--storage', 'releases', '--json'], settings);
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ status: 'restored', checksum: before });
    expect(sha256(await bucket.get(releaseKey('pub-demo', '1.0.0')))).toBe(before);

    writeFileSync(path.join(pluginDir, 'README.md'), '# changed\n');
    const changed = await runCli(['plugin', 'publish', pluginDir, '--storage', 'releases'], settings);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain('cannot publish pub-demo@1.0.0');
    expect(changed.stderr).toContain('bump the version');
    expect(changed.stderr).not.toMatch(/^\s+at /m);
    // The published archive is untouched.
    expect(sha256(await bucket.get(releaseKey('pub-demo', '1.0.0')))).toBe(before);
    expect(await withDb(async (db) => (await getPluginRelease(db, 'pub-demo', '1.0.0')).checksum)).toBe(before);
  });

  it('refuses a folder that fails `plugin check` (exit 2), publishing nothing', async () => {
    const bad = path.join(work, 'bad');
    makePlugin(bad, 'pub-bad');
    writeFileSync(
      path.join(bad, 'config.yaml'),
      readFileSync(path.join(bad, 'config.yaml'), 'utf8').replace('plugin.validate.ValidateDataset', 'plugin.validate.Missing'),
    );
    const res = await runCli(['plugin', 'publish', bad, '--storage', 'releases'], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('has no exported Action class "Missing"');
    const keys: string[] = [];
    for await (const o of bucket.list('plugins/pub-bad/')) keys.push(o.key);
    expect(keys).toEqual([]);
  });
});

describe('running a release by code@version', () => {
  it('a worker on another machine (empty data dir, plugin folder gone) downloads, verifies, extracts and runs it', async () => {
    // The plugin folder is moved away: from now on the release is the only copy.
    renameSync(pluginDir, `${pluginDir}-moved`);
    const published = await withDb((db) => getPluginRelease(db, 'pub-demo', '1.0.0'));

    // No worker yet: the run waits in its queue while the client's own cache is removed,
    // so the worker cannot use the folder the client resolved.
    const started = await runCli(
      ['plugin', 'run', 'validation', '{"count": 5}', '--plugin', 'pub-demo@1.0.0', '--detach', '--job-id', 'release-run-1'],
      settings,
    );
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const clientCache = path.join(settings.dataDir, 'plugins', 'pub-demo', '1.0.0');
    expect(tree(clientCache)).toContain('plugin/validate.ts');
    rmSync(path.join(settings.dataDir, 'plugins'), { recursive: true });
    expect(tree(path.join(workerSettings.dataDir, 'plugins'))).toEqual([]);

    workers.push(await spawnWorker(workerSettings));
    const final = (await runs.temporal.workflow.getHandle('release-run-1').result()) as RunState;
    expect(final.status).toBe('completed');
    expect(final.result).toMatchObject({ checked: 5 });

    const workerCache = path.join(workerSettings.dataDir, 'plugins', 'pub-demo', '1.0.0');
    expect(tree(workerCache)).toEqual(['.synapse-release.json', 'README.md', 'config.yaml', 'package.json', 'plugin', 'plugin/validate.ts']);
    expect(JSON.parse(readFileSync(path.join(workerCache, '.synapse-release.json'), 'utf8'))).toMatchObject({ checksum: published.checksum });
    // Neither node_modules nor the .env file travelled; no temp folder is left behind.
    expect(tree(path.join(workerSettings.dataDir, 'plugins', 'pub-demo'))).toEqual(['1.0.0', ...tree(workerCache).map((p) => `1.0.0/${p}`)].sort());

    // A second run reuses the extracted release.
    const marker = readFileSync(path.join(workerCache, '.synapse-release.json'), 'utf8');
    const second = await runCli(['plugin', 'run', 'validation', '{"count": 3}', '--plugin', 'pub-demo@1.0.0', '--json'], workerSettings);
    expect(second.code).toBe(0);
    expect(readFileSync(path.join(workerCache, '.synapse-release.json'), 'utf8')).toBe(marker);
  });

  it('a tampered archive fails its checksum: nothing is extracted', async () => {
    makePlugin(path.join(work, 'v2'), 'pub-demo', '1.0.1');
    expect((await runCli(['plugin', 'publish', path.join(work, 'v2'), '--storage', 'releases'], settings)).code).toBe(0);
    rmSync(path.join(work, 'v2'), { recursive: true });
    // Someone with write access to the bucket swaps the archive for other code.
    const evil = packTarGz([
      { path: 'config.yaml', type: 'file', mode: 0o644, data: readFileSync(path.join(`${pluginDir}-moved`, 'config.yaml')) },
      { path: 'plugin/validate.ts', type: 'file', mode: 0o644, data: Buffer.from('throw new Error("pwned");\n') },
    ]);
    await bucket.put(releaseKey('pub-demo', '1.0.1'), evil);

    const fresh = { ...settings, dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-publish-fresh-')) };
    const res = await runCli(['plugin', 'run', 'validation', '{"count": 1}', '--plugin', 'pub-demo@1.0.1', '--debug'], fresh);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('the archive of release pub-demo@1.0.1 fails its checksum');
    expect(res.stderr).toContain(`has sha256 ${sha256(evil)}`);
    expect(res.stderr).toContain('nothing was extracted');
    expect(tree(path.join(fresh.dataDir, 'plugins'))).toEqual([]);
  });

  /** Records a release of these entries directly (its checksum correct), as a hostile publisher could. */
  async function recordRelease(version: string, entries: ArchiveEntry[]): Promise<void> {
    const archive = packTarGz(entries);
    const key = releaseKey('pub-demo', version);
    await bucket.put(key, archive);
    await withDb((db) => createPluginRelease(db, { code: 'pub-demo', version, checksum: sha256(archive), config: {}, archive: { storage: storageId, key } }));
  }
  const file = (p: string, text: string): ArchiveEntry => ({ path: p, type: 'file', mode: 0o644, data: Buffer.from(text) });
  const config = (version: string, code = 'pub-demo') =>
    file(
      'config.yaml',
      `code: ${code}\nname: x\nversion: ${version}\ncategory: data_validation\nactions:\n  validation:\n    entrypoint: plugin.validate.ValidateDataset\n    method: job\n`,
    );

  it('a release without a package.json still loads its TypeScript as ES modules (the cache supplies the scope)', async () => {
    await recordRelease('1.0.2', [
      file('config.yaml', demoConfig('pub-demo', '1.0.2')),
      { path: 'plugin/validate.ts', type: 'file', mode: 0o644, data: readFileSync(path.join(ROOT, 'plugins/demo-validation/plugin/validate.ts')) },
    ]);
    const fresh = { ...settings, dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-publish-scope-')) };
    // Left by an extraction killed two hours ago, and one still being written by another process.
    const stale = path.join(fresh.dataDir, 'plugins', 'pub-demo', '.tmp-0.0.1-dead');
    const live = path.join(fresh.dataDir, 'plugins', 'pub-demo', '.tmp-0.0.2-live');
    mkdirSync(stale, { recursive: true });
    mkdirSync(live, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    const res = await runCli(['plugin', 'run', 'validation', '{"count": 2}', '--plugin', 'pub-demo@1.0.2', '--debug', '--json'], fresh);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout.trim().split('\n').at(-1)!)).toMatchObject({ kind: 'result', result: { checked: 2 } });
    expect(tree(path.join(fresh.dataDir, 'plugins', 'pub-demo', '1.0.2'))).not.toContain('package.json');
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(fresh.dataDir, 'plugins', 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
  });

  it.each([
    {
      version: '6.6.1',
      entries: () => [config('6.6.1'), file('../escaped.txt', 'x')],
      code: 2,
      error: /"\.\.\/escaped\.txt": "\.\." segments are not allowed/,
    },
    {
      version: '6.6.2',
      entries: () => [config('6.6.2'), file('/tmp/escaped-abs.txt', 'x')],
      code: 2,
      error: /"\/tmp\/escaped-abs\.txt": absolute paths are not allowed/,
    },
    {
      version: '6.6.3',
      entries: () => [config('6.6.3'), file('plugin/a.ts', '1'), file('plugin/A.ts', '2')],
      code: 2,
      error: /duplicate entry: collides with "plugin\/A\.ts"/,
    },
    { version: '6.6.4', entries: () => [config('6.6.4', 'other-plugin')], code: 1, error: /holds other-plugin@6\.6\.4, not pub-demo@6\.6\.4/ },
    { version: '6.6.5', entries: () => [file('README.md', 'no config')], code: 1, error: /has no config\.yaml/ },
  ])('a hostile release $version is refused before anything is written', async ({ version, entries, code, error }) => {
    await recordRelease(version, entries());
    const fresh = { ...settings, dataDir: mkdtempSync(path.join(os.tmpdir(), 'synapse-publish-hostile-')) };
    const res = await runCli(['plugin', 'run', 'validation', '--plugin', `pub-demo@${version}`, '--debug'], fresh);
    expect(res.code).toBe(code);
    expect(res.stderr).toMatch(error);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(tree(path.join(fresh.dataDir, 'plugins'))).toEqual([]);
    expect(existsSync(path.join(fresh.dataDir, 'escaped.txt'))).toBe(false);
    expect(existsSync(path.join(path.dirname(fresh.dataDir), 'escaped.txt'))).toBe(false);
    expect(existsSync('/tmp/escaped-abs.txt')).toBe(false);
  });

  it('an unknown release is an unknown plugin (exit 3); a version that is not semver is bad input (exit 2)', async () => {
    const unknown = await runCli(['plugin', 'run', 'validation', '--plugin', 'pub-demo@9.9.9', '--debug'], settings);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('unknown plugin "pub-demo"');
    const bad = await runCli(['plugin', 'run', 'validation', '--plugin', 'pub-demo@latest', '--debug'], settings);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"latest" is not a semantic version');
  });
});

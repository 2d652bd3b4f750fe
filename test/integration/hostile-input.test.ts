/**
 * Hostile input over both edges (issue 18 part 3), each case one of the failures the issue
 * lists: refused with the exit code / HTTP status of DESIGN.md section 8, naming the field or
 * limit, and with nothing started: no run row, no workflow, and the run's event stream a 404.
 * The pure checks behind these are in test/unit/hostile-input.test.ts and cli/io.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { INPUT_LIMITS } from '../../contracts/input-limits.js';
import { readTarGz } from '../../engine/plugin-archive.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { connectRuns, ROOT, runCli, testSettings } from '../helpers.js';

const settings = testSettings('hostile-input');
const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-hostile-input-'));
// The one folder this gateway lets uploads read (client/input-checks.ts).
const uploadRoot = path.join(work, 'uploads');
mkdirSync(path.join(uploadRoot, 'image'), { recursive: true });
process.env.SYNAPSE_UPLOAD_ROOTS = uploadRoot;

let runs: RunsClient;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

beforeAll(async () => {
  runs = await connectRuns(settings);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0 });
  token = (await tokens.create('tests')).token;
});
afterAll(async () => {
  await gateway?.close();
  tokens?.close();
  await runs?.close();
});

interface ProblemBody {
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

async function api(method: string, url: string, body?: unknown): Promise<{ status: number; body: ProblemBody }> {
  const res = await fetch(gateway.url + url, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as ProblemBody };
}

/** Nothing of the run exists: no row in the run store, no workflow, and its events are a 404. */
async function expectNothingStarted(runId: string): Promise<void> {
  expect(await runs.store.getRun(runId)).toBeUndefined();
  expect((await runCli(['run', 'status', runId], settings)).code).toBe(3);
  const events = await fetch(`${gateway.url}/v1/runs/${runId}/events`, { headers: { Authorization: `Bearer ${token}` } });
  expect(events.status).toBe(404);
  await events.body?.cancel();
}

const deepParams = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

describe('action names that Object.prototype holds', () => {
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

  it('CLI: exit 3 naming the action, not a TypeError', async () => {
    for (const name of names) {
      const res = await runCli(['plugin', 'run', name, '--plugin', 'demo-validation', '--job-id', `proto-${name.replaceAll('_', 'u')}`], settings);
      expect(res.code, res.stderr).toBe(3);
      expect(res.stderr).toContain(`plugin demo-validation has no action "${name}" (it has: validation)`);
      expect(res.stderr).not.toContain('Cannot read properties');
    }
  });

  it('HTTP: `constructor` is a 404 naming the action; names the body schema refuses are a 400 naming `action`, never a 500', async () => {
    const res = await api('POST', '/v1/runs', { plugin: 'demo-validation', action: 'constructor', params: {}, runId: 'proto-http-constructor' });
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.detail).toContain('has no action "constructor"');
    await expectNothingStarted('proto-http-constructor');
    for (const name of ['__proto__', 'toString', 'hasOwnProperty']) {
      const bad = await api('POST', '/v1/runs', { plugin: 'demo-validation', action: name, params: {}, runId: `proto-http-${name.replaceAll('_', 'u')}` });
      expect(bad.status, JSON.stringify(bad.body)).toBe(400);
      expect(bad.body.errors?.map((e) => e.path)).toEqual(['action']);
      await expectNothingStarted(`proto-http-${name.replaceAll('_', 'u')}`);
    }
  });
});

describe('params size and depth limits, checked before a run row or a workflow exists', () => {
  it('CLI: a 5 MB params file is exit 2 naming the limit; no pending row is left', async () => {
    const file = path.join(work, 'huge.json');
    writeFileSync(file, JSON.stringify({ count: 1, blob: 'x'.repeat(5 * 1024 * 1024) }));
    const res = await runCli(['plugin', 'run', 'validation', `@${file}`, '--plugin', 'demo-validation', '--job-id', 'huge-params-1'], settings);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(`over the params file size limit of ${INPUT_LIMITS.paramsFileBytes} bytes`);
    await expectNothingStarted('huge-params-1');
  });

  it('CLI: params nested 10,000 deep are exit 2 naming the depth limit', async () => {
    const res = await runCli(['plugin', 'run', 'validation', deepParams(10_000), '--plugin', 'demo-validation', '--job-id', 'deep-params-1'], settings);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(`params depth limit is ${INPUT_LIMITS.paramsDepth}`);
    await expectNothingStarted('deep-params-1');
  });

  it('HTTP: params nested 10,000 deep are a 400 naming the depth limit (not a 500 from the run store)', async () => {
    const res = await fetch(`${gateway.url}/v1/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: `{"plugin":"demo-validation","action":"validation","runId":"deep-http-1","params":${deepParams(10_000)}}`,
    });
    const body = (await res.json()) as ProblemBody;
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.errors).toEqual([{ path: 'params', message: expect.stringContaining(`params depth limit is ${INPUT_LIMITS.paramsDepth}`) as string }]);
    await expectNothingStarted('deep-http-1');
  });

  it('HTTP: params over the size limit (inside the body limit) are a 400 naming the size limit', async () => {
    const res = await api('POST', '/v1/runs', {
      plugin: 'demo-validation',
      action: 'validation',
      runId: 'big-http-1',
      params: { count: 1, blob: 'x'.repeat(600 * 1024) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors?.[0]?.message).toContain(`over the params size limit of ${INPUT_LIMITS.paramsBytes} bytes`);
    await expectNothingStarted('big-http-1');
  });
});

describe('@file params', () => {
  it('a fifo, /dev/zero and a folder are exit 2 at once', async () => {
    const fifo = path.join(work, 'params.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const arg of [`@${fifo}`, '@/dev/zero', `@${work}`]) {
      const res = await runCli(['plugin', 'run', 'validation', arg, '--plugin', 'demo-validation'], settings);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toContain('not a regular file');
    }
  });

  it('a file that is not JSON is located, and none of its bytes are printed', async () => {
    const file = path.join(work, 'shadow');
    writeFileSync(file, 'root:$y$j9T$Zm9vYmFyc2VjcmV0:19000:0:99999:7:::\n');
    const res = await runCli(['plugin', 'run', 'validation', `@${file}`, '--plugin', 'demo-validation'], settings);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(`${file}:1:1: unexpected character`);
    expect(res.stderr + res.stdout).not.toContain('root');
    expect(res.stderr + res.stdout).not.toContain('Zm9vYmFyc2VjcmV0');
  });
});

describe('config.yaml limits', () => {
  it('an alias bomb is exit 2 naming the file and the alias limit', async () => {
    const dir = path.join(work, 'bomb-plugin');
    mkdirSync(dir);
    const config = readFileSync(path.join(ROOT, 'plugins/demo-validation/config.yaml'), 'utf8').replace(/^code: .*$/m, 'code: bomb');
    const bomb = ['x: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
      ['g', 'f'],
    ])
      bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    writeFileSync(path.join(dir, 'config.yaml'), `${bomb.join('\n')}\n${config}`);
    const res = await runCli(['plugin', 'run', 'validation', '--plugin', dir], settings);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(path.join(dir, 'config.yaml'));
    expect(res.stderr).toContain(`more than ${INPUT_LIMITS.yamlAliases} aliases`);
  });
});

describe('export and upload paths, checked before the run exists', () => {
  const exportParams = (p: string) => ({ name: 'out', storage: 1, target: 'ground_truth', filter: { ground_truth_dataset_version: 1 }, path: p });

  it('CLI: an export path of "..", with a NUL or a newline is exit 2 naming `path`', async () => {
    for (const [i, value] of ['..', 'a/\u0000b', 'a\nb', 'exports/../../etc'].entries()) {
      const file = path.join(work, `export-${i}.json`);
      writeFileSync(file, JSON.stringify(exportParams(value)));
      const runId = `export-path-${i}`;
      const res = await runCli(['plugin', 'run', 'export', `@${file}`, '--plugin', 'export-json', '--job-id', runId], settings);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toMatch(/ path: ("\.\." segments|NUL bytes|control characters) are not allowed/);
      await expectNothingStarted(runId);
    }
  });

  it('HTTP: the same export path is a 400 naming params.path', async () => {
    const res = await api('POST', '/v1/runs', { plugin: 'export-json', action: 'export', params: exportParams('..'), runId: 'export-path-http' });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors).toEqual([{ path: 'params.path', message: '".." segments are not allowed' }]);
    await expectNothingStarted('export-path-http');
  });

  it('CLI: an upload path with a newline is exit 2 naming the field', async () => {
    const params = { name: 'u', path: `${uploadRoot}\nx`, storage: 1, data_collection: 1 };
    const res = await runCli(['plugin', 'run', 'upload', JSON.stringify(params), '--plugin', 'upload-files', '--job-id', 'upload-nl-1'], settings);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain('path: control characters');
    await expectNothingStarted('upload-nl-1');
  });
});

describe('upload sources over HTTP: only under the declared roots', () => {
  const upload = (params: Record<string, unknown>, runId: string) =>
    api('POST', '/v1/runs', { plugin: 'upload-files', action: 'upload', runId, params: { name: 'u', storage: 1, data_collection: 1, ...params } });

  it('an absolute server folder as assets.image.path is a 400, and nothing starts', async () => {
    const res = await upload({ use_single_path: false, assets: { image: { path: '/etc' } } }, 'upload-root-1');
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors?.map((e) => e.path)).toEqual(['params.assets.image.path']);
    expect(res.body.errors?.[0]?.message).toContain('is not under a declared upload root');
    await expectNothingStarted('upload-root-1');
  });

  it('a folder under the root that climbs out with ".." is refused the same way', async () => {
    const res = await upload({ path: uploadRoot, use_single_path: false, assets: { image: { path: '../../../etc' } } }, 'upload-root-2');
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.path)).toEqual(['params.assets.image.path']);
    await expectNothingStarted('upload-root-2');
  });

  it('excel_metadata_path: the same answer whether the server file exists or not (no existence oracle)', async () => {
    const answer = async (file: string, runId: string) => {
      const res = await upload({ path: uploadRoot, excel_metadata_path: file }, runId);
      await expectNothingStarted(runId);
      return { status: res.status, errors: res.body.errors?.map((e) => ({ path: e.path, message: e.message.replace(JSON.stringify(file), '<file>') })) };
    };
    const exists = await answer('/etc/passwd', 'upload-oracle-1');
    const missing = await answer('/etc/no-such-file-here', 'upload-oracle-2');
    expect(exists.status).toBe(400);
    expect(exists).toEqual(missing);
  });

  it("a relative upload path over HTTP is refused (never relative to the gateway's folder)", async () => {
    const res = await upload({ path: 'test/fixtures' }, 'upload-relative-1');
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({ path: 'params.path', message: expect.stringContaining('absolute') as string });
    await expectNothingStarted('upload-relative-1');
  });
});

describe('plugin publish leaves secrets out', () => {
  it('.env.local, .npmrc, id_rsa, keys and .git stay out of the release, .synapseignore is honoured, and the command lists what went in', async () => {
    const dir = path.join(work, 'secret-plugin');
    cpSync(path.join(ROOT, 'plugins/demo-validation'), dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.yaml'), readFileSync(path.join(dir, 'config.yaml'), 'utf8').replace(/^code: .*$/m, 'code: secret-demo'));
    writeFileSync(path.join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
    for (const f of ['.env.local', '.npmrc', 'id_rsa', 'server.pem']) writeFileSync(path.join(dir, f), 'SECRET_VALUE=hunter2\n');
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    mkdirSync(path.join(dir, 'scratch'));
    writeFileSync(path.join(dir, 'scratch', 'notes.txt'), 'local notes\n');
    writeFileSync(path.join(dir, '.synapseignore'), 'scratch/\n!.env.local\n');

    const res = await runCli(['plugin', 'publish', dir], settings);
    expect(res.code, res.stderr).toBe(0);
    for (const f of ['.synapseignore', 'README.md', 'config.yaml', 'package.json', 'plugin/validate.ts']) expect(res.stdout).toContain(`  + ${f}\n`);
    expect(res.stdout).toMatch(/left out \(secrets, VCS data, caches, \.synapseignore\): \.env\.local, \.git, \.npmrc, id_rsa, scratch, server\.pem/);

    const json = await runCli(['plugin', 'publish', dir, '--json'], settings);
    const out = JSON.parse(json.stdout) as { status: string; key: string; files: string[]; storage: { name: string } };
    expect(out.status).toBe('unchanged');
    const archive = readFileSync(path.join(settings.dataDir, 'storage', out.storage.name, ...out.key.split('/')));
    const entries = await readTarGz(archive, out.key);
    expect(entries.filter((e) => e.type === 'file').map((e) => e.path)).toEqual([
      '.synapseignore',
      'README.md',
      'config.yaml',
      'package.json',
      'plugin/validate.ts',
    ]);
    expect(entries.some((e) => e.data.toString('utf8').includes('hunter2'))).toBe(false);
  });
});

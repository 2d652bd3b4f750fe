/**
 * Storages, ground-truth datasets and publishing over HTTP (issue 17), against a real dev
 * server, worker, platform database and versitygw: list, show and add storages (an S3 one's
 * keys land in a 0600 secrets file and never in an answer or a log line), list a storage's
 * files by prefix a page at a time, ground-truth datasets linking their versions, and a
 * plugin archive published with a `plugins:publish` token and then run through POST
 * /v1/runs. Tokens without the scope get 403 naming it; hostile archives (a path climbing
 * out, a symbolic link, a decompression bomb) get 400 naming the entry and write nothing.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { packPluginDir } from '../../engine/plugin-archive.js';
import { useReleases } from '../../engine/plugin-releases.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData } from '../../platform/generate.js';
import { getStorage } from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { ROOT, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('gw-stor-pub');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let tokens: TokenStore;
let gateway: GatewayServer;
const logLines: string[] = [];
/** runs:read, runs:write: the default scopes. */
let plain: string;
let admin: string;
let publisher: string;

interface Problem {
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

beforeAll(async () => {
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  useReleases({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, log: (line) => logLines.push(line) });
  plain = (await tokens.create('plain')).token;
  admin = (await tokens.create('admin', ['runs:read', 'storages:write'])).token;
  publisher = (await tokens.create('publisher', ['runs:read', 'plugins:publish'])).token;
});
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
});

async function api<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  bearer = plain,
): Promise<{ status: number; body: T; headers: Headers; text: string }> {
  const res = await fetch(gateway.url + url, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: ((res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text) as T, headers: res.headers, text };
}

async function upload<T = unknown>(archive: Buffer, bearer = publisher, type = 'application/gzip', url = '/v1/releases', base = gateway.url) {
  const res = await fetch(base + url, { method: 'POST', headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': type }, body: archive });
  const text = await res.text();
  return { status: res.status, body: ((res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text) as T, headers: res.headers, text };
}

describe('storages', () => {
  const secret = `sekrit-${Math.random().toString(36).slice(2)}-value`;

  it('adds a local storage (storages:write only: a plain token gets 403 naming the scope), idempotently', async () => {
    const denied = await api<Problem>('POST', '/v1/storages', { name: 'gw-local', config: { provider: 'local' } });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toContain('storages:write');

    const created = await api<{ id: number; config: { root?: string }; links: { files: string } }>(
      'POST',
      '/v1/storages',
      { name: 'gw-local', config: { provider: 'local' } },
      admin,
    );
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/storages/${created.body.id}`);
    expect(created.body.config).toEqual({ provider: 'local', root: 'storage/gw-local' });
    expect((await api('POST', '/v1/storages', { name: 'gw-local', config: { provider: 'local' } }, admin)).status).toBe(200);

    // A caller cannot point a storage at the server's folders.
    const rooted = await api<Problem>('POST', '/v1/storages', { name: 'gw-rooted', config: { provider: 'local', root: '/etc' } }, admin);
    expect(rooted.status).toBe(400);
    expect(rooted.body.errors?.map((e) => e.path)).toContain('config.root');
  });

  it("adds an S3 storage: its keys go to a 0600 secrets file and never into an answer or the gateway's log", async () => {
    const body = {
      name: 'gw-s3',
      config: { provider: 's3', bucket: `gw-${Date.now().toString(36)}`, endpoint: inject('s3Endpoint'), createBucket: true, prefix: 'team/' },
      credentials: { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') },
    };
    const missing = await api<Problem>('POST', '/v1/storages', { ...body, credentials: undefined }, admin);
    expect(missing.status).toBe(400);
    expect(missing.body.errors?.[0]?.path).toBe('credentials');

    const created = await api<{ id: number; provider: string; config: Record<string, unknown> }>('POST', '/v1/storages', body, admin);
    expect(created.status).toBe(201);
    expect(created.body.config).toMatchObject({ provider: 's3', bucket: body.config.bucket, endpoint: body.config.endpoint, credentials: { source: 'file' } });
    expect(created.body.config.credentials).toEqual({ source: 'file' }); // not even the file's path
    const file = path.join(settings.dataDir, 'secrets', 'storage-gw-s3.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(body.credentials);

    // The same again: 200. Other keys under the name: 409, and the file keeps the first keys.
    expect((await api('POST', '/v1/storages', body, admin)).status).toBe(200);
    const other = await api<Problem>('POST', '/v1/storages', { ...body, credentials: { accessKeyId: 'x', secretAccessKey: secret } }, admin);
    expect(other.status).toBe(409);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(body.credentials);

    const list = await api<{ storages: { name: string }[] }>('GET', '/v1/storages');
    expect(list.body.storages.map((s) => s.name)).toEqual(expect.arrayContaining(['gw-local', 'gw-s3']));
    const byName = await api('GET', '/v1/storages/gw-s3');
    const byId = await api('GET', `/v1/storages/${created.body.id}`);
    expect(byName.body).toEqual(byId.body);
    expect((await api('GET', '/v1/storages/no-such-storage')).status).toBe(404);
    for (const text of [created.text, list.text, byName.text, other.text, ...logLines]) {
      expect(text).not.toContain(inject('s3SecretAccessKey'));
      expect(text).not.toContain(inject('s3AccessKeyId'));
      expect(text).not.toContain(secret);
      expect(text).not.toContain(settings.dataDir);
    }
  });

  it('lists files by prefix, a page at a time, in key order; unsafe prefixes and foreign page tokens are 400', async () => {
    const db = await openDatabase({ dataDir: settings.dataDir });
    try {
      for (const name of ['gw-s3', 'gw-local']) {
        const record = await getStorage(db.db, name);
        const provider = openStorage(record.config, { dataDir: settings.dataDir, name });
        try {
          await provider.ready?.();
          for (const key of ['a/1.txt', 'a/2.txt', 'a/3.txt', 'b/1.txt', 'c.txt']) await provider.put(key, `${name}:${key}`);
        } finally {
          await provider.close?.();
        }
      }
    } finally {
      await db.close();
    }
    type Page = { files: { key: string; size: number }[]; nextPageToken?: string };
    for (const name of ['gw-s3', 'gw-local']) {
      const all = await api<Page>('GET', `/v1/storages/${name}/files`);
      expect(all.body.files.map((f) => f.key)).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt', 'b/1.txt', 'c.txt']);
      expect(all.body.files[0]?.size).toBe(`${name}:a/1.txt`.length);
      expect(all.body.nextPageToken).toBeUndefined();

      const first = await api<Page>('GET', `/v1/storages/${name}/files?prefix=a/&limit=2`);
      expect(first.body.files.map((f) => f.key)).toEqual(['a/1.txt', 'a/2.txt']);
      expect(first.body.nextPageToken).toBeTypeOf('string');
      const second = await api<Page>('GET', `/v1/storages/${name}/files?prefix=a/&limit=2&pageToken=${first.body.nextPageToken}`);
      expect(second.body.files.map((f) => f.key)).toEqual(['a/3.txt']);
      expect(second.body.nextPageToken).toBeUndefined();

      const foreign = await api<Problem>('GET', `/v1/storages/${name}/files?prefix=b/&pageToken=${first.body.nextPageToken}`);
      expect(foreign.status).toBe(400);
      expect(foreign.body.errors?.[0]?.path).toBe('pageToken');
      for (const bad of ['../x', '/etc', 'a//b', 'a\\b']) {
        const res = await api<Problem>('GET', `/v1/storages/${name}/files?prefix=${encodeURIComponent(bad)}`);
        expect(res.status, bad).toBe(400);
        expect(res.body.errors?.[0]?.path).toBe('prefix');
      }
    }
  });
});

describe('ground-truth datasets', () => {
  it('lists and shows datasets with their project and versions, linking the versions', async () => {
    const db = await openDatabase({ dataDir: settings.dataDir });
    try {
      await generateSampleData(db, { count: 4, images: false, dataDir: settings.dataDir, projectName: 'gw-gt' });
    } finally {
      await db.close();
    }
    type Dataset = { id: number; name: string; project: { name: string } | null; versions: { id: number }[]; links: { self: string; versions: string } };
    const list = await api<{ datasets: Dataset[] }>('GET', '/v1/ground-truth-datasets');
    expect(list.status).toBe(200);
    const dataset = list.body.datasets.find((d) => d.name === 'gw-gt');
    expect(dataset).toMatchObject({ project: { name: 'gw-gt' } });
    expect(dataset?.versions.length).toBeGreaterThan(0);
    const one = await api<Dataset>('GET', dataset!.links.self);
    expect(one.body).toEqual(dataset);
    expect((await api<Dataset>('GET', '/v1/ground-truth-datasets/gw-gt')).body).toEqual(dataset);
    const versions = await api<{ versions: { id: number; dataUnits: number }[] }>('GET', dataset!.links.versions);
    expect(versions.body.versions.map((v) => v.id)).toEqual(dataset!.versions.map((v) => v.id));
    expect(versions.body.versions[0]?.dataUnits).toBe(4);
    expect((await api('GET', '/v1/ground-truth-datasets/no-such-dataset')).status).toBe(404);
    expect((await api('GET', '/v1/ground-truth-datasets/bad%20ref')).status).toBe(400);
  });
});

/** One ustar header (enough for hostile archives packTarGz would never write). */
function tarHeader(name: string, type: string, size: number, linkName = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 8, 'latin1');
  h.write('0000000\0', 108, 8, 'latin1');
  h.write('0000000\0', 116, 8, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
  h.write('00000000000\0', 136, 12, 'latin1');
  h.write('        ', 148, 8, 'latin1');
  h.write(type, 156, 1, 'latin1');
  h.write(linkName, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function tarGz(entries: { name: string; type?: string; data?: Buffer; link?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(tarHeader(e.name, e.type ?? '0', data.length, e.link), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/**
 * A copy of the demo-validation plugin under another code and version, archived by the
 * system's tar as the README says (`tar czf plugin.tar.gz -C my-plugin $(ls -A my-plugin)`),
 * or by engine/plugin-archive.ts.
 */
async function pluginArchive(code: string, version: string, extra = '', by: 'tar' | 'pack' = 'pack'): Promise<Buffer> {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'synapse-gw-pub-')), code);
  cpSync(path.join(ROOT, 'plugins/demo-validation'), dir, { recursive: true });
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    readFileSync(config, 'utf8')
      .replace(/^code: .*$/m, `code: ${code}`)
      .replace(/^version: .*$/m, `version: ${version}`),
  );
  if (extra) writeFileSync(path.join(dir, 'NOTES.md'), extra);
  if (by === 'tar') return execFileSync('tar', ['czf', '-', '-C', dir, ...readdirSync(dir)], { maxBuffer: 64 * 1024 * 1024 });
  return (await packPluginDir(dir)).archive;
}

describe('publishing a plugin archive', () => {
  const tmpEntries = () => (existsSync(path.join(settings.dataDir, 'tmp')) ? readdirSync(path.join(settings.dataDir, 'tmp')) : []);

  it('needs the scope plugins:publish and a gzip body', async () => {
    const archive = await pluginArchive('gw-pub-denied', '1.0.0');
    const denied = await upload<Problem>(archive, plain);
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toContain('plugins:publish');
    const wrongType = await upload<Problem>(archive, publisher, 'application/json');
    expect(wrongType.status).toBe(415);
    expect((await api<{ releases: unknown[] }>('GET', '/v1/releases?code=gw-pub-denied')).body.releases).toEqual([]);
  });

  it('refuses hostile archives with a 400 naming the entry, and writes nothing', async () => {
    const config = Buffer.from(readFileSync(path.join(ROOT, 'plugins/demo-validation/config.yaml'), 'utf8').replace(/^code: .*$/m, 'code: gw-pub-hostile'));
    const cases: { archive: Buffer; entry: string | RegExp; message: RegExp }[] = [
      {
        archive: tarGz([
          { name: 'config.yaml', data: config },
          { name: '../evil.txt', data: Buffer.from('x') },
        ]),
        entry: '"../evil.txt"',
        message: /\.\./,
      },
      {
        archive: tarGz([
          { name: 'config.yaml', data: config },
          { name: 'link', type: '2', link: '/etc/passwd' },
        ]),
        entry: '"link"',
        message: /symbolic link/,
      },
      {
        archive: tarGz([
          { name: 'config.yaml', data: config },
          { name: 'zeros.bin', data: Buffer.alloc(8 * 1024 * 1024) },
        ]),
        entry: '',
        message: /decompression bomb/,
      },
    ];
    for (const { archive, entry, message } of cases) {
      const res = await upload<Problem>(archive);
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors?.[0]?.path).toBe(entry);
      expect(res.body.errors?.[0]?.message).toMatch(message);
    }
    expect(existsSync(path.join(settings.dataDir, 'evil.txt'))).toBe(false);
    expect(tmpEntries()).toEqual([]);
    expect((await api<{ releases: unknown[] }>('GET', '/v1/releases?code=gw-pub-hostile')).body.releases).toEqual([]);
    const noConfig = await upload<Problem>(tarGz([{ name: 'README.md', data: Buffer.from('hi') }]));
    expect(noConfig.status).toBe(400);
    expect(noConfig.body.errors?.[0]?.path).toBe('config.yaml');
  });

  it("checks the plugin in plugin hosts, never in the gateway's process: a module that exits as it loads fails its publish naming its host", async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'synapse-gw-pub-')), 'exit');
    cpSync(path.join(ROOT, 'test/fixtures/gateway-hostile/exit-at-load'), dir, { recursive: true });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^code: .*$/m, 'code: gw-pub-exit'));
    const res = await upload<Problem>((await packPluginDir(dir)).archive);
    // Were the module imported here, this test file's process would have exited.
    expect(res.status, res.text).toBe(400);
    expect(res.text).toMatch(/plugin gw-pub-exit: action check does not load/);
    expect(res.text).toMatch(/plugin host \(pid \d+\) exited with code 3/);
    expect((await api<{ releases: unknown[] }>('GET', '/v1/releases?code=gw-pub-exit')).body.releases).toEqual([]);
    expect(tmpEntries()).toEqual([]);
  });

  it('an archive over the limit is 413', async () => {
    const small = await listenGateway({ runs, tokens, port: 0, publishLimitBytes: 1024, defaultMetrics: false });
    try {
      const res = await upload<Problem>(await pluginArchive('gw-pub-big', '1.0.0', 'x'.repeat(4096)), publisher, 'application/gzip', '/v1/releases', small.url);
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('publishes an archive, as `synapse plugin publish` does, and the release runs through POST /v1/runs', { timeout: 120_000 }, async () => {
    const archive = await pluginArchive('gw-pub-plugin', '1.0.0', '', 'tar');
    type Published = {
      status: string;
      release: { code: string; version: string; checksum: string };
      files: string[];
      storage: { name: string };
      links: { self: string };
    };
    const published = await upload<Published>(archive);
    expect(published.status, published.text).toBe(201);
    expect(published.body).toMatchObject({ status: 'published', release: { code: 'gw-pub-plugin', version: '1.0.0' }, storage: { name: 'default' } });
    expect(published.body.files).toEqual(expect.arrayContaining(['config.yaml', 'plugin/validate.ts']));
    expect(published.headers.get('location')).toBe('/v1/releases/gw-pub-plugin/1.0.0');
    expect((await api<{ checksum: string }>('GET', published.body.links.self)).body.checksum).toBe(published.body.release.checksum);
    expect(tmpEntries()).toEqual([]);

    // The same bytes again change nothing; other files under the same version are a conflict.
    expect((await upload<Published>(archive)).body.status).toBe('unchanged');
    const changed = await upload<Problem>(await pluginArchive('gw-pub-plugin', '1.0.0', 'changed'));
    expect(changed.status).toBe(409);
    expect(changed.body.detail).toMatch(/immutable/);

    const started = await api<{ runId: string; plugin: { code: string; version: string } }>('POST', '/v1/runs', {
      plugin: 'gw-pub-plugin',
      action: 'validation',
      params: { count: 3 },
    });
    expect(started.status, started.text).toBe(202);
    expect(started.body.plugin).toEqual({ code: 'gw-pub-plugin', version: '1.0.0' });
    const state = await waitFor(
      async () => {
        const res = await api<{ status: string }>('GET', `/v1/runs/${started.body.runId}`);
        return ['pending', 'running'].includes(res.body.status) ? undefined : res.body;
      },
      90_000,
      'the published release run to end',
    );
    expect(state.status).toBe('completed');
  });
});

describe('/openapi.json', () => {
  it('documents the new routes, their scopes and refusals', async () => {
    type Op = { summary: string; responses: Record<string, unknown>; parameters?: { name: string; in: string; schema: { pattern?: string } }[] };
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Op>>;
      components: { schemas: Record<string, unknown> };
    };
    const publish = doc.paths['/v1/releases']?.post;
    expect(publish?.summary).toContain('plugins:publish');
    expect(Object.keys(publish?.responses ?? {})).toEqual(expect.arrayContaining(['201', '200', '400', '401', '403', '409', '413', '415']));
    expect(doc.paths['/v1/storages']?.post?.summary).toContain('storages:write');
    const files = doc.paths['/v1/storages/{ref}/files']?.get;
    expect(files?.parameters?.find((p) => p.name === 'ref')?.schema.pattern).toBeTypeOf('string');
    // The prefix pattern says what the route refuses: the same strings, the same answers.
    const prefix = new RegExp(files?.parameters?.find((p) => p.name === 'prefix')?.schema.pattern ?? '');
    expect(['', 'a', 'a/', 'a/b.txt', '..x'].every((p) => prefix.test(p))).toBe(true);
    expect(['../x', '/etc', 'a//b', 'a\\b', 'a/.', '\u0001'].some((p) => prefix.test(p))).toBe(false);
    expect(doc.paths['/v1/ground-truth-datasets/{ref}']?.get).toBeDefined();
    for (const s of ['AddStorageRequest', 'Storage', 'StorageFileList', 'GroundTruthDataset', 'PublishResult'])
      expect(doc.components.schemas, s).toHaveProperty([s]);
  });
});

/**
 * The platform resources over HTTP against a real dev server, worker and platform: data
 * collections (list, read, create with file specifications: 201, then 200, then 400 for
 * other specifications), projects, ground-truth versions, models and a model's file, run
 * logs (text, JSON, ?kind=), artifacts of a train and an export run (bytes equal to the
 * stored files), the event stream filtered by kind, releases, GET / pointing at the docs,
 * every route in /openapi.json, scopes, and no server path in any error a client sees.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunsClient } from '../../client/runs.js';
import { publishPlugin, useReleases } from '../../engine/plugin-releases.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { ROOT, testSettings, useWorkerAndRuns } from '../helpers.js';
import { prepareResources, storedBytes, type ResourceFixture } from '../resources-fixture.js';

const settings = testSettings('res-gw');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;
let readOnly: string;
let fx: ResourceFixture;

interface Problem {
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

beforeAll(async () => {
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  useReleases({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0 });
  token = (await tokens.create('tests')).token;
  readOnly = (await tokens.create('reader', ['runs:read'])).token;
  fx = await prepareResources(settings, runs, { modelName: 'res-gw-model', exportName: 'res-gw-coco' });
});
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
});

async function api<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  bearer = token,
): Promise<{ status: number; body: T; headers: Headers; text: string }> {
  const res = await fetch(gateway.url + url, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers, text };
}

async function bytes(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(gateway.url + url, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

describe('GET / and /openapi.json', () => {
  it('GET / points at the docs: JSON links for API clients, a redirect for browsers', async () => {
    const json = await fetch(`${gateway.url}/`);
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ docs: '/docs', openapi: '/openapi.json' });
    expect(json.headers.get('link')).toContain('</docs>; rel="service-doc"');
    const html = await fetch(`${gateway.url}/`, { headers: { Accept: 'text/html' }, redirect: 'manual' });
    expect(html.status).toBe(302);
    expect(html.headers.get('location')).toBe('/docs');
  });

  it('lists every resource route and its schemas', async () => {
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    for (const p of [
      '/',
      '/v1/collections',
      '/v1/collections/{ref}',
      '/v1/projects',
      '/v1/projects/{ref}',
      '/v1/ground-truth-versions',
      '/v1/ground-truth-versions/{id}',
      '/v1/models',
      '/v1/models/{ref}',
      '/v1/models/{ref}/file',
      '/v1/releases',
      '/v1/releases/{code}/{version}',
      '/v1/runs/{id}/logs',
      '/v1/runs/{id}/artifacts',
      '/v1/runs/{id}/artifacts/{name}',
      '/v1/runs/{id}/resume',
    ])
      expect(doc.paths, p).toHaveProperty([p]);
    for (const s of [
      'CreateCollectionRequest',
      'CreateProjectRequest',
      'DataCollection',
      'Project',
      'GroundTruthVersion',
      'Model',
      'PluginRelease',
      'RunArtifact',
    ])
      expect(doc.components.schemas, s).toHaveProperty([s]);
  });
});

describe('data collections, projects, ground-truth versions', () => {
  it('lists and reads collections with their file specifications and unit counts; unknown is a 404', async () => {
    const list = await api<{ collections: { id: number; name: string; dataUnits: number; files: unknown[] }[] }>('GET', '/v1/collections');
    expect(list.status).toBe(200);
    expect(list.body.collections).toEqual([
      expect.objectContaining({ name: 'res', dataUnits: 40, files: [{ name: 'image', required: true, extensions: ['.png'] }] }),
    ]);
    const byName = await api<{ id: number }>('GET', '/v1/collections/res');
    const byId = await api<{ name: string }>('GET', `/v1/collections/${byName.body.id}`);
    expect(byId.body.name).toBe('res');
    const unknown = await api<Problem>('GET', '/v1/collections/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe('unknown data collection "nope"');
  });

  it('POST /v1/collections creates one (201), again the same (200), other specifications under the name (409), bad fields (400 naming each)', async () => {
    const body = {
      name: 'scans',
      description: 'CT',
      files: [
        { name: 'image', extensions: ['.png', 'JPG'] },
        { name: 'meta', required: false },
      ],
    };
    const created = await api<{ id: number; files: unknown[] }>('POST', '/v1/collections', body);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/collections/${created.body.id}`);
    expect(created.body.files).toEqual([
      { name: 'image', required: true, extensions: ['.png', '.jpg'] },
      { name: 'meta', required: false, extensions: [] },
    ]);
    expect((await api('POST', '/v1/collections', body)).status).toBe(200);
    const clash = await api<Problem>('POST', '/v1/collections', { ...body, files: [{ name: 'image' }] });
    expect(clash.status).toBe(409);
    expect(clash.body.detail).toBe('a data collection named "scans" exists with other file specifications');
    const bad = await api<Problem>('POST', '/v1/collections', { name: 'x', files: [{ name: 'Image', extensions: ['p n g'] }], color: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['color']));
    const badSpec = await api<Problem>('POST', '/v1/collections', { name: 'x', files: [{ name: 'Image', extensions: ['p n g'] }] });
    expect(badSpec.status).toBe(400);
    expect(badSpec.body.errors?.map((e) => e.path).sort()).toEqual(['files.0.extensions.0', 'files.0.name']);
    // A read-only token cannot create.
    expect((await api('POST', '/v1/collections', body, readOnly)).status).toBe(403);
  });

  it('projects: list with tasks per status, read by name, create (201/200/409), unknown collection 404', async () => {
    const list = await api<{ projects: { name: string; tasks: Record<string, number>; collection: { name: string } }[] }>('GET', '/v1/projects');
    expect(list.body.projects).toEqual([expect.objectContaining({ name: 'res', collection: expect.objectContaining({ name: 'res' }) })]);
    const tasks = list.body.projects[0]!.tasks;
    expect(Object.values(tasks).reduce((a, b) => a + b, 0)).toBe(40);
    const configuration = { data_type: 'image', classes: [{ name: 'tumor', type: 'bbox' }] };
    const created = await api<{ id: number; name: string; collection: { name: string } }>('POST', '/v1/projects', {
      name: 'ct',
      collection: 'scans',
      configuration,
    });
    expect(created.status).toBe(201);
    expect(created.body.collection.name).toBe('scans');
    expect((await api('POST', '/v1/projects', { name: 'ct', collection: 'scans', configuration })).status).toBe(200);
    expect((await api<{ name: string }>('GET', `/v1/projects/${created.body.id}`)).body.name).toBe('ct');
    expect((await api('POST', '/v1/projects', { name: 'ct2', collection: 'nope', configuration })).status).toBe(404);
    expect((await api('POST', '/v1/projects', { name: 'ct', collection: 'res', configuration })).status).toBe(409);
    const bad = await api<Problem>('POST', '/v1/projects', { name: 'ct3', collection: 'scans', configuration: { data_type: 'smell', classes: [] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.path).toBe('configuration.data_type');
  });

  it('ground-truth versions: list (by dataset too), read; a bad id is a 400, an unknown one a 404', async () => {
    const list = await api<{ versions: { id: number; dataUnits: number; dataset: { name: string } }[] }>('GET', '/v1/ground-truth-versions');
    expect(list.body.versions).toEqual([
      expect.objectContaining({ id: fx.data.groundTruth.versionId, dataUnits: 40, dataset: expect.objectContaining({ name: 'res' }) }),
    ]);
    expect((await api<{ versions: unknown[] }>('GET', '/v1/ground-truth-versions?dataset=res')).body.versions).toHaveLength(1);
    expect((await api('GET', '/v1/ground-truth-versions?dataset=nope')).status).toBe(404);
    expect((await api<{ dataUnits: number }>('GET', `/v1/ground-truth-versions/${fx.data.groundTruth.versionId}`)).body.dataUnits).toBe(40);
    expect((await api('GET', '/v1/ground-truth-versions/abc')).status).toBe(400);
    expect((await api('GET', '/v1/ground-truth-versions/9999')).status).toBe(404);
  });
});

describe('models, logs, artifacts, events by kind', () => {
  it('lists models, reads one by id and name, downloads its file byte for byte', async () => {
    const list = await api<{ models: { id: number; name: string; runId: string }[] }>('GET', '/v1/models?plugin=train-ts-example');
    expect(list.body.models).toEqual([expect.objectContaining({ id: fx.train.modelId, name: 'res-gw-model', runId: fx.train.runId })]);
    expect((await api<{ models: unknown[] }>('GET', '/v1/models?plugin=other')).body.models).toEqual([]);
    expect((await api<{ id: number }>('GET', '/v1/models/res-gw-model')).body.id).toBe(fx.train.modelId);
    const file = await bytes(`/v1/models/${fx.train.modelId}/file`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-disposition')).toContain(path.posix.basename(fx.train.modelKey));
    expect(file.body.equals(storedBytes(settings, fx.train.modelKey))).toBe(true);
    expect((await api('GET', '/v1/models/nope')).status).toBe(404);
  });

  it('run logs as text and JSON, filtered by kind; an unknown kind is a 400 naming the allowed ones', async () => {
    const text = await api<string>('GET', `/v1/runs/${fx.train.runId}/logs`);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toContain('text/plain');
    const lines = text.text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} [A-Z]+ +\S/);
    const json = await api<{ events: { kind: string }[]; nextAfter: number }>('GET', `/v1/runs/${fx.export.runId}/logs?format=json&kind=progress,metrics`);
    expect(json.body.events.length).toBeGreaterThan(0);
    expect(new Set(json.body.events.map((e) => e.kind))).toEqual(new Set(['progress', 'metrics']));
    const bad = await api<Problem>('GET', `/v1/runs/${fx.export.runId}/logs?kind=progress,bogus`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      { path: 'kind', message: 'unknown kind "bogus"; use one or more of log, event, progress, metrics, status (comma-separated)' },
    ]);
    expect((await api('GET', '/v1/runs/no-such-run/logs')).status).toBe(404);
  });

  it('the event stream with ?kind=progress carries only progress events, then the end', async () => {
    const res = await fetch(`${gateway.url}/v1/runs/${fx.export.runId}/events?kind=progress`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = await res.text(); // the run has ended: the stream closes after `end`
    const kinds = [...body.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(kinds.length).toBeGreaterThan(1);
    expect(new Set(kinds)).toEqual(new Set(['progress', 'end']));
    expect(kinds.at(-1)).toBe('end');
    const bad = await fetch(`${gateway.url}/v1/runs/${fx.export.runId}/events?kind=item_checked`, { headers: { Authorization: `Bearer ${token}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Problem).errors?.[0]?.message).toContain('use one or more of log, event, progress, metrics, status');
  });

  it("artifacts: a train run's model file and an export's files, each downloadable byte for byte; an unknown name is a 404 listing them", async () => {
    const train = await api<{ artifacts: { name: string; kind: string; size: number; href: string }[] }>('GET', `/v1/runs/${fx.train.runId}/artifacts`);
    const modelFile = storedBytes(settings, fx.train.modelKey);
    expect(train.body.artifacts).toEqual([
      expect.objectContaining({ name: `model/${path.posix.basename(fx.train.modelKey)}`, kind: 'model', size: modelFile.length, modelId: fx.train.modelId }),
    ]);
    expect((await bytes(train.body.artifacts[0]!.href)).body.equals(modelFile)).toBe(true);

    const exp = await api<{ artifacts: { name: string; size: number; href: string }[] }>('GET', `/v1/runs/${fx.export.runId}/artifacts`);
    const names = exp.body.artifacts.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['annotations/instances_default.json', 'manifest.json', 'error_file_list.json']));
    const coco = exp.body.artifacts.find((a) => a.name === 'annotations/instances_default.json')!;
    expect(coco.href).toBe(`/v1/runs/${fx.export.runId}/artifacts/annotations/instances_default.json`);
    const got = await bytes(coco.href);
    expect(got.status).toBe(200);
    expect(got.body.equals(storedBytes(settings, `${fx.export.exportPath}/annotations/instances_default.json`))).toBe(true);
    expect(got.body.length).toBe(coco.size);

    const missing = await api<Problem>('GET', `/v1/runs/${fx.export.runId}/artifacts/nope.json`);
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toContain('has no artifact "nope.json"');
    expect(missing.body.detail).toMatch(/\(it has \d+: annotations\/instances_default\.json, /);
    // A run without artifacts lists none.
    const validation = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3, delayMs: 1 } });
    await runs.temporal.workflow.getHandle(validation.runId).result();
    expect((await api<{ artifacts: unknown[] }>('GET', `/v1/runs/${validation.runId}/artifacts`)).body.artifacts).toEqual([]);
    // A completed run does not resume: a 400 that says what does.
    const resume = await api<Problem>('POST', `/v1/runs/${validation.runId}/resume`, {});
    expect(resume.status).toBe(400);
    expect(resume.body.errors?.[0]?.message).toMatch(
      /completed: there is nothing left to resume; only a cancelled, failed, terminated or timed-out train and tune run resumes/,
    );
  });
});

describe('plugins, releases and client errors', () => {
  it('a release no folder holds is listed in /v1/plugins and described at /v1/plugins/{code} (the newest version); /v1/releases lists both versions', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-res-gw-'));
    for (const version of ['1.2.0', '1.10.0']) {
      const dir = path.join(work, `v${version}`);
      cpSync(path.join(ROOT, 'plugins/demo-validation'), dir, { recursive: true });
      const config = readFileSync(path.join(dir, 'config.yaml'), 'utf8')
        .replace(/^code: .*$/m, 'code: res-gw-released')
        .replace(/^version: .*$/m, `version: ${version}`);
      writeFileSync(path.join(dir, 'config.yaml'), config);
      await publishPlugin({ dir, dataDir: settings.dataDir });
    }
    const plugins = await api<{ plugins: { code: string; version: string; source: string; actions: string[] }[] }>('GET', '/v1/plugins');
    expect(plugins.body.plugins).toContainEqual(
      expect.objectContaining({ code: 'res-gw-released', version: '1.10.0', source: 'release', actions: ['validation'] }),
    );
    expect(plugins.body.plugins).toContainEqual(expect.objectContaining({ code: 'demo-validation', source: 'folder' }));
    const described = await api<{
      version: string;
      source: string;
      releases: { version: string }[];
      actions: Record<string, { paramsSchema: { properties: object } }>;
    }>('GET', '/v1/plugins/res-gw-released');
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ version: '1.10.0', source: 'release' });
    expect(described.body.releases.map((r) => r.version)).toEqual(['1.10.0', '1.2.0']);
    expect(Object.keys(described.body.actions.validation!.paramsSchema.properties)).toContain('count');
    const releases = await api<{ releases: { version: string }[] }>('GET', '/v1/releases?code=res-gw-released');
    expect(releases.body.releases.map((r) => r.version)).toEqual(['1.10.0', '1.2.0']);
    expect((await api<{ version: string }>('GET', '/v1/releases/res-gw-released/newest')).body.version).toBe('1.10.0');
    expect((await api('GET', '/v1/releases/res-gw-released/9.9.9')).status).toBe(404);
    // POST /v1/runs with the code alone runs the newest release.
    const started = await api<{ plugin: { version: string } }>('POST', '/v1/runs', { plugin: 'res-gw-released', action: 'validation', params: { count: 2 } });
    expect(started.status).toBe(202);
    expect(started.body.plugin).toEqual({ code: 'res-gw-released', version: '1.10.0' });
  });

  it('an unknown plugin is a 404 that names no server path', async () => {
    for (const url of ['/v1/plugins/no-such-plugin', '/v1/plugins/no-such-plugin@1.0.0']) {
      const res = await api<Problem>('GET', url);
      expect(res.status).toBe(404);
      expect(res.text).not.toContain(ROOT.replace(/\/$/, ''));
      expect(res.text).not.toContain(os.tmpdir());
      expect(res.text).not.toMatch(/\/(work|home|tmp|usr|srv)\//);
    }
    // /readyz answers anyone: a data dir it cannot write is named as a server path, not by its path.
    const missingDir = path.join(os.tmpdir(), `synapse-res-gw-missing-${Date.now()}`, 'data');
    const elsewhere = await listenGateway({
      runs: new RunsClient({ ...settings, dataDir: missingDir }, runs.temporal, runs.store),
      tokens,
      port: 0,
      defaultMetrics: false,
    });
    try {
      const ready = await fetch(`${elsewhere.url}/readyz`);
      expect(ready.status).toBe(503);
      const text = await ready.text();
      expect(text).toContain('"storage":"data dir a server path is not writable');
      expect(text).not.toContain(missingDir);
    } finally {
      await elsewhere.close();
    }
    const started = await api<Problem>('POST', '/v1/runs', { plugin: 'no-such-plugin', action: 'validation' });
    expect(started.status).toBe(404);
    expect(started.body.detail).toBe(`unknown plugin "no-such-plugin": not a folder and not found in the server's plugin folders`);
  });
});

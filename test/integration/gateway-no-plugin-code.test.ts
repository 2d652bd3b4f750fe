/**
 * The gateway never imports plugin code (issue 18): it describes actions in plugin hosts
 * (activities/plugin-host-describe.ts). Two plugins whose module top level is hostile
 * (test/fixtures/gateway-hostile): one calls process.exit(3), one sets Object.prototype.polluted.
 * POST /v1/runs and GET /openapi.json for them: this process (the gateway's) stays up and
 * answers, its Object.prototype stays clean, the exiting plugin's start is refused naming its
 * host's exit, the polluting one's run starts; params errors are 400s naming the field, as before. Were the gateway to import either module, this test file's
 * process would exit or see the pollution.
 *
 * GET /v1/plugins/{code} too: each action's params JSON Schema is written in its host. The
 * exiting plugin is answered (200) with each action listed without its schema and an `error`
 * naming its host's exit; a normal plugin's answer is what `synapse plugin describe` (the
 * classes loaded in this process) gives. A gateway app built with createGateway alone (no
 * listenGateway) describes in hosts as well.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { createGateway, DESCRIBE_IN_HOSTS } from '../../gateway/app.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { describeInPluginHost } from '../../activities/plugin-host-describe.js';
import { describeLoadedPlugin, type PluginDescription } from '../../engine/plugin-describe.js';
import { findPlugin } from '../../engine/plugin-loader.js';
import { describeInProcess, type DescribeRequest } from '../../engine/run-params.js';
import { ROOT, testSettings, useWorkerAndRuns } from '../helpers.js';

// The gateway (and the worker) find the fixtures by code.
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'gateway-hostile');
const previousPath = process.env.SYNAPSE_PLUGIN_PATH;
process.env.SYNAPSE_PLUGIN_PATH = [FIXTURES, previousPath].filter(Boolean).join(path.delimiter);

const settings = testSettings('gw-noplug');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

beforeAll(async () => {
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0 });
  token = (await tokens.create('tests')).token;
});
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
  if (previousPath === undefined) delete process.env.SYNAPSE_PLUGIN_PATH;
  else process.env.SYNAPSE_PLUGIN_PATH = previousPath;
});

interface Problem {
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

async function api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(gateway.url + route, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Whether this process's Object.prototype has anything enumerable (or `polluted` at all). */
function prototypeIsClean(): boolean {
  for (const key in {}) if (key) return false;
  return !Object.hasOwn(Object.prototype, 'polluted');
}

describe('the gateway never imports plugin code', () => {
  it('a module that exits as it loads: the start is refused naming its plugin host, the gateway answers on', async () => {
    const res = await api<Problem>('POST', '/v1/runs', { plugin: 'gw-exit-at-load', action: 'check', params: { count: 2 }, runId: 'gw-noplug-exit-1' });
    expect(res.status).toBe(400);
    const text = JSON.stringify(res.body);
    expect(text).toMatch(/plugin gw-exit-at-load: action check does not load/);
    expect(text).toMatch(/plugin host \(pid \d+\) exited with code 3/);
    // Nothing started, and the gateway (this process) is still here.
    expect(await runs.store.getRun('gw-noplug-exit-1')).toBeUndefined();
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    // A bad body for it: the body's own problems, nothing from the plugin (it does not load).
    const bad = await api<Problem>('POST', '/v1/runs', { plugin: 'gw-exit-at-load', action: 'check', params: { count: 2 }, runId: '-bad' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.map((e) => e.path)).toEqual(['runId']);
  });

  it('a module that pollutes Object.prototype as it loads: the run starts per its params; this process stays clean', async () => {
    const res = await api<{ runId: string }>('POST', '/v1/runs', {
      plugin: 'gw-pollute-at-load',
      action: 'check',
      params: { count: 3 },
      runId: 'gw-noplug-pollute-1',
    });
    expect(res.status).toBe(202);
    expect(res.body.runId).toBe('gw-noplug-pollute-1');
    expect((await runs.store.getRun('gw-noplug-pollute-1'))?.params).toEqual({ count: 3 });
    expect(prototypeIsClean()).toBe(true);
    // Again, in the same gateway: its hosts retired themselves (polluted), new ones answer.
    const again = await api<{ runId: string }>('POST', '/v1/runs', { plugin: 'gw-pollute-at-load', action: 'check', params: { count: 4 } });
    expect(again.status).toBe(202);
    expect(prototypeIsClean()).toBe(true);
  });

  it('params errors are 400s naming the field, as before, checked in the plugin host', async () => {
    const res = await api<Problem>('POST', '/v1/runs', { plugin: 'gw-pollute-at-load', action: 'check', params: { count: 0 } });
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.path)).toEqual(['params.count']);
    expect(res.body.errors?.find((e) => e.path === 'params.count')?.message).toMatch(/>=\s*1|at least 1|too small/i);
    // A bad body (an invalid run id) also names every bad param, found by the plugin's host.
    const both = await api<Problem>('POST', '/v1/runs', { plugin: 'gw-pollute-at-load', action: 'check', params: { count: 'many' }, runId: '-bad' });
    expect(both.status).toBe(400);
    expect(both.body.errors?.map((e) => e.path).sort()).toEqual(['params.count', 'runId']);
    expect(prototypeIsClean()).toBe(true);
  });

  it('GET /openapi.json: served schemas computed in hosts; the exiting plugin is left out, the gateway stays up and clean', async () => {
    const res = await fetch(`${gateway.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { components: { schemas: Record<string, Record<string, unknown>> } };
    const schemas = doc.components.schemas;
    // The built-in TypeScript served action (plugins/auto-label), described in its plugin host.
    expect(schemas['deploy.auto-label.auto_label.input']).toMatchObject({ type: 'object' });
    expect(Object.keys(schemas).filter((k) => k.includes('gw-exit-at-load'))).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });
});

describe('GET /v1/plugins/{code}: params schemas written in plugin hosts', () => {
  type Described = PluginDescription & { config: unknown };

  it('the exiting plugin: 200, each action without its schema and with an error naming its host; the gateway answers on', async () => {
    const res = await api<Described>('GET', '/v1/plugins/gw-exit-at-load');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.actions).sort()).toEqual(['check', 'deployment']);
    for (const [name, action] of Object.entries(res.body.actions)) {
      expect(action.paramsSchema).toEqual({});
      expect(action.error).toMatch(
        new RegExp(`^plugin gw-exit-at-load: action ${name} does not load: plugin: its plugin host failed while loading it: .*exited with code 3`),
      );
    }
    // What config.yaml says is still there (no code needed for it).
    expect(res.body).toMatchObject({ code: 'gw-exit-at-load', version: '1.0.0', category: 'neural_net', source: 'folder' });
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    // Asked again, the failure is answered from memory (DESCRIBE_FAILURE_TTL_MS): the same host
    // pid in the error, where each GET used to start a host that exits.
    const again = await api<Described>('GET', '/v1/plugins/gw-exit-at-load');
    expect(again.status).toBe(200);
    for (const [name, action] of Object.entries(again.body.actions)) expect(action.error).toBe(res.body.actions[name]?.error);
  });

  it('the polluting plugin: listed, its schema refused by zod in its polluted host; this process stays clean', async () => {
    // zod's toJSONSchema fails in a process whose Object.prototype has an enumerable key (the
    // plugin's own doing, in its own host); its params still parse there (its runs start, above).
    const res = await api<Described>('GET', '/v1/plugins/gw-pollute-at-load');
    expect(res.status).toBe(200);
    expect(res.body.actions.check?.paramsSchema).toEqual({});
    expect(res.body.actions.check?.error).toMatch(/^its params have no JSON Schema: /);
    expect(prototypeIsClean()).toBe(true);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it.each(['demo-validation', 'train-ts-example', 'export-coco', 'upload-files', 'auto-label', 'to-task'])(
    '%s: the same answer as describing it in this process (the CLI)',
    async (code) => {
      const res = await api<Described>('GET', `/v1/plugins/${code}`);
      expect(res.status).toBe(200);
      const { config: _config, ...hosted } = res.body;
      const inProcess = await describeLoadedPlugin(await findPlugin(code), { dataDir: settings.dataDir });
      expect({ ...hosted, releases: [] }).toEqual(JSON.parse(JSON.stringify(inProcess)));
      for (const action of Object.values(hosted.actions)) {
        expect(action.error).toBeUndefined();
        expect(action.paramsSchema).toMatchObject({ type: 'object' });
      }
    },
  );

  it('a gateway app built with createGateway alone describes in plugin hosts too', async () => {
    const previous = runs.describer;
    runs.describer = undefined;
    const built = createGateway({ runs, tokens, rateLimit: false, defaultMetrics: false, stateCache: false });
    expect(runs.describer).toBe(DESCRIBE_IN_HOSTS);
    runs.describer = previous;
    const server = createServer(built.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // In this process, the module would end it; in a host, its exit is the action's error.
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/plugins/gw-exit-at-load`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Described;
      expect(body.actions.check?.error).toMatch(/its plugin host failed while loading it: .*exited with code 3/);
    } finally {
      built.closeStreams();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a plugin host describes an action as this process would', () => {
  /** What a run start reads of a description (the plugin and config are this process's in both). */
  async function both(ref: string, action: string, request: DescribeRequest) {
    const plugin = await findPlugin(ref);
    const settle = (p: Promise<unknown>) =>
      p.then(
        (d) => {
          const { plugin: _p, config: _c, ...rest } = d as Record<string, unknown>;
          return { ok: rest };
        },
        (err: unknown) => ({ error: (err as Error).name, message: (err as Error).message }),
      );
    return {
      hosted: await settle(describeInPluginHost(plugin, action, request)),
      inProcess: await settle(describeInProcess.describe(plugin, action, request)),
    };
  }

  it.each([
    ['train-ts-example', 'train', 'train'],
    ['export-coco', 'export', 'export'],
    ['upload-files', 'upload', 'upload'],
    ['auto-label', 'auto_label', 'deployment'],
    ['to-task', 'to_task', 'task-pages'],
    ['demo-validation', 'validation', 'action'],
  ])('%s %s: the %s shape, its secret fields and served schemas', async (ref, action, shape) => {
    const { hosted, inProcess } = await both(ref, action, { parse: false });
    expect(hosted).toEqual(inProcess);
    expect(hosted).toMatchObject({ ok: { shape } });
  });

  it('params: the same parse, the same problems, secret fields redacted for the run store', async () => {
    const good = await both(path.join(ROOT, 'test', 'fixtures', 'plugins', 'secret-params'), 'validation', {
      parse: true,
      params: { host: 'db', password: 'hunter2-hunter2' },
    });
    expect(good.hosted).toEqual(good.inProcess);
    expect(good.hosted).toMatchObject({
      ok: { secretFields: ['password'], params: { password: 'hunter2-hunter2' }, redactedParams: { password: '[secret]' } },
    });
    const bad = await both('train-ts-example', 'train', { parse: true, params: { name: '', epochs: 'ten' } });
    expect(bad.hosted).toEqual(bad.inProcess);
    expect(bad.hosted).toMatchObject({ error: 'ParamsError' });
  });
});

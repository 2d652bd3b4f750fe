/**
 * Runs over HTTP against a real dev server and worker: start (202 with links), read the
 * state, list with each filter and page through, cancel, plugins and their params
 * schemas; a bad body is a 400 naming every bad field, and starts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient, RunSummary } from '../../client/runs.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import type { RunState } from '../../contracts/run-state.js';
import { testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('gw-runs');
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
  tokens?.close();
});

interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: { path: string; message: string }[];
}

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(gateway.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

const stateOf = async (runId: string) => (await api<RunState>('GET', `/v1/runs/${runId}`)).body;
const untilStatus = (runId: string, status: string) =>
  waitFor(async () => ((await stateOf(runId)).status === status ? true : undefined), 60_000, `${runId} ${status}`);

describe('runs over HTTP', () => {
  it('POST /v1/runs starts a run: 202 with its id and links; GET /v1/runs/:id follows it to completion', async () => {
    const res = await api<{ runId: string; plugin: { code: string }; links: Record<string, string> }>('POST', '/v1/runs', {
      plugin: 'demo-validation',
      action: 'validation',
      params: { count: 25, delayMs: 2 },
      runId: 'gw-runs-start-1',
    });
    expect(res.status).toBe(202);
    expect(res.body.runId).toBe('gw-runs-start-1');
    expect(res.body.plugin).toEqual({ code: 'demo-validation', version: '1.0.0' });
    expect(res.body.links).toMatchObject({
      self: '/v1/runs/gw-runs-start-1',
      events: '/v1/runs/gw-runs-start-1/events',
      cancel: '/v1/runs/gw-runs-start-1/cancel',
    });
    expect(res.headers.get('location')).toBe('/v1/runs/gw-runs-start-1');

    await untilStatus('gw-runs-start-1', 'completed');
    const state = await stateOf('gw-runs-start-1');
    expect(state.percent).toBe(100);
    expect(state.progress.validate).toEqual({ current: 25, total: 25 });
    expect(state.result).toMatchObject({ checked: 25 });
  });

  it('a bad body: 400 naming every bad field (body and params together), and nothing starts', async () => {
    const res = await api<Problem>('POST', '/v1/runs', {
      plugin: 'demo-validation',
      action: 'validation',
      params: { count: -1, delayMs: 'slow', bogus: true },
      runId: 'gw-runs-bad-1',
      priority: 'high',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const paths = (res.body.errors ?? []).map((e) => e.path).sort();
    expect(paths).toEqual(['params.bogus', 'params.count', 'params.delayMs', 'priority']);
    expect(res.body.errors?.find((e) => e.path === 'priority')?.message).toMatch(/unknown field/);

    const missing = await api<Problem>('POST', '/v1/runs', { plugin: '../../etc', params: [] });
    expect(missing.status).toBe(400);
    expect((missing.body.errors ?? []).map((e) => e.path).sort()).toEqual(['action', 'params', 'plugin']);

    const noBody = await fetch(`${gateway.url}/v1/runs`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(noBody.status).toBe(400);

    await expect(runs.state('gw-runs-bad-1')).rejects.toThrow(/unknown run/);
    expect(await runs.store.getRun('gw-runs-bad-1')).toBeUndefined();
  });

  it('valid body, bad params: 400 with params.* paths; unknown plugin or action: 404; a used run id: 400 on runId', async () => {
    const params = await api<Problem>('POST', '/v1/runs', { plugin: 'demo-validation', action: 'validation', params: { count: 'many', seed: 1.5 } });
    expect(params.status).toBe(400);
    expect((params.body.errors ?? []).map((e) => e.path).sort()).toEqual(['params.count', 'params.seed']);

    const plugin = await api<Problem>('POST', '/v1/runs', { plugin: 'no-such-plugin', action: 'validation' });
    expect(plugin.status).toBe(404);
    expect(plugin.body.detail).toMatch(/unknown plugin "no-such-plugin"/);
    const action = await api<Problem>('POST', '/v1/runs', { plugin: 'noop', action: 'train' });
    expect(action.status).toBe(404);

    const again = await api<Problem>('POST', '/v1/runs', { plugin: 'noop', action: 'validation', runId: 'gw-runs-start-1' });
    expect(again.status).toBe(400);
    expect(again.body.errors).toEqual([{ path: 'runId', message: 'run id "gw-runs-start-1" is already in use' }]);
  });

  it('GET /v1/runs/:id of an unknown run: 404', async () => {
    const res = await api<Problem>('GET', '/v1/runs/gw-runs-nope');
    expect(res.status).toBe(404);
    expect(res.body.detail).toMatch(/unknown run/);
  });

  it('POST /v1/runs/:id/cancel cancels a running run: 202, then the run is cancelled; again: 409', async () => {
    const started = await api<{ runId: string }>('POST', '/v1/runs', {
      plugin: 'demo-validation',
      action: 'validation',
      params: { count: 5000, delayMs: 20 },
      runId: 'gw-runs-cancel-1',
    });
    expect(started.status).toBe(202);
    await waitFor(async () => ((await stateOf('gw-runs-cancel-1')).progress.validate?.current ?? 0) > 0 || undefined, 60_000, 'progress');

    const cancel = await api<{ runId: string; cancelRequested: boolean }>('POST', '/v1/runs/gw-runs-cancel-1/cancel');
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ runId: 'gw-runs-cancel-1', cancelRequested: true });
    await untilStatus('gw-runs-cancel-1', 'cancelled');
    const state = await stateOf('gw-runs-cancel-1');
    expect(state.progress.validate?.current).toBeLessThan(5000);

    const again = await api<Problem>('POST', '/v1/runs/gw-runs-cancel-1/cancel');
    expect(again.status).toBe(409);
    const unknown = await api<Problem>('POST', '/v1/runs/gw-runs-nope/cancel');
    expect(unknown.status).toBe(404);
  });

  it('GET /v1/runs lists from visibility with each filter, and pages with pageToken', async () => {
    const noop = await api<{ runId: string }>('POST', '/v1/runs', { plugin: 'noop', action: 'validation', runId: 'gw-runs-noop-1' });
    expect(noop.status).toBe(202);
    await untilStatus('gw-runs-noop-1', 'completed');

    type Page = { runs: RunSummary[]; nextPageToken?: string };
    const ids = (page: Page) => page.runs.map((r) => r.runId);
    // Visibility is eventually consistent: wait until it shows this file's runs as they are now.
    await waitFor(async () => {
      const all = (await api<Page>('GET', '/v1/runs?plugin=demo-validation&limit=1000')).body;
      const cancelled = all.runs.find((r) => r.runId === 'gw-runs-cancel-1');
      const noopDone = (await api<Page>('GET', '/v1/runs?plugin=noop&status=completed&limit=1000')).body.runs.some((r) => r.runId === 'gw-runs-noop-1');
      return cancelled?.status === 'cancelled' && noopDone ? true : undefined;
    });

    const byPlugin = (await api<Page>('GET', '/v1/runs?plugin=demo-validation&limit=1000')).body;
    expect(ids(byPlugin)).toEqual(expect.arrayContaining(['gw-runs-start-1', 'gw-runs-cancel-1']));
    expect(ids(byPlugin)).not.toContain('gw-runs-noop-1');
    expect(byPlugin.runs.every((r) => r.plugin === 'demo-validation' && r.action === 'validation' && r.version === '1.0.0')).toBe(true);

    const byStatus = (await api<Page>('GET', '/v1/runs?plugin=demo-validation&status=cancelled&limit=1000')).body;
    expect(ids(byStatus)).toContain('gw-runs-cancel-1');
    expect(ids(byStatus)).not.toContain('gw-runs-start-1');
    expect(byStatus.runs.every((r) => r.status === 'cancelled' && r.closedAt)).toBe(true);

    const byAction = (await api<Page>('GET', '/v1/runs?action=validation&limit=1000')).body;
    expect(ids(byAction)).toEqual(expect.arrayContaining(['gw-runs-start-1', 'gw-runs-noop-1']));
    expect((await api<Page>('GET', '/v1/runs?action=train')).body.runs.map((r) => r.runId)).not.toContain('gw-runs-start-1');

    const byCategory = (await api<Page>('GET', '/v1/runs?category=data_validation&limit=1000')).body;
    expect(ids(byCategory)).toEqual(expect.arrayContaining(['gw-runs-start-1', 'gw-runs-noop-1']));
    expect((await api<Page>('GET', '/v1/runs?category=export&limit=1000')).body.runs.every((r) => r.category === 'export')).toBe(true);

    // Pages of one cover the same runs as one big page (each page is newest first within
    // itself: visibility lists open runs before closed ones, so the order across pages is its own).
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = (await api<Page>('GET', `/v1/runs?plugin=demo-validation&limit=1${pageToken ? `&pageToken=${pageToken}` : ''}`)).body;
      expect(page.runs.length).toBeLessThanOrEqual(1);
      seen.push(...ids(page));
      pageToken = page.nextPageToken;
    } while (pageToken);
    // Other test files share the server and may start demo-validation runs meanwhile: those
    // may appear too, but every run of the big page comes once.
    expect(new Set(seen).size).toBe(seen.length);
    const before = new Set(ids(byPlugin));
    expect(seen.filter((id) => before.has(id)).sort()).toEqual(ids(byPlugin).sort());
    const first = (await api<Page>('GET', '/v1/runs?plugin=demo-validation&limit=1')).body;
    const replayed = await api<Problem>('GET', `/v1/runs?plugin=noop&limit=1&pageToken=${first.nextPageToken ?? ''}`);
    expect(replayed.status).toBe(400); // a token belongs to its query

    const bad = await api<Problem>('GET', '/v1/runs?status=sleeping&limit=0&colour=red');
    expect(bad.status).toBe(400);
    expect((bad.body.errors ?? []).map((e) => e.path).sort()).toEqual(['colour', 'limit', 'status']);
    const badToken = await api<Problem>('GET', '/v1/runs?pageToken=bm90LWEtdG9rZW4');
    expect(badToken.status).toBe(400);
    expect(badToken.body.errors?.[0]?.path).toBe('pageToken');
  });
});

describe('plugins over HTTP', () => {
  it('GET /v1/plugins lists the plugins; GET /v1/plugins/:code gives config and params JSON Schema', async () => {
    const list = await api<{ plugins: { code: string; actions: string[] }[] }>('GET', '/v1/plugins');
    expect(list.status).toBe(200);
    expect(list.body.plugins).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'demo-validation', actions: ['validation'] })]));
    expect(list.body.plugins.map((p) => p.code)).toContain('noop');

    const one = await api<{
      code: string;
      config: { category: string };
      actions: Record<
        string,
        { method: string; paramsSchema: { type: string; properties: Record<string, { type: string; default?: unknown }>; additionalProperties?: boolean } }
      >;
    }>('GET', '/v1/plugins/demo-validation');
    expect(one.status).toBe(200);
    expect(one.body.config.category).toBe('data_validation');
    const schema = one.body.actions.validation?.paramsSchema;
    expect(one.body.actions.validation?.method).toBe('job');
    expect(schema?.type).toBe('object');
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(['checkpointEvery', 'count', 'delayMs', 'seed']);
    expect(schema?.properties.count).toMatchObject({ type: 'integer', default: 200 });
    expect(schema?.additionalProperties).toBe(false);

    expect((await api('GET', '/v1/plugins/demo-validation@1.0.0')).status).toBe(200);
    expect((await api('GET', '/v1/plugins/no-such-plugin')).status).toBe(404);
    expect((await api('GET', '/v1/plugins/..%2F..%2Fetc')).status).toBe(400);
  });
});

/**
 * The gateway's front door: every /v1 route needs a bearer token; no token, a wrong one
 * and a revoked one get 401 and start nothing; a token without the scope gets 403. Tokens
 * are made with `synapse token`, kept hashed, and never logged. Health, readiness,
 * metrics, OpenAPI and the docs page; security headers, media type, body size, rate limit.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { runStoreFile } from '../../client/settings.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { connectRuns, runCli, testSettings } from '../helpers.js';

const settings = testSettings('gw-auth');
let runs: RunsClient;
let tokens: TokenStore;
let gateway: GatewayServer;
const logs: string[] = [];
let writeToken: string;
let readToken: string;

beforeAll(async () => {
  runs = await connectRuns(settings);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, log: (line) => logs.push(line) });
  writeToken = (await tokens.create('writer')).token;
  readToken = (await tokens.create('reader', ['runs:read'])).token;
});
afterAll(async () => {
  await gateway?.close();
  tokens?.close();
  await runs?.close();
});

const startBody = (runId: string) => JSON.stringify({ plugin: 'demo-validation', action: 'validation', params: { count: 1 }, runId });

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gateway.url + path, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** Asserts the run was never started: neither Temporal nor the run store knows it. */
async function expectNotStarted(runId: string): Promise<void> {
  await expect(runs.state(runId)).rejects.toThrow(/unknown run/);
  expect(await runs.store.getRun(runId)).toBeUndefined();
}

async function expectProblem(res: Response, status: number): Promise<{ title: string; detail?: string; errors?: { path: string; message: string }[] }> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as { status: number; type: string; title: string };
  expect(body.status).toBe(status);
  expect(body.type).toMatch(/^\/problems\//);
  return body;
}

describe('gateway authentication', () => {
  it('no token: 401 with a Bearer challenge, and nothing starts', async () => {
    const res = await post('/v1/runs', startBody('gw-auth-none'));
    await expectProblem(res, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="synapse"/);
    await expectNotStarted('gw-auth-none');
  });

  it('a wrong, a malformed or a non-Bearer token: 401, and nothing starts', async () => {
    const [id] = /^syn_[a-z0-9]+_/.exec(writeToken) as RegExpExecArray;
    const wrongSecret = `${id}${'A'.repeat(43)}`;
    const unknownId = `syn_0000000000000000_${writeToken.slice(-43)}`;
    for (const auth of [`Bearer ${wrongSecret}`, `Bearer ${unknownId}`, 'Bearer nonsense', `Basic ${writeToken}`, 'Bearer']) {
      const res = await post('/v1/runs', startBody('gw-auth-wrong'), { Authorization: auth });
      const body = await expectProblem(res, 401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(JSON.stringify(body)).not.toContain(writeToken.slice(-43));
    }
    await expectNotStarted('gw-auth-wrong');
  });

  it('`synapse token create|list|revoke`: a revoked token gets 401 and starts nothing', async () => {
    const created = await runCli(['token', 'create', '--name', 'ci', '--scope', 'runs:read,runs:write'], settings);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^syn_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    const id = token.split('_')[1] as string;

    // It works before it is revoked: an unknown run is a 404, past authentication.
    const before = await fetch(`${gateway.url}/v1/runs/gw-auth-no-such-run`, { headers: { Authorization: `Bearer ${token}` } });
    await expectProblem(before, 404);

    const listed = await runCli(['token', 'list', '--json'], settings);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token.slice(-43));
    expect((JSON.parse(listed.stdout) as { id: string; name: string }[]).find((t) => t.id === id)).toMatchObject({
      name: 'ci',
      scopes: ['runs:read', 'runs:write'],
    });

    const revoked = await runCli(['token', 'revoke', id], settings);
    expect(revoked.code).toBe(0);
    const res = await post('/v1/runs', startBody('gw-auth-revoked'), { Authorization: `Bearer ${token}` });
    const body = await expectProblem(res, 401);
    expect(body.detail).toMatch(/revoked/);
    await expectNotStarted('gw-auth-revoked');

    const unknown = await runCli(['token', 'revoke', 'ffffffffffffffff'], settings);
    expect(unknown.code).toBe(3);
    const badScope = await runCli(['token', 'create', '--name', 'x', '--scope', 'runs:everything'], settings);
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toMatch(/scope/);
  });

  it('a valid token without the scope: 403, and nothing starts; with it, reads work', async () => {
    const res = await post('/v1/runs', startBody('gw-auth-scope'), { Authorization: `Bearer ${readToken}` });
    const body = await expectProblem(res, 403);
    expect(body.detail).toMatch(/runs:write/);
    await expectNotStarted('gw-auth-scope');
    const cancel = await post('/v1/runs/whatever/cancel', '', { Authorization: `Bearer ${readToken}` });
    await expectProblem(cancel, 403);
    const list = await fetch(`${gateway.url}/v1/plugins`, { headers: { Authorization: `Bearer ${readToken}` } });
    expect(list.status).toBe(200);
  });

  it('every /v1 route refuses a request without a token', async () => {
    const routes: [string, string][] = [
      ['GET', '/v1/runs'],
      ['GET', '/v1/runs/x'],
      ['GET', '/v1/runs/x/events'],
      ['POST', '/v1/runs/x/cancel'],
      ['GET', '/v1/plugins'],
      ['GET', '/v1/plugins/noop'],
      ['GET', '/v1/no-such-route'],
    ];
    for (const [method, path] of routes) {
      const res = await fetch(gateway.url + path, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('tokens are stored hashed and never logged', async () => {
    const db = readFileSync(runStoreFile(settings));
    const wal = (() => {
      try {
        return readFileSync(runStoreFile(settings) + '-wal');
      } catch {
        return Buffer.alloc(0);
      }
    })();
    for (const token of [writeToken, readToken]) {
      const secret = token.slice(-43);
      expect(db.includes(secret)).toBe(false);
      expect(wal.includes(secret)).toBe(false);
      expect(logs.join('\n')).not.toContain(secret);
    }
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toMatch(/authorization/i);
  });
});

describe('gateway hygiene', () => {
  const auth = () => ({ Authorization: `Bearer ${writeToken}` });

  it('a body that is not JSON: 415; invalid JSON: 400; over the limit: 413', async () => {
    const text = await fetch(`${gateway.url}/v1/runs`, { method: 'POST', body: 'count=1', headers: { ...auth(), 'Content-Type': 'text/plain' } });
    await expectProblem(text, 415);
    const broken = await post('/v1/runs', '{"plugin": ', auth());
    const body = await expectProblem(broken, 400);
    expect(body.errors?.[0]?.message).toMatch(/JSON/);
    const huge = await post('/v1/runs', JSON.stringify({ plugin: 'noop', action: 'validation', params: { blob: 'x'.repeat(1_100_000) } }), auth());
    await expectProblem(huge, 413);
  });

  it('security headers on every response; no X-Powered-By', async () => {
    const res = await fetch(`${gateway.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('content-security-policy')).not.toMatch(/upgrade-insecure-requests/);
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('/readyz checks Temporal, the database and storage; /metrics speaks Prometheus', async () => {
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { temporal: 'ok', database: 'ok', storage: 'ok' } });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    // Requests refused before a route matched (401s) count as route="unmatched".
    expect(metrics).toMatch(/synapse_gateway_http_requests_total\{method="POST",route="unmatched",status="401"\} \d+/);
    expect(metrics).toMatch(/synapse_gateway_http_requests_total\{method="GET",route="\/v1\/plugins",status="200"\} \d+/);
    expect(metrics).toContain('synapse_gateway_http_request_duration_seconds_bucket');
    expect(metrics).toContain('synapse_gateway_sse_clients');
    expect(metrics).not.toMatch(/gw-auth-/); // run ids never become label values
  });

  it('/readyz is a 503 problem naming Temporal when Temporal cannot be reached', async () => {
    const broken = await connectRuns(settings);
    await broken.temporal.connection.close();
    const gw = await listenGateway({ runs: broken, tokens, port: 0, defaultMetrics: false });
    try {
      const res = await fetch(`${gw.url}/readyz`);
      const body = (await expectProblem(res, 503)) as { detail?: string; checks?: Record<string, string> };
      expect(body.detail).toBe('not ready: temporal');
      expect(body.checks?.temporal).toMatch(/^unreachable at /);
      expect(body.checks?.database).toBe('ok');
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      await gw.close();
      await broken.store.close();
    }
  });

  it('/openapi.json is OpenAPI 3.1 built from the zod schemas; /docs serves Swagger UI offline', async () => {
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/runs', '/v1/runs/{id}', '/v1/runs/{id}/events', '/v1/runs/{id}/cancel', '/v1/plugins', '/v1/plugins/{code}', '/readyz']),
    );
    const start = doc.components.schemas.StartRunRequest;
    expect(Object.keys(start?.properties ?? {})).toEqual(['plugin', 'action', 'params', 'runId']);
    expect(start?.required).toEqual(['plugin', 'action']);
    expect(start?.additionalProperties).toBe(false);
    expect(doc.components.schemas.Problem?.properties).toHaveProperty('errors');
    expect(doc.components.schemas.RunState?.properties).toHaveProperty('percent');

    const page = await fetch(`${gateway.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await fetch(`${gateway.url}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${gateway.url}/docs/init.js`)).status).toBe(200);
  });

  it('a rate limit per client answers 429 as problem+json', async () => {
    const limited = await listenGateway({ runs, tokens, port: 0, rateLimit: { windowMs: 60_000, limit: 3 }, defaultMetrics: false });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${limited.url}/v1/plugins`, { headers: auth() })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const res = await fetch(`${limited.url}/v1/plugins`, { headers: auth() });
      await expectProblem(res, 429);
      expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

/**
 * /openapi.json says what the gateway does (issue 18): it is valid OpenAPI 3.1 by a validator
 * library (the 3.2-only `itemSchema` is gone), every path parameter has a pattern, every
 * operation with parameters documents its 400, a known path asked with another method (TRACE)
 * is 405 with Allow. Then a bounded schemathesis run (.cache/python-tools, scripts/setup.sh)
 * against a started gateway: no 5xx and no mismatch between the document and the answers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { newCodecKey } from '../../client/codec.js';
import type { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { connectRuns, ROOT, testSettings } from '../helpers.js';

const SCHEMATHESIS = path.join(ROOT, '.cache', 'python-tools', 'bin', 'schemathesis');
// With a codec key, as a deployment that serves the Web UI has: /codec answers instead of 501.
const settings: Settings = { ...testSettings('gw-openapi'), codec: { key: newCodecKey('oa'), previousKeys: [] } };
let runs: RunsClient;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

type Operation = { parameters?: { in: string; name: string; schema?: { pattern?: string } }[]; responses: Record<string, unknown>; requestBody?: unknown };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };
let doc: Doc;

beforeAll(async () => {
  runs = await connectRuns(settings);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, rateLimit: false });
  token = (await tokens.create('schemathesis', ['runs:read', 'runs:write', 'codec'])).token;
  doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as Doc;
});
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
  await runs?.close();
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
      .map(([m, op]) => ({ path: p, method: m, op })),
  );

describe('/openapi.json', () => {
  it('is valid OpenAPI 3.1 (validator library), without 3.2-only keywords', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(JSON.stringify(doc)).not.toContain('itemSchema');
  });

  it('gives every path parameter a pattern, and every operation with parameters or a body a 400', () => {
    const missing: string[] = [];
    for (const { path: p, method, op } of operations()) {
      for (const param of op.parameters ?? []) if (param.in === 'path' && !param.schema?.pattern) missing.push(`${method} ${p} {${param.name}}`);
      if (((op.parameters ?? []).length > 0 || op.requestBody) && !('400' in op.responses)) missing.push(`${method} ${p}: no 400`);
    }
    expect(missing).toEqual([]);
    expect(doc.paths['/v1/runs/{id}']?.get?.parameters?.[0]?.schema?.pattern).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$');
  });

  it('a run id outside the pattern is the documented 400', async () => {
    const res = await fetch(`${gateway.url}/v1/runs/${encodeURIComponent('-bad id')}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
  });

  it('a query far over its maxLength is refused by the HTTP parser with the documented 431 (found by schemathesis)', async () => {
    const res = await fetch(`${gateway.url}/v1/runs?pageToken=${'x'.repeat(20_000)}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(431);
    expect(Object.keys(doc.paths['/v1/runs']?.get?.responses ?? {})).toContain('431');
  });

  it('TRACE (or another method a path does not take) is 405 with Allow, an unknown path still 404', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const trace = await send('TRACE', '/v1/runs', auth);
    expect(trace.status).toBe(405);
    expect(trace.allow).toBe('GET, POST, HEAD');
    expect((await send('PUT', '/v1/runs/abc', auth)).status).toBe(405);
    expect((await send('TRACE', '/healthz')).status).toBe(405);
    expect((await send('TRACE', '/v1/nothing-here', auth)).status).toBe(404);
  });
});

/** A request by node:http (fetch refuses TRACE): its status and Allow header. */
function send(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; allow?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gateway.url}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(typeof res.headers.allow === 'string' ? { allow: res.headers.allow } : {}) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs schemathesis; resolves with its exit code and output. */
function schemathesis(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(SCHEMATHESIS, args, { env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('schemathesis', () => {
  it('a bounded run finds no 5xx and no mismatch with the document', { timeout: 600_000 }, async () => {
    expect(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run scripts/setup.sh`).toBe(true);
    const reports = mkdtempSync(path.join(os.tmpdir(), 'schemathesis-'));
    const junit = path.join(reports, 'junit.xml');
    const { code, output } = await schemathesis([
      '--config-file',
      path.join(ROOT, 'test', 'schemathesis.toml'),
      'run',
      `${gateway.url}/openapi.json`,
      '--url',
      gateway.url,
      '--header',
      `Authorization: Bearer ${token}`,
      '--max-examples',
      '8',
      '--seed',
      '18',
      '--workers',
      '1',
      // No stateful phase: GET /v1/runs lists every run in the shared namespace (other test
      // files' too), and following its links would cancel them.
      '--phases',
      'examples,coverage,fuzzing',
      '--request-timeout',
      '20',
      '--report',
      'junit',
      '--report-junit-path',
      junit,
      // The event stream of a run lasts as long as the run; schemathesis waits for whole bodies.
      '--exclude-path',
      '/v1/runs/{id}/events',
    ]);
    const cases = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
    expect(output, output.slice(-6000)).not.toMatch(/Server error|5\d\d Internal/i);
    expect(code, output.slice(-6000)).toBe(0);
    expect(cases).toMatch(/<testsuite/);
  });
});

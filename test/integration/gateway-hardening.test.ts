/**
 * Gateway hardening (issue 18): a client that trickles its request (with or without a token)
 * is cut off with 408; revoking a token ends its open event streams while the run goes on,
 * for a revoke in this process and one by `synapse token revoke`; /codec/* speaks the Temporal
 * codec-server protocol to tokens with the `codec` scope, with CORS for the UI's origin only.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmCodec, newCodecKey } from '../../client/codec.js';
import { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { startWorker, type RunningWorker } from '../../workers/worker.js';
import { runCli, testSettings, waitFor } from '../helpers.js';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const settings: Settings = { ...testSettings('gw-hard'), codec: { key: newCodecKey('gw-key'), previousKeys: [] } };
let worker: RunningWorker;
let runs: RunsClient;
let tokens: TokenStore;
let gateway: GatewayServer;

beforeAll(async () => {
  worker = await startWorker({ settings });
  runs = await RunsClient.connect(settings);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({
    runs,
    tokens,
    port: 0,
    rateLimit: false,
    codecCorsOrigins: [UI_ORIGIN],
    timeouts: { headersMs: 2000, requestMs: 4000, checkMs: 250 },
  });
});
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
  await runs?.close();
  await worker?.stop();
});

/**
 * Sends `head` then one byte of a 100-byte body every 2 s, until the server closes the
 * connection; returns what it answered and how many body bytes had gone.
 */
async function trickle(head: string, bodyBytes = 100): Promise<{ answer: string; sent: number }> {
  const url = new URL(gateway.url);
  const socket = net.connect(Number(url.port), url.hostname);
  let answer = '';
  let sent = 0;
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(head);
  const timer = setInterval(() => {
    if (!socket.writable || sent >= bodyBytes) return;
    socket.write('1');
    sent += 1;
  }, 2000);
  await closed;
  clearInterval(timer);
  return { answer, sent };
}

describe('request timeouts', () => {
  it('a body trickled one byte every 2 s is cut off with 408, with a token', async () => {
    const token = (await tokens.create('trickler')).token;
    const head = `POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    const { answer, sent } = await trickle(head);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(100);
  });

  it('and without a token: answered 401, and the connection still closed before the body ends', async () => {
    const { answer, sent } = await trickle(`POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(sent).toBeLessThan(100);
  });

  it('headers trickled one line every 2 s get 408', async () => {
    const url = new URL(gateway.url);
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = '';
    let lines = 0;
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\n');
    const timer = setInterval(() => {
      if (socket.writable && lines < 100) socket.write(`X-Slow-${lines++}: 1\r\n`);
    }, 2000);
    await closed;
    clearInterval(timer);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(lines).toBeLessThan(100);
  });

  it('an event stream is not cut by the request timeout', async () => {
    const token = (await tokens.create('long-reader', ['runs:read', 'runs:write'])).token;
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 60, delayMs: 100 } });
    const res = await fetch(`${gateway.url}/v1/runs/${runId}/events`, { headers: { Authorization: `Bearer ${token}` } });
    const text = await res.text(); // until the run ends, longer than requestMs
    expect(text).toContain('event: end');
    expect(text).toContain('"status":"completed"');
  });
});

/** Reads an SSE response until it ends (`cut`: with a read error, the connection reset, not ended); `onChunk` sees the text so far. */
async function readStream(res: Response, onChunk: (text: string) => void = () => {}): Promise<{ text: string; cut: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      return { text, cut: true };
    }
    if (chunk.done) return { text, cut: false };
    text += decoder.decode(chunk.value, { stream: true });
    onChunk(text);
  }
}

describe('revoking a token', () => {
  for (const how of ['in this process', 'by `synapse token revoke`'] as const) {
    it(`ends its open event streams (${how}) while the run and other tokens' streams go on`, async () => {
      const doomed = await tokens.create(`doomed-${how.length}`, ['runs:read']);
      const other = (await tokens.create(`other-${how.length}`, ['runs:read'])).token;
      const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 400, delayMs: 100 } });
      const open = (token: string) => fetch(`${gateway.url}/v1/runs/${runId}/events`, { headers: { Authorization: `Bearer ${token}` } });
      const doomedRes = await open(doomed.token);
      const otherRes = await open(other);
      let sawProgress!: () => void;
      const progressed = new Promise<void>((r) => (sawProgress = r));
      const doomedText = readStream(doomedRes, (t) => t.includes('event: progress') && sawProgress());
      let otherText = '';
      const otherDone = readStream(otherRes, (t) => (otherText = t));
      await progressed;

      if (how === 'in this process') await tokens.revoke(doomed.id);
      else expect((await runCli(['token', 'revoke', doomed.id], settings)).code).toBe(0);

      const { text, cut } = await doomedText;
      expect(text).toMatch(/event: error\ndata: \{"detail":"the token was revoked"\}/);
      expect(text).not.toContain('event: end');
      // Ended, as a finished stream is: not reset (curl used to exit 18, a transfer cut short).
      expect(cut).toBe(false);
      // The run goes on, and so does the other token's stream: it gets events after the cut.
      expect((await runs.state(runId)).status).toBe('running');
      const lengthAtCut = otherText.length;
      await waitFor(() => (otherText.length > lengthAtCut ? true : undefined), 30_000, "the other token's stream to go on");
      // A new request with the revoked token is refused.
      expect((await open(doomed.token)).status).toBe(401);
      await runs.cancel(runId);
      await otherDone;
    });
  }
});

describe('/codec (Temporal Web UI codec server)', () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(gateway.url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

  it('decodes the payloads of a real run for a token with the codec scope', async () => {
    const token = (await tokens.create('ui', ['codec'])).token;
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 2 } });
    const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const wire = {
      metadata: Object.fromEntries(Object.entries(input?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(input!.data!).toString('base64'),
    };
    expect(Buffer.from(wire.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    const res = await post('/codec/decode', { payloads: [wire] }, { Authorization: `Bearer ${token}`, 'X-Namespace': 'default', Origin: UI_ORIGIN });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    const decoded = JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()) as { plugin: { code: string }; params: unknown };
    expect(decoded.plugin.code).toBe('demo-validation');
    expect(decoded.params).toMatchObject({ count: 2 });

    // encode then decode is the identity
    const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') };
    const encoded = (await (await post('/codec/encode', { payloads: [plain] }, { Authorization: `Bearer ${token}` })).json()) as { payloads: unknown[] };
    const back = (await (await post('/codec/decode', encoded, { Authorization: `Bearer ${token}` })).json()) as { payloads: unknown[] };
    expect(back.payloads).toEqual([plain]);
  });

  it('refuses tokens without the scope (403), no token (401), bad bodies (400); preflight only from the UI origin', async () => {
    const runsToken = (await tokens.create('no-codec')).token;
    expect((await post('/codec/decode', { payloads: [] }, { Authorization: `Bearer ${runsToken}` })).status).toBe(403);
    expect((await post('/codec/decode', { payloads: [] })).status).toBe(401);
    const codecToken = (await tokens.create('ui2', ['codec'])).token;
    const bad = await post('/codec/decode', { payloads: [{ data: 'not base64!' }], extra: 1 }, { Authorization: `Bearer ${codecToken}` });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual(['extra', 'payloads.0.data']);
    // A payload under a key this gateway lacks: 400 naming the key id.
    const [foreign] = await new AesGcmCodec({ key: newCodecKey('elsewhere'), previousKeys: [] }).encode([{ metadata: {}, data: new Uint8Array([1]) }]);
    const wire = {
      metadata: { encoding: Buffer.from(foreign!.metadata!.encoding!).toString('base64'), 'encryption-key-id': Buffer.from('elsewhere').toString('base64') },
      data: Buffer.from(foreign!.data!).toString('base64'),
    };
    const unknown = await post('/codec/decode', { payloads: [wire] }, { Authorization: `Bearer ${codecToken}` });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain('key \\"elsewhere\\"');

    const preflight = (origin: string) =>
      fetch(`${gateway.url}/codec/decode`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-namespace' },
      });
    const ok = await preflight(UI_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('/codec/login sets the cookie the Web UI sends (path /codec only), for a token with the codec scope', async () => {
    const login = (token: string) => fetch(`${gateway.url}/codec/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
    const refused = await login((await tokens.create('no-codec-2')).token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('set-cookie')).toBeNull();
    const token = (await tokens.create('ui-browser', ['codec'])).token;
    const ok = await login(token);
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^synapse_token=syn_/);
    expect(cookie).toMatch(/Path=\/codec/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(await ok.text()).not.toContain(token);
    // The cookie alone (what the browser sends with credentials) authenticates /codec.
    const res = await post('/codec/decode', { payloads: [] }, { Cookie: cookie.split(';')[0]!, Origin: UI_ORIGIN });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ payloads: [] });
  });

  it('answers 501 naming SYNAPSE_CODEC_KEY on a gateway without a key', async () => {
    const plainRuns = await RunsClient.connect({ ...settings, codec: undefined } as Settings);
    const plain = await listenGateway({ runs: plainRuns, tokens, port: 0, rateLimit: false });
    try {
      const token = (await tokens.create('ui3', ['codec'])).token;
      const res = await fetch(`${plain.url}/codec/decode`, {
        method: 'POST',
        body: JSON.stringify({ payloads: [] }),
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(501);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/SYNAPSE_CODEC_KEY/);
    } finally {
      await plain.close();
      await plainRuns.close();
    }
  });
});

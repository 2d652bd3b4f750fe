/**
 * Live events over SSE against a real dev server and worker: a run started over HTTP is
 * followed to its end (progress, logs, metrics, status, then `end` with the final state);
 * a client that drops the stream and reconnects with Last-Event-ID misses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import type { RunState } from '../../contracts/run-state.js';
import { testSettings, useWorkerAndRuns } from '../helpers.js';

const settings = testSettings('gw-events');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

beforeAll(async () => {
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, sse: { pollMs: 100 } });
  token = (await tokens.create('events')).token;
});
afterAll(async () => {
  await gateway?.close();
  tokens?.close();
});

interface SseMessage {
  id?: number;
  event: string;
  data: Record<string, unknown>;
}

/** Opens the event stream and hands each parsed message to `onMessage` until it returns 'stop' or the stream ends. */
async function readStream(
  path: string,
  headers: Record<string, string>,
  onMessage: (m: SseMessage) => 'stop' | void,
): Promise<{ status: number; contentType: string | null; messages: SseMessage[] }> {
  const abort = new AbortController();
  const res = await fetch(gateway.url + path, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  if (res.status !== 200 || !res.body) return { status: res.status, contentType: res.headers.get('content-type'), messages };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
        }
        if (!fields.event || fields.data === undefined) continue; // retry: or keep-alive
        const message: SseMessage = {
          event: fields.event,
          data: JSON.parse(fields.data) as Record<string, unknown>,
          ...(fields.id ? { id: Number(fields.id) } : {}),
        };
        messages.push(message);
        if (onMessage(message) === 'stop') return { status: res.status, contentType: res.headers.get('content-type'), messages };
      }
    }
  } finally {
    abort.abort();
    await reader.cancel().catch(() => {});
  }
  return { status: res.status, contentType: res.headers.get('content-type'), messages };
}

async function start(params: Record<string, unknown>, runId: string): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/runs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ plugin: 'demo-validation', action: 'validation', params, runId }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { links: { events: string } }).links.events;
}

describe('run events over SSE', () => {
  it('follows a run started over HTTP to completion: progress, logs, metrics, status, then end', async () => {
    const events = await start({ count: 60, delayMs: 5, checkpointEvery: 10 }, 'gw-events-follow-1');
    const stream = await readStream(events, {}, (m) => (m.event === 'end' ? 'stop' : undefined));
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);

    const kinds = new Set(stream.messages.map((m) => m.event));
    for (const kind of ['progress', 'log', 'metrics', 'status', 'end']) expect(kinds, kind).toContain(kind);
    const progress = stream.messages.filter((m) => m.event === 'progress');
    expect(progress.at(-1)?.data).toMatchObject({ kind: 'progress', category: 'validate', current: 60, total: 60 });
    expect(stream.messages.some((m) => m.event === 'log' && String(m.data.message).startsWith('validating 60 items'))).toBe(true);

    // Every event carries its run store id, increasing; `end` carries none and comes last.
    const ids = stream.messages.filter((m) => m.event !== 'end').map((m) => m.id as number);
    expect(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id > (ids[i - 1] as number)))).toBe(true);
    expect(stream.messages.filter((m) => m.event !== 'end').every((m) => m.data.id === m.id && m.data.kind === m.event)).toBe(true);
    const end = stream.messages.at(-1) as SseMessage;
    expect(end.event).toBe('end');
    expect(end.id).toBeUndefined();
    const state = end.data as unknown as RunState;
    expect(state.status).toBe('completed');
    expect(state.percent).toBe(100);
    expect(state.result).toMatchObject({ checked: 60 });
  });

  it('a client that reconnects with Last-Event-ID (or ?after=) misses nothing and sees nothing twice', async () => {
    const events = await start({ count: 150, delayMs: 10, checkpointEvery: 10 }, 'gw-events-resume-1');
    // First connection: leave after a few events, mid-run.
    const first = await readStream(events, {}, (m) =>
      m.event === 'progress' && Number(m.data.current) >= 20 && m.data.category === 'validate' ? 'stop' : undefined,
    );
    const lastId = first.messages.at(-1)?.id as number;
    expect(lastId).toBeGreaterThan(0);
    expect(first.messages.some((m) => m.event === 'end')).toBe(false);

    // Second connection resumes after the last id seen and follows to the end.
    const second = await readStream(events, { 'Last-Event-ID': String(lastId) }, (m) => (m.event === 'end' ? 'stop' : undefined));
    expect(second.messages.at(-1)?.event).toBe('end');
    expect(second.messages.filter((m) => m.event !== 'end').every((m) => (m.id as number) > lastId)).toBe(true);

    // The whole stream, replayed now that the run has ended, is exactly the two put together.
    const whole = await readStream(events, {}, (m) => (m.event === 'end' ? 'stop' : undefined));
    const idsOf = (ms: SseMessage[]) => ms.filter((m) => m.event !== 'end').map((m) => m.id);
    expect([...idsOf(first.messages), ...idsOf(second.messages)]).toEqual(idsOf(whole.messages));
    expect(idsOf(whole.messages).length).toBeGreaterThan(idsOf(first.messages).length);

    // ?after= does the same as the header.
    const after = await readStream(`${events}?after=${lastId}`, {}, (m) => (m.event === 'end' ? 'stop' : undefined));
    expect(idsOf(after.messages)).toEqual(idsOf(second.messages));
    expect((after.messages.at(-1)?.data as unknown as RunState).status).toBe('completed');
  });

  it('an unknown run is a 404 before any stream opens; a bad Last-Event-ID is a 400', async () => {
    const unknown = await readStream('/v1/runs/gw-events-nope/events', {}, () => 'stop');
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toMatch(/^application\/problem\+json/);
    const bad = await readStream('/v1/runs/gw-events-follow-1/events', { 'Last-Event-ID': 'yesterday' }, () => 'stop');
    expect(bad.status).toBe(400);
    const badAfter = await readStream('/v1/runs/gw-events-follow-1/events?after=-3', {}, () => 'stop');
    expect(badAfter.status).toBe(400);
  });

  it('open streams show in /metrics and close with the client', async () => {
    await start({ count: 400, delayMs: 10 }, 'gw-events-gauge-1');
    const stream = readStream('/v1/runs/gw-events-gauge-1/events', {}, (m) => (m.event === 'end' ? 'stop' : undefined));
    // Read the gauge while that stream is open (it is open until the run ends).
    let open = 0;
    for (let i = 0; i < 200 && open === 0; i++) {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      open = Number(/^synapse_gateway_sse_clients (\d+)$/m.exec(text)?.[1] ?? 0);
      if (open === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(open).toBeGreaterThanOrEqual(1);
    await runs.cancel('gw-events-gauge-1');
    const done = await stream;
    expect((done.messages.at(-1)?.data as unknown as RunState).status).toBe('cancelled');
  });
});

/**
 * Secret params end to end (issue 18): an action marks `password` secret (sdk/secret.ts) and
 * then writes it into its log, an event and its error. With a codec key configured on the
 * worker and the client, the run gets the value, yet it appears nowhere in Temporal's history
 * (read raw, without the codec), the run store (row and events), the run's error or the
 * worker's log. Without a key such a run refuses to start, naming the field.
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, newCodecKey } from '../../client/codec.js';
import { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { ParamsError } from '../../contracts/errors.js';
import { REDACTED } from '../../sdk/secret.js';
import { startWorker, type RunningWorker } from '../../workers/worker.js';
import { ROOT, testSettings, waitFor } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'secret-params');
const PASSWORD = 'S3cret-Pa55word-7f2c';
/** The value of a variable the plugin declares in config.yaml `envs`, on the worker. */
const API_TOKEN = 'env-api-token-90af1';
process.env.SECRET_PARAMS_TEST_TOKEN = API_TOKEN;

const settings: Settings = { ...testSettings('secrets'), codec: { key: newCodecKey('test-key-1'), previousKeys: [] } };
const workerLog: string[] = [];
let worker: RunningWorker;
let runs: RunsClient;
let raw: Client;

beforeAll(async () => {
  worker = await startWorker({ settings, log: (line) => workerLog.push(line) });
  runs = await RunsClient.connect(settings);
  // The same server without the codec: what Temporal itself holds.
  raw = new Client({ connection: runs.temporal.connection, namespace: settings.temporal.namespace });
});
afterAll(async () => {
  await runs?.close();
  await worker?.stop();
});

async function ended(runId: string) {
  return waitFor(async () => {
    const state = await runs.state(runId);
    return state.status === 'completed' || state.status === 'failed' ? state : undefined;
  });
}

/** Every byte string and text in a history, searched for `needle`; also counts encrypted payloads by key id. */
function scan(value: unknown, needle: string, found: { hits: string[]; encrypted: Map<string, number> }, where = ''): void {
  if (value instanceof Uint8Array) {
    if (Buffer.from(value).includes(needle)) found.hits.push(where);
    return;
  }
  if (typeof value === 'string') {
    if (value.includes(needle)) found.hits.push(where);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata?.encoding && Buffer.from(metadata.encoding).toString() === ENCRYPTED_ENCODING) {
    const id = Buffer.from(metadata[KEY_ID_METADATA] ?? new Uint8Array()).toString();
    found.encrypted.set(id, (found.encrypted.get(id) ?? 0) + 1);
  }
  for (const [k, v] of Object.entries(record)) scan(v, needle, found, `${where}.${k}`);
}

async function historyScan(runId: string, needle = PASSWORD) {
  const history = await raw.workflow.getHandle(runId).fetchHistory();
  const found = { hits: [] as string[], encrypted: new Map<string, number>() };
  scan(history, needle, found);
  return found;
}

describe('secret params', () => {
  it('reach the action but not Temporal history, the run store, the events or the logs', async () => {
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'validation', params: { host: 'db.local', password: PASSWORD } });
    const state = await ended(runId);
    expect(state.status).toBe('completed');
    // The action got the real value.
    expect(state.result).toEqual({
      length: PASSWORD.length,
      reversed: [...PASSWORD].reverse().join(''),
      apiTokenReversed: [...API_TOKEN].reverse().join(''),
    });

    const history = await historyScan(runId);
    expect(history.hits).toEqual([]);
    // Input, activity input and results are encrypted under the configured key.
    expect(history.encrypted.get('test-key-1') ?? 0).toBeGreaterThanOrEqual(3);

    const row = await runs.store.getRun(runId);
    expect(row?.params).toEqual({ host: 'db.local', password: REDACTED, fail: false });
    expect(JSON.stringify(row)).not.toContain(PASSWORD);

    const events = await runs.events(runId);
    const log = events.find((e) => e.data.kind === 'log' && e.data.message.startsWith('connecting'));
    expect(log?.data).toMatchObject({ message: `connecting to db.local with password ${REDACTED}` });
    const event = events.find((e) => e.data.kind === 'event' && e.data.event === 'login');
    expect(event?.data).toMatchObject({ data: { host: 'db.local', password: REDACTED, note: `pw=${REDACTED}` } });
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
    expect(workerLog.join('\n')).not.toContain(PASSWORD);
    // A declared env's value is scrubbed too (it never enters a payload: the worker reads it).
    expect(events.some((e) => e.data.kind === 'log' && e.data.message === `api token ${REDACTED}`)).toBe(true);
    expect(JSON.stringify(events)).not.toContain(API_TOKEN);
    expect((await historyScan(runId, API_TOKEN)).hits).toEqual([]);
  });

  it("are scrubbed from the run's error, in the run store and in Temporal's failure", async () => {
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'validation', params: { host: 'db.local', password: PASSWORD, fail: true } });
    const state = await ended(runId);
    expect(state.status).toBe('failed');
    expect(state.error).toContain(`refused for password ${REDACTED}`);
    expect(state.error).not.toContain(PASSWORD);
    expect((await historyScan(runId)).hits).toEqual([]);
    expect(JSON.stringify(await runs.store.getRun(runId))).not.toContain(PASSWORD);
    expect(JSON.stringify(await runs.events(runId))).not.toContain(PASSWORD);
    expect(workerLog.join('\n')).not.toContain(PASSWORD);
  });

  it('refuse to start without a codec key, naming the field, and create nothing', async () => {
    const plain = await RunsClient.connect({ ...settings, codec: undefined } as Settings);
    try {
      const err = await plain
        .start({ plugin: FIXTURE, action: 'validation', params: { host: 'h', password: PASSWORD }, runId: 'secrets-no-key' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(ParamsError);
      expect((err as Error).message).toMatch(/params\.password: is secret: set SYNAPSE_CODEC_KEY/);
      expect((err as Error).message).not.toContain(PASSWORD);
      expect(await plain.store.getRun('secrets-no-key')).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

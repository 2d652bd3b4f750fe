/**
 * A start that fails after the run row was written leaves no row behind (issue 17 item 5).
 * The run store gets its `pending` row before Temporal gets the workflow; when Temporal goes
 * away in between (here: the client reaches the real dev server through a TCP relay that the
 * test closes after connecting), the start fails with exit 4 and the row is deleted, so `run
 * list` does not show a run that never existed.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../contracts/errors.js';
import { RunsClient } from '../../client/runs.js';
import { loadSettings } from '../../client/settings.js';
import { testSettings } from '../helpers.js';

const direct = testSettings('start-unavailable');
const sockets = new Set<net.Socket>();
let relay: net.Server;
let runs: RunsClient;

beforeAll(async () => {
  const [host, port] = direct.temporal.address.split(':') as [string, string];
  relay = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = relay.address() as net.AddressInfo;
  runs = await RunsClient.connect(
    loadSettings({ dataDir: direct.dataDir, temporalAddress: `127.0.0.1:${relayPort}`, taskQueuePrefix: direct.taskQueuePrefix }),
  );
});
afterAll(async () => {
  await runs.close().catch(() => {});
  relay.close();
});

describe('a start whose workflow cannot be created', () => {
  it('fails as unavailable and deletes the pending run row', async () => {
    // Temporal goes away after the client connected: the relay takes no one and drops everyone.
    await new Promise<void>((resolve) => {
      relay.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    const runId = 'start-unavailable-1';
    const err: unknown = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3 }, runId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).exitCode).toBe(4);
    expect(await runs.store.getRun(runId)).toBeUndefined();
    expect((await runs.store.listRuns()).map((r) => r.id)).not.toContain(runId);
  }, 120_000);

  it('leaves a run that is no longer pending as it is', async () => {
    const now = new Date().toISOString();
    const row = { pluginCode: 'p', pluginVersion: '1.0.0', action: 'a', category: 'neural_net', method: 'job', params: {}, createdAt: now, updatedAt: now };
    await runs.store.createRun({ ...row, id: 'kept-running', status: 'running' });
    await runs.store.createRun({ ...row, id: 'gone-pending', status: 'pending' });
    expect(await runs.store.deletePendingRun('kept-running')).toBe(false);
    expect(await runs.store.deletePendingRun('gone-pending')).toBe(true);
    expect((await runs.store.getRun('kept-running'))?.status).toBe('running');
    expect(await runs.store.getRun('gone-pending')).toBeUndefined();
  });
});

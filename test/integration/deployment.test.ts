/**
 * Deployments (docs/serving.md) against a real dev server, real worker processes (each
 * `synapse worker --concurrency 1`, so one worker hosts one replica and a test can SIGKILL
 * it) and the gateway: a TypeScript model (test/fixtures/plugins/serve-ts) served with 2
 * replicas answers predictions through the gateway; the worker hosting one replica is
 * killed under a steady request stream: the errors are counted, every answer came from a
 * ready replica, and the lost replica is back on another worker; scale 1 -> 3 -> 1 and
 * undeploy show in the deployment's status and in the database; bad input is refused with
 * the right status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployments } from '../../client/deployments.js';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase } from '../../platform/db.js';
import { renderItem, sampleItem } from '../../platform/generate.js';
import { listReplicas } from '../../platform/repositories/deployments.js';
import { connectRuns, envFor, ROOT, runCli, SYNAPSE_BIN, testSettings, waitFor } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts');
const HEARTBEAT_TIMEOUT_S = 3;
const settings = testSettings('deploy');
let runs: RunsClient;
let deployments: Deployments;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;
const workers: ChildProcess[] = [];

/** A worker process hosting at most one plugin step at a time. */
async function spawnWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SYNAPSE_BIN, 'worker', '--concurrency', '1'], { env: envFor(settings), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker ready')) resolve();
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)));
  });
  workers.push(child);
  return child;
}

beforeAll(async () => {
  // One after the other: the first builds the workflow bundle the others reuse.
  for (let i = 0; i < 3; i++) await spawnWorker();
  runs = await connectRuns(settings);
  deployments = new Deployments(runs);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, defaultMetrics: false, rateLimit: false });
  token = (await tokens.create('tests')).token;
}, 120_000);
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await gateway?.close();
  await tokens?.close();
  await deployments?.close();
  await runs?.close();
});

/** A generated shape image and its colour. */
function image(index: number): { image: string; colour: string } {
  const item = sampleItem(11, index, 'serve');
  return { image: renderItem(item).toString('base64'), colour: item.color };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function api(method: string, route: string, body?: unknown, auth = true): Promise<Answer> {
  const res = await fetch(gateway.url + route, {
    method,
    headers: { ...(auth ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function deploy(replicas: number, extra: Record<string, unknown> = {}): Promise<string> {
  const { runId } = await runs.start({ plugin: FIXTURE, action: 'deployment', params: { replicas, ...extra }, heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S });
  return runId;
}

const untilServing = (id: string, n: number, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const replicas = (await deployments.replicas(id)).filter((r) => r.serving);
      return replicas.length === n ? replicas : undefined;
    },
    timeoutMs,
    `${n} serving replicas of ${id}`,
  ).catch(async (err: unknown) => {
    // What the deployment was doing, for the failure message.
    const rows = await deployments.replicas(id);
    const state = await runs.state(id);
    const logs = (await runs.events(id, 0, 200)).map((e) => JSON.stringify(e.data));
    throw new Error(`${String(err)}\nreplicas: ${JSON.stringify(rows)}\nstate: ${JSON.stringify(state)}\nevents:\n${logs.join('\n')}`);
  });

async function rowsInDb(id: string) {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    return await listReplicas(platform.db, id);
  } finally {
    await platform.close();
  }
}

describe('a deployment of 2 replicas', () => {
  it('answers through the gateway, fails over when a worker dies, and the lost replica comes back', async () => {
    const id = await deploy(2);
    const replicas = await untilServing(id, 2);
    expect(new Set(replicas.map((r) => r.worker)).size).toBe(2);

    for (let i = 0; i < 12; i++) {
      const { image: img, colour } = image(i);
      const res = await api('POST', `/v1/deployments/${id}/predict`, { image: img });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.label).toBe(colour);
      expect(Object.keys(res.body.scores as object).sort()).toEqual(['blue', 'green', 'red', 'yellow']);
    }

    // A steady stream (4 in flight, 400 requests in all); the worker of replica 0 dies at request 100.
    const victim = replicas.find((r) => r.replica === 0)!;
    const victimPid = Number(victim.worker.split(':').at(-1));
    const child = workers.find((w) => w.pid === victimPid)!;
    expect(child, `worker ${victim.worker} is one of ours`).toBeDefined();
    const TOTAL = 400;
    let next = 0;
    let killedAt = 0;
    const results: { status: number; replica: string | null; replicaStatus: string | null; ms: number; after: boolean }[] = [];
    const client = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        if (i === 100) {
          child.kill('SIGKILL');
          killedAt = Date.now();
        }
        const t0 = Date.now();
        const res = await api('POST', `/v1/deployments/${id}/predict`, { image: image(i % 50).image });
        results.push({
          status: res.status,
          replica: res.headers.get('X-Synapse-Replica'),
          replicaStatus: res.headers.get('X-Synapse-Replica-Status'),
          ms: Date.now() - t0,
          after: killedAt > 0,
        });
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    const errors = results.filter((r) => r.status !== 200);
    const ok = results.filter((r) => r.status === 200);
    console.log(
      `failover: ${TOTAL} requests, ${errors.length} errors (${JSON.stringify(errors.map((e) => e.status))}), slowest ${Math.max(...results.map((r) => r.ms))} ms`,
    );
    expect(errors).toEqual([]);
    // No answer came from a replica that was not ready.
    expect(ok.every((r) => r.replicaStatus === 'ready')).toBe(true);
    // After the kill, the other replica carried the stream.
    expect(ok.filter((r) => r.after && r.replica === '1').length).toBeGreaterThan(0);

    // The lost replica is started again on another worker: the heartbeat timeout, the retry's backoff (1 s), the load.
    const back = await waitFor(
      async () => (await deployments.replicas(id)).find((r) => r.replica === 0 && r.serving && r.worker !== victim.worker),
      30_000,
      'replica 0 back on another worker',
    );
    const backMs = Date.parse(back.startedAt) - killedAt;
    console.log(`replica 0 back on ${back.worker} ${backMs} ms after the kill (heartbeat timeout ${HEARTBEAT_TIMEOUT_S} s)`);
    expect(backMs).toBeLessThan((HEARTBEAT_TIMEOUT_S + 5) * 1000);
    expect(back.attempt).toBeGreaterThanOrEqual(2);
    const res = await api('POST', `/v1/deployments/${id}/predict`, { image: image(1).image });
    expect(res.status).toBe(200);

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`synapse_deployment_predictions_total\\{deployment="${id}",status="200"\\} \\d+`));
    expect(metrics).toContain(`synapse_deployment_predict_duration_seconds_count{deployment="${id}"}`);

    await spawnWorker(); // back to three free-or-busy workers for the next tests
    await deployments.stop(id);
    expect((await deployments.status(id)).status).toBe('cancelled');
    expect(await rowsInDb(id)).toEqual([]);
  }, 180_000);
});

describe('scaling and undeploying', () => {
  it('1 -> 3 -> 1 and undeploy, in the status and the database', async () => {
    const id = await deploy(1);
    await untilServing(id, 1);
    expect(await deployments.scale(id, 3)).toMatchObject({ desired: 3, running: [0, 1, 2] });
    await untilServing(id, 3);
    expect((await deployments.status(id)).desired).toBe(3);
    const cli3 = await runCli(['deployment', 'status', id, '--json'], settings);
    expect(cli3.code, cli3.stderr).toBe(0);
    expect(JSON.parse(cli3.stdout)).toMatchObject({ status: 'running', desired: 3, ready: 3 });
    expect((await rowsInDb(id)).map((r) => [r.replica, r.status])).toEqual([
      [0, 'ready'],
      [1, 'ready'],
      [2, 'ready'],
    ]);

    // Scale down answers once the extra replicas drained and deregistered.
    expect(await deployments.scale(id, 1)).toMatchObject({ desired: 1, running: [0] });
    const status = await deployments.status(id);
    expect(status).toMatchObject({ desired: 1, ready: 1, status: 'running' });
    expect((await rowsInDb(id)).map((r) => r.replica)).toEqual([0]);
    const cli1 = await runCli(['deployment', 'scale', id, '1'], settings);
    expect(cli1.code, cli1.stderr).toBe(0);
    const text = await runCli(['deployment', 'status', id], settings);
    expect(text.stdout).toMatch(new RegExp(`${id} +serve-ts@1.0.0 +running +ready 1 of 1`));
    const { image: img, colour } = image(3);
    const predicted = await runCli(['predict', id, JSON.stringify({ image: img })], settings);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(JSON.parse(predicted.stdout)).toMatchObject({ label: colour });
    const refused = await runCli(['predict', id, '{"image": 5}'], settings);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('image');

    // Out of range: refused by the workflow's validator, nothing changes.
    await expect(deployments.scale(id, 0)).rejects.toThrow(/replicas/);
    const http = await api('POST', `/v1/deployments/${id}/scale`, { replicas: 99 });
    expect(http.status).toBe(400);
    expect(JSON.stringify(http.body.errors)).toContain('replicas');

    const listed = await runCli(['deployment', 'list', '--json'], settings);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((d) => d.id)).toContain(id);
    const stopped = await api('DELETE', `/v1/deployments/${id}`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: 'cancelled', ready: 0, replicas: [] });
    expect(await rowsInDb(id)).toEqual([]);
    const after = await api('POST', `/v1/deployments/${id}/predict`, { image: image(0).image });
    expect(after.status).toBe(404);
    expect(String(after.body.detail)).toContain('cancelled');
  }, 120_000);
});

describe('bad input', () => {
  it('400 naming the field, 404 unknown, 401 without token, 413 too large, 503 + Retry-After with no replica', async () => {
    const id = await deploy(1);
    // Right after the start no replica is ready yet (scheduling and loading take longer than this request): 503 with Retry-After.
    const early = await api('POST', `/v1/deployments/${id}/predict`, { image: image(0).image });
    expect(early.status).toBe(503);
    expect(early.headers.get('Retry-After')).toBe('1');
    expect(String(early.body.detail)).toContain('no replica');
    await untilServing(id, 1);

    const bad = await api('POST', `/v1/deployments/${id}/predict`, { picture: 'x' });
    expect(bad.status).toBe(400);
    const paths = (bad.body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toContain('image');

    expect((await api('POST', '/v1/deployments/no-such-deployment/predict', { image: 'x' })).status).toBe(404);
    expect((await api('POST', `/v1/deployments/${id}/predict`, { image: 'x' }, false)).status).toBe(401);
    const huge = await api('POST', `/v1/deployments/${id}/predict`, JSON.stringify({ image: 'A'.repeat(20 * 1024 * 1024) }));
    expect(huge.status).toBe(413);

    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/deployments', '/v1/deployments/{id}', '/v1/deployments/{id}/scale', '/v1/deployments/{id}/predict']),
    );
    expect(Object.keys(doc.paths['/v1/deployments/{id}/predict']!.post!.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404', '413', '503']));

    await deployments.stop(id);
  }, 120_000);

  it('a model that fails to load: the replica says why and the deployment fails with the reason', async () => {
    const id = await deploy(1, { model_file: 'missing.json' });
    const final = (await runs.temporal.workflow
      .getHandle(id)
      .result()
      .catch(async () => runs.state(id))) as RunState;
    expect(final.status).toBe('failed');
    expect(final.error).toMatch(/replica 0: the model failed to load: .*missing\.json/);
    const rows = await rowsInDb(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ replica: 0, status: 'failed' });
    expect(rows[0]!.error).toContain('missing.json');
    const status = await deployments.status(id);
    expect(status.status).toBe('failed');
    expect(status.error).toContain('missing.json');
  }, 120_000);
});

/**
 * Served actions run in plugin hosts (issue 18, activities/serve.ts): on one in-process worker
 * whose environment holds secrets (storage keys, a database URL), against the dev server and
 * through the gateway:
 *
 * 1. a hostile served action (test/fixtures/deployment-host/hostile-serve) whose predict reads
 *    process.env sees none of the worker's secrets, and its reads of the worker's data dir are
 *    refused, while another deployment on the same worker (serve-ts) keeps answering;
 * 2. a predict that calls process.exit answers 500 naming the exit, and the next request to
 *    the same deployment is answered by a fresh host that loaded the model lazily;
 * 3. overlapping requests run in a second host of the replica, which loads the model once, and
 *    no more than two hosts (the default cap: a third request queues);
 *    undeploying stops a predict that never answers (after the drain) and kills the hosts;
 * 4. a Python served action's process (test/fixtures/deployment-host/python-env-serve) has
 *    none of the worker's secrets in its environment, and still gets its model file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformAccess } from '../../activities/platform-access.js';
import { packTarGz } from '../../activities/model-archive.js';
import { setPluginHostLimits, type PluginHostLimits } from '../../activities/plugin-host.js';
import { Deployments } from '../../client/deployments.js';
import type { RunsClient } from '../../client/runs.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase } from '../../platform/db.js';
import { renderItem, sampleItem } from '../../platform/generate.js';
import { createModel } from '../../platform/repositories/models.js';
import { ensureDefaultStorage } from '../../platform/repositories/storages.js';
import { connectRuns, ROOT, startWorker, testSettings, waitFor } from '../helpers.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'deployment-host');
const HOSTILE = path.join(FIXTURES, 'hostile-serve');
const PYTHON = path.join(FIXTURES, 'python-env-serve');
const SERVE_TS = path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts');
const settings = testSettings('deploy-host');

/** The worker's secrets: in its environment, so before plugin hosts in every served action's. */
const SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIAWORKERKEYNOTFORSERVEDCODE',
  AWS_SECRET_ACCESS_KEY: 'worker-secret-access-key-not-for-served-code',
  WORKER_DATABASE_URL: 'postgres://synapse:db-password-not-for-served-code@db.internal/synapse',
  SYNAPSE_GATEWAY_TOKEN: 'syn_worker_token_not_for_served_code',
};
const savedEnv: Record<string, string | undefined> = {};
let previousLimits: PluginHostLimits;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let deployments: Deployments;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

beforeAll(async () => {
  for (const [name, value] of Object.entries(SECRETS)) {
    savedEnv[name] = process.env[name];
    process.env[name] = value;
  }
  previousLimits = setPluginHostLimits({ cancelGraceMs: 1000 });
  worker = await startWorker(settings);
  runs = await connectRuns(settings);
  deployments = new Deployments(runs);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, defaultMetrics: false, rateLimit: false });
  token = (await tokens.create('tests')).token;
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
  await deployments?.close();
  await runs?.close();
  await worker?.stop();
  setPluginHostLimits(previousLimits);
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

async function predict(id: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}/v1/deployments/${id}/predict`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function deploy(plugin: string, params: Record<string, unknown> = {}): Promise<string> {
  const { runId } = await runs.start({ plugin, action: 'deployment', params: { replicas: 1, ...params } });
  await waitFor(
    async () => ((await deployments.replicas(runId)).some((r) => r.serving) ? true : undefined),
    90_000,
    `a serving replica of ${path.basename(plugin)}`,
  ).catch(async (err: unknown) => {
    const events = (await runs.events(runId, 0, 200)).map((e) => JSON.stringify(e.data));
    throw new Error(`${String(err)}\nstate: ${JSON.stringify(await runs.state(runId))}\nevents:\n${events.join('\n')}`);
  });
  return runId;
}

/** serve-ts's answer to a generated image: its colour. */
async function colourCheck(id: string, index: number): Promise<void> {
  const item = sampleItem(11, index, 'serve');
  const res = await predict(id, { image: renderItem(item).toString('base64') });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.label).toBe(item.color);
}

/** The pids of the run's plugin hosts, from its `plugin_host` events. */
async function hostPids(runId: string): Promise<number[]> {
  const events = await runs.store.readEvents(runId);
  return events.flatMap((e) => (e.data.kind === 'event' && e.data.event === 'plugin_host' ? [e.data.data.pid as number] : []));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function expectNoSecrets(env: Record<string, unknown>): void {
  const text = JSON.stringify(env);
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(text).not.toContain(name);
    expect(text).not.toContain(value);
  }
  expect(Object.keys(env).filter((k) => /DATABASE|AWS|TOKEN|SECRET|TEMPORAL|SYNAPSE|^PG/.test(k))).toEqual([]);
}

describe('TypeScript served actions run in plugin hosts', () => {
  let hostile: string;
  let colours: string;

  beforeAll(async () => {
    colours = await deploy(SERVE_TS);
    hostile = await deploy(HOSTILE);
  }, 180_000);

  afterAll(async () => {
    for (const id of [hostile, colours]) if (id) await deployments.stop(id).catch(() => {});
  });

  it("a hostile predict sees none of the worker's secrets and is refused its files; the deployment beside it keeps answering", async () => {
    await colourCheck(colours, 0);
    const env = await predict(hostile, { mode: 'env' });
    expect(env.status, JSON.stringify(env.body)).toBe(200);
    expect(env.body.pid).not.toBe(process.pid);
    expectNoSecrets(env.body.processEnv as Record<string, unknown>);

    const keys = path.join(settings.dataDir, 's3', 'secrets.json');
    mkdirSync(path.dirname(keys), { recursive: true });
    writeFileSync(keys, JSON.stringify({ secretAccessKey: 'storage-secret-not-for-served-code' }));
    const files = [path.join(settings.dataDir, 'synapse.db'), keys, '/etc/passwd', path.join(ROOT, 'package.json')];
    const read = await predict(hostile, { mode: 'read', files });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    const outcome = read.body.outcome as Record<string, string>;
    expect(Object.keys(outcome)).toHaveLength(files.length);
    for (const [file, result] of Object.entries(outcome)) expect(`${file}: ${result}`).toBe(`${file}: refused: ERR_ACCESS_DENIED`);

    // The input is checked in the host with the class's schema: 400 naming the field.
    const bad = await predict(hostile, { mode: 'steal' });
    expect(bad.status).toBe(400);
    expect((bad.body.errors as { path: string }[]).map((e) => e.path)).toContain('mode');
    // So is the answer, with `static output`.
    const badOutput = await predict(hostile, { mode: 'bad-output' });
    expect(badOutput.status).toBe(500);
    expect(String(badOutput.body.detail)).toContain('HostileServe.predict answered a value that fails its output schema');
    await colourCheck(colours, 1);
  }, 60_000);

  it('process.exit in predict answers 500 naming the exit; the next request gets a fresh host that loads the model', async () => {
    const before = await predict(hostile, { mode: 'whoami' });
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    const crashed = await predict(hostile, { mode: 'exit' });
    expect(crashed.status).toBe(500);
    expect(String(crashed.body.detail)).toMatch(/plugin host \(pid \d+\) exited with code 7/);
    expect(String(crashed.body.detail)).toContain('next request gets a fresh plugin host');
    await waitFor(() => (alive(before.body.pid as number) ? undefined : true), 10_000, 'the crashed host to be gone');

    const t0 = performance.now();
    const after = await predict(hostile, { mode: 'whoami' });
    console.log(`the request after the crash (a fresh host: start, describe, lazy load, predict): ${Math.round(performance.now() - t0)} ms`);
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.pid).not.toBe(before.body.pid);
    expect(after.body.pid).not.toBe(process.pid);
    expect(after.body.loads).toBe(1);
    // The replica went on: the same row, serving; the deployment beside it too.
    expect((await deployments.replicas(hostile)).filter((r) => r.serving)).toHaveLength(1);
    expect((await runs.state(hostile)).status).toBe('running');
    await colourCheck(colours, 2);
  }, 60_000);

  it('overlapping requests run in a second host of the replica, each host loading once; undeploying stops a hung predict and kills the hosts', async () => {
    // Three at once: two hosts (SYNAPSE_SERVE_HOSTS_PER_REPLICA's default), the third request queues for one of them.
    const answers = await Promise.all([0, 1, 2].map(() => predict(hostile, { mode: 'whoami', sleepMs: 1500 })));
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const pids = [...new Set(answers.map((a) => a.body.pid as number))];
    expect(pids).toHaveLength(2);
    for (const a of answers) expect(a.body.loads).toBe(1);

    // A predict that never answers is in flight when the deployment stops: after the drain its host is stopped and it fails.
    const hung = predict(hostile, { mode: 'hang' });
    await waitFor(async () => ((await deployments.replicas(hostile)).some((r) => r.inFlight > 0) ? true : undefined), 10_000, 'the hung request in flight');
    await deployments.stop(hostile);
    expect((await deployments.status(hostile)).status).toBe('cancelled');
    const answered = await hung;
    expect(answered.status).toBe(500);
    expect(String(answered.body.detail)).toContain('the replica stopped while this request ran: its plugin host was stopped');
    for (const pid of pids) await waitFor(() => (alive(pid) ? undefined : true), 10_000, `host ${pid} to be gone`);
    const logged = await hostPids(hostile);
    expect(logged.length).toBeGreaterThanOrEqual(2);
    for (const pid of logged) expect(alive(pid), `host ${pid}`).toBe(false);
    await colourCheck(colours, 3);
  }, 60_000);
});

describe('Python served actions', () => {
  it("the Python process's environment has none of the worker's secrets", async () => {
    const platform = await openDatabase({ dataDir: settings.dataDir });
    let model: number;
    try {
      const storage = await ensureDefaultStorage(platform.db);
      const key = 'models/python-env-serve.tar.gz';
      await (
        await platformAccess(platform.db, settings.dataDir).storageFor(storage.id)
      ).put(key, packTarGz([{ name: 'model.bin', data: Buffer.from('model-bytes-for-python-env-serve') }]));
      model = (
        await createModel(platform.db, {
          name: 'python-env-serve-model',
          plugin: { code: 'python-env-serve', version: '1.0.0' },
          file: { storage: storage.id, key },
        })
      ).id;
    } finally {
      await platform.close();
    }
    const id = await deploy(PYTHON, { model });
    try {
      const res = await predict(id, {});
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.model).toBe('model-bytes-for-python-env-serve');
      expect(res.body.pid).not.toBe(process.pid);
      expectNoSecrets(res.body.env as Record<string, unknown>);
    } finally {
      await deployments.stop(id);
    }
  }, 150_000);
});

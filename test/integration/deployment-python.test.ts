/**
 * Python inference code in a deployment (docs/serving.md): the built-in PyTorch classifier
 * (plugins/train-image-classifier) trains on a small generated dataset, its registered model
 * is deployed with 1 replica (a warm Python process loads it once), and predictions through
 * the gateway give the shape of freshly generated images; its Python process SIGKILLed, the
 * replica starts again with a new one and answers; a body the Python code refuses is
 * a 400 naming the field; undeploying removes the replica. A deployment without a model
 * fails its replica with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployments } from '../../client/deployments.js';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import type { TrainResult } from '../../contracts/train.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, renderItem, sampleItem, type GenerateResult } from '../../platform/generate.js';
import { listReplicas } from '../../platform/repositories/deployments.js';
import { testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const PLUGIN = 'train-image-classifier';
const settings = testSettings('deploy-python');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
let deployments: Deployments;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 600, seed: 5, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  deployments = new Deployments(runs);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, defaultMetrics: false, rateLimit: false });
  token = (await tokens.create('tests')).token;
}, 120_000);
afterAll(async () => {
  await gateway?.close();
  await tokens?.close();
  await deployments?.close();
});

async function predict(id: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}/v1/deployments/${id}/predict`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function rowsInDb(id: string) {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    return await listReplicas(platform.db, id);
  } finally {
    await platform.close();
  }
}

const finish = async (runId: string): Promise<RunState> =>
  (await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(async () => runs.state(runId))) as RunState;

describe('a Python model served by a deployment', () => {
  it('trains, deploys with 1 replica, predicts the right shape through the gateway, refuses a bad body and undeploys', async () => {
    const trained = await finish(
      (
        await runs.start({
          plugin: PLUGIN,
          action: 'train',
          params: {
            name: 'served-cnn',
            dataset: data.groundTruth.versionId,
            hyperparameters: { epochs: 12, seed: 2, batch_size: 16, width: 16 },
            num_cpus: 1,
          },
        })
      ).runId,
    );
    expect(trained.status, trained.error).toBe('completed');
    const { model, metrics } = trained.result as TrainResult;

    const { runId: id } = await runs.start({ plugin: PLUGIN, action: 'deployment', params: { replicas: 1, model: model.id }, heartbeatTimeoutSeconds: 10 });
    await waitFor(async () => ((await deployments.replicas(id)).some((r) => r.serving) ? true : undefined), 120_000, 'a serving replica').catch(
      async (err: unknown) => {
        const events = (await runs.events(id, 0, 200)).map((e) => JSON.stringify(e.data));
        throw new Error(`${String(err)}\nstate: ${JSON.stringify(await runs.state(id))}\nevents:\n${events.join('\n')}`);
      },
    );

    // Images the model never saw (another seed); the first must be right, and most of them.
    const labels: [string, string][] = [];
    for (let i = 0; i < 10; i++) {
      const item = sampleItem(77, i, 'served');
      const res = await predict(id, { image: renderItem(item).toString('base64') });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const scores = res.body.scores as Record<string, number>;
      expect(Object.keys(scores).sort()).toEqual(['circle', 'square', 'triangle']);
      expect(Object.values(scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(res.body.label).toBe(Object.entries(scores).sort((a, b) => b[1] - a[1])[0]![0]);
      labels.push([String(res.body.label), item.className]);
    }
    const right = labels.filter(([got, want]) => got === want).length;
    console.log(`served model ${model.id} (test accuracy ${metrics.accuracy}): ${right}/10 right: ${JSON.stringify(labels)}`);
    expect(labels[0]![0]).toBe(labels[0]![1]);
    expect(right).toBeGreaterThanOrEqual(8);

    // The replica's Python process dies: the replica's step fails (retryable) and comes back with a new process.
    const pids = async () =>
      (await runs.events(id, 0, 100_000))
        .filter((e) => e.data.kind === 'event' && e.data.event === 'python_started')
        .map((e) => Number((e.data as unknown as { data: { pid: number } }).data.pid));
    const [first] = await pids();
    process.kill(first!, 'SIGKILL');
    await waitFor(
      async () => ((await deployments.replicas(id)).some((r) => r.serving && r.attempt >= 2) ? true : undefined),
      60_000,
      'replica 0 serving again in a later attempt',
    );
    expect((await pids()).length).toBe(2);
    const again = sampleItem(77, 0, 'served');
    const after = await predict(id, { image: renderItem(again).toString('base64') });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.label).toBe(labels[0]![0]);

    const bad = await predict(id, { image: 'not base64 at all!' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ path: 'image', message: 'is not valid base64' }]);
    const unknown = await predict(id, { picture: 'x' });
    expect(unknown.status).toBe(400);
    expect((unknown.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['picture']);

    await deployments.stop(id);
    expect((await deployments.status(id)).status).toBe('cancelled');
    expect(await rowsInDb(id)).toEqual([]);
  }, 600_000);

  it('a deployment without a model fails its replica with the reason', async () => {
    const { runId: id } = await runs.start({ plugin: PLUGIN, action: 'deployment', params: { replicas: 1 }, heartbeatTimeoutSeconds: 10 });
    const final = await finish(id);
    expect(final.status).toBe('failed');
    expect(final.error).toMatch(/replica 0: the model failed to load: .*set the param `model`/);
    const rows = await rowsInDb(id);
    expect(rows[0]).toMatchObject({ replica: 0, status: 'failed' });
  }, 120_000);
});

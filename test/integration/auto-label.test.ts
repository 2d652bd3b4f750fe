/**
 * auto_label (smart_tool, plugins/auto-label) served like a deployment, with the real servers:
 * a colour classifier deployed as deployment.test.ts does (test/fixtures/plugins/serve-ts), the
 * auto-label deployment in front of it, and a project whose classes are bbox classes of the
 * model's colours. Through the gateway's predict route: a task's image gets a box of its
 * shape's colour over the whole image; an image with two shapes and a region gets the
 * region's colour as a box at the region; bad input (an unknown task, a region outside the
 * image, neither task nor image) is a 400 naming the field; once the model's deployment is
 * stopped, a request fails naming it. Through the CLI: `synapse predict`. The latency of 20
 * requests through the gateway is printed (measured, not asserted).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { renderItem, sampleItem, type SampleItem } from '../../platform/generate.js';
import { encodePng } from '../../platform/png.js';
import { isServing, listReplicas } from '../../platform/repositories/deployments.js';
import { addDataUnits, createDataCollection, createProject, createTasks, ensureDefaultStorage } from '../../platform/repositories/index.js';
import { openStorage } from '../../storage/index.js';
import { connectRuns, ROOT, runCli, startWorker, testSettings, waitFor } from '../helpers.js';

const SERVE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts');
const COLOURS = ['red', 'green', 'blue', 'yellow'];
const settings = testSettings('auto-label');
let platform: PlatformDb;
let runs: RunsClient;
let worker: { stop(): Promise<void> } | undefined;
let tokens: TokenStore;
let gateway: GatewayServer;
let token: string;
const deployments: string[] = [];
let model: string;
let autoLabel: string;
let items: SampleItem[];
let taskIds: number[];

async function deploy(plugin: string, action: string, params: Record<string, unknown>): Promise<string> {
  const { runId } = await runs.start({ plugin, action, params, heartbeatTimeoutSeconds: 3 });
  deployments.push(runId);
  await waitFor(
    async () => ((await listReplicas(platform.db, runId)).some((r) => isServing(r, 5000)) ? true : undefined),
    60_000,
    `a ready replica of ${runId}`,
  );
  return runId;
}

async function predict(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}/v1/deployments/${autoLabel}/predict`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A 128 x 64 image: a red square on the left half, a blue one on the right, light grey around. */
function twoShapes(): string {
  const w = 128;
  const h = 64;
  const rgb = new Uint8Array(w * h * 3).fill(235);
  const fill = (x0: number, colour: [number, number, number]) => {
    for (let y = 16; y < 48; y++) for (let x = x0; x < x0 + 32; x++) rgb.set(colour, (y * w + x) * 3);
  };
  fill(16, [220, 40, 40]);
  fill(80, [40, 80, 220]);
  return encodePng(w, h, rgb).toString('base64');
}

beforeAll(async () => {
  platform = await openDatabase({ dataDir: settings.dataDir });
  runs = await connectRuns(settings);
  worker = await startWorker(settings);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, defaultMetrics: false, rateLimit: false });
  token = (await tokens.create('tests')).token;

  const storageRecord = await ensureDefaultStorage(platform.db);
  const storage = openStorage(storageRecord.config, { dataDir: settings.dataDir, name: storageRecord.name });
  const collection = await createDataCollection(platform.db, { name: 'al', files: [{ name: 'image', required: true, extensions: ['.png'] }] });
  await createProject(platform.db, {
    name: 'al',
    collection: collection.id,
    configuration: { data_type: 'image', classes: COLOURS.map((c) => ({ name: c, type: 'bbox' as const })) },
  });
  items = Array.from({ length: 4 }, (_, i) => sampleItem(31, i, 'al'));
  for (const item of items) await storage.put(item.imageKey, renderItem(item));
  const units = await addDataUnits(
    platform.db,
    collection.id,
    items.map((item) => ({ uniqueKey: item.uniqueKey, files: { image: { storage: storageRecord.id, key: item.imageKey } } })),
  );
  taskIds = (
    await createTasks(
      platform.db,
      'al',
      units.map((u) => u.id),
    )
  ).map((t) => t.id);

  model = await deploy(SERVE, 'deployment', { replicas: 1 });
  autoLabel = await deploy('auto-label', 'auto_label', { model_deployment: model, project: 'al', confidence_threshold: 0.3 });
}, 180_000);
afterAll(async () => {
  for (const id of deployments) {
    await runs?.cancel(id).catch(() => undefined);
    await runs?.temporal.workflow
      .getHandle(id)
      .result()
      .catch(() => undefined);
  }
  await gateway?.close();
  await tokens?.close();
  await worker?.stop();
  await runs?.close();
  await platform?.close();
});

describe('auto_label through the gateway', () => {
  it("suggests a box of each task's colour over its image", async () => {
    for (const [i, task] of taskIds.entries()) {
      const res = await predict({ task });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ task, model_deployment: model, below: [] });
      expect(res.body.suggestions).toEqual([
        expect.objectContaining({ type: 'bbox', class_name: items[i]!.color, x: 0, y: 0, width: 64, height: 64, id: 'suggestion-0' }),
      ]);
    }
  });

  it("suggests the region's colour at the region of an image", async () => {
    const image = twoShapes();
    const right = { x: 64, y: 0, width: 64, height: 64 };
    const left = { x: 0, y: 8, width: 60, height: 50 };
    const a = await predict({ image, region: right });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.suggestions).toEqual([expect.objectContaining({ type: 'bbox', class_name: 'blue', ...right })]);
    const b = await predict({ image, region: left });
    expect(b.body.suggestions).toEqual([expect.objectContaining({ type: 'bbox', class_name: 'red', ...left })]);

    // Measured, not asserted: 20 task requests one after another through the gateway.
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect((await predict({ task: taskIds[i % taskIds.length] })).status).toBe(200);
      ms.push(performance.now() - started);
    }
    ms.sort((x, y) => x - y);
    console.log(`auto_label through the gateway: median ${ms[10]!.toFixed(1)} ms, slowest ${ms[19]!.toFixed(1)} ms (20 requests)`);
  });

  it('refuses bad input naming the field', async () => {
    const unknown = await predict({ task: 999_999 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ path: 'task', message: 'no task 999999 in project "al"' }]);
    const outside = await predict({ image: twoShapes(), region: { x: 100, y: 0, width: 64, height: 10 } });
    expect(outside.status).toBe(400);
    expect(outside.body.errors).toEqual([{ path: 'region', message: 'reaches outside the 128 x 64 image' }]);
    const neither = await predict({});
    expect(neither.status).toBe(400);
    expect((neither.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['task']);
  });

  it('answers through the CLI, and names the model deployment once it is stopped', async () => {
    const cli = await runCli(['predict', autoLabel, JSON.stringify({ task: taskIds[0] })], settings);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ task: taskIds[0], suggestions: [{ class_name: items[0]!.color }] });

    await runs.cancel(model);
    await runs.temporal.workflow
      .getHandle(model)
      .result()
      .catch(() => undefined);
    await waitFor(async () => ((await runs.state(model)).status === 'cancelled' ? true : undefined), 30_000, 'the model deployment cancelled');
    const res = await predict({ task: taskIds[0] });
    expect(res.status).toBe(500);
    expect(String(res.body.detail)).toContain(`deployment ${model} is cancelled`);
  });
});

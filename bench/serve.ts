/**
 * Serving benchmark (issue 13): predictions of the PyTorch classifier
 * (plugins/train-image-classifier) through the gateway to a deployment's replica
 * (`POST /v1/deployments/{id}/predict`: token check, replica choice, the replica's HTTP
 * server, its warm Python process over the JSON-lines protocol) against the same model file
 * served by a plain Python HTTP server (bench/serve_baseline.py: the plugin's class behind
 * http.server, no Temporal, no gateway), in the same run, on the same image.
 *
 *   node bin/run-ts.mjs bench/serve.ts [--duration 10] [--connections 4] [--rounds 2] [--epochs 3] [--json out.json]
 *
 * One private ephemeral Temporal dev server, an in-process worker, 600 generated images, a
 * short training (the model's size, not its accuracy, matters here), a deployment of 1
 * replica. autocannon (in this process) loads each side for --duration seconds after a 2 s
 * warm-up, --connections at a time; rounds alternate which side goes first. Reported: p50 and
 * p99 latency and requests per second of each side, and the ratios (goal: p50 within 1.3x,
 * throughput at least 0.7x of the plain server). The replica's own address, without the
 * gateway, is loaded too, to tell the gateway's share from the replica's. Every answer must
 * be a 200 with the same label on every side. See bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { basePython } from '../activities/python-runtime.js';
import { platformAccess } from '../activities/platform-access.js';
import { trainData } from '../activities/train-data.js';
import { Deployments } from '../client/deployments.js';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import type { RunState } from '../contracts/run-state.js';
import type { TrainResult } from '../contracts/train.js';
import { listenGateway } from '../gateway/server.js';
import { TokenStore } from '../gateway/token-store.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData, renderItem, sampleItem } from '../platform/generate.js';
import { getModel } from '../platform/repositories/models.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '3' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node bin/run-ts.mjs bench/serve.ts [--duration S] [--connections N] [--rounds R] [--epochs E] [--json FILE]\n');
  process.exit(0);
}
const duration = Number(values.duration);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const epochs = Number(values.epochs);
for (const [name, v] of Object.entries({ duration, connections, rounds, epochs }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number >= 1`);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Side {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, body: string, seconds: number): Promise<Side> {
  const r = await autocannon({ url, connections, duration: seconds, method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  return { requestsPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors };
}

function startBaseline(modelFile: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(basePython(), [path.join(ROOT, 'bench', 'serve_baseline.py'), '--model', modelFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}/predict` });
    });
    child.once('exit', (code) => reject(new Error(`serve_baseline.py exited with ${code}`)));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

delete process.env.DATABASE_URL;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-serve-'));
const report: Record<string, unknown> = { duration, connections, rounds, cpus: os.availableParallelism(), loadavgAtStart: os.loadavg()[0] };
let baseline: ChildProcess | undefined;
try {
  log(`generating 600 images (data dir ${dataDir})`);
  const platform = await openDatabase({ dataDir });
  const data = await generateSampleData(platform, { count: 600, seed: 5, projectName: 'bench', dataDir });
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench-serve' }, {});
  const worker = await startWorker({ settings, log: () => {} });
  const runs = await RunsClient.connect(settings);
  const deployments = new Deployments(runs);
  const tokens = await TokenStore.open({ dataDir });
  const gateway = await listenGateway({ runs, tokens, port: 0, rateLimit: false, defaultMetrics: false });
  try {
    log(`training the classifier (${epochs} epochs)`);
    const trained = (await runs.temporal.workflow
      .getHandle(
        (
          await runs.start({
            plugin: 'train-image-classifier',
            action: 'train',
            params: { name: 'bench-serve', dataset: data.groundTruth.versionId, hyperparameters: { epochs, seed: 2, batch_size: 16, width: 16 } },
          })
        ).runId,
      )
      .result()) as RunState;
    if (trained.status !== 'completed') throw new Error(`training ${trained.status}: ${trained.error}`);
    const modelId = (trained.result as TrainResult).model.id;

    // The same model file for the plain server.
    const access = platformAccess(platform.db, dataDir);
    const modelFile = path.join(dataDir, 'model.bin');
    writeFileSync(modelFile, await trainData(access, dataDir).modelBytes(await getModel(platform.db, modelId)));

    log('deploying 1 replica');
    const { runId: id } = await runs.start({ plugin: 'train-image-classifier', action: 'deployment', params: { replicas: 1, model: modelId } });
    let replicaAddress = '';
    for (let i = 0; ; i++) {
      const ready = (await deployments.replicas(id)).find((r) => r.serving && r.address);
      if (ready) {
        replicaAddress = ready.address as string;
        break;
      }
      if (i > 600) throw new Error(`no replica of ${id} serving after 120 s: ${JSON.stringify(await runs.state(id))}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const token = (await tokens.create('bench', ['runs:read'])).token;
    const started = await startBaseline(modelFile);
    baseline = started.child;

    const item = sampleItem(42, 0, 'bench');
    const body = JSON.stringify({ image: renderItem(item).toString('base64') });
    const sides = {
      gateway: { url: `${gateway.url}/v1/deployments/${id}/predict`, headers: { Authorization: `Bearer ${token}` } },
      // The replica without the gateway: splits the path's cost between the gateway and the replica.
      replica: { url: `${replicaAddress}/predict`, headers: {} },
      plain: { url: started.url, headers: {} },
    };
    // The same answer on both sides.
    const labels: Record<string, unknown> = {};
    for (const [name, side] of Object.entries(sides)) {
      const res = await fetch(side.url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...side.headers }, body });
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
      labels[name] = ((await res.json()) as { label: string }).label;
    }
    if (labels.gateway !== labels.plain || labels.replica !== labels.plain) throw new Error(`the sides disagree: ${JSON.stringify(labels)}`);

    const results: Record<'gateway' | 'replica' | 'plain', Side[]> = { gateway: [], replica: [], plain: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['gateway', 'replica', 'plain'] as const) : (['plain', 'replica', 'gateway'] as const);
      for (const name of order) {
        const side = sides[name];
        await load(side.url, side.headers, body, 2); // warm-up
        log(`round ${round + 1}: ${name} for ${duration} s, ${connections} connections`);
        const r = await load(side.url, side.headers, body, duration);
        if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        results[name].push(r);
      }
    }
    const summary = (list: Side[]) => ({
      p50Ms: median(list.map((r) => r.p50Ms)),
      p99Ms: median(list.map((r) => r.p99Ms)),
      requestsPerSec: median(list.map((r) => r.requestsPerSec)),
      rounds: list,
    });
    const g = summary(results.gateway);
    const r = summary(results.replica);
    const p = summary(results.plain);
    const ratios = { p50: g.p50Ms / p.p50Ms, p99: g.p99Ms / p.p99Ms, throughput: g.requestsPerSec / p.requestsPerSec };
    Object.assign(report, { label: labels.gateway, gateway: g, replica: r, plain: p, ratios, loadavgAtEnd: os.loadavg()[0] });
    process.stdout.write(
      `\npredict of one 64x64 PNG, ${connections} connections, ${duration} s x ${rounds} rounds (medians of the rounds), ${os.availableParallelism()} CPUs\n` +
        `  gateway -> replica   p50 ${g.p50Ms.toFixed(2)} ms  p99 ${g.p99Ms.toFixed(2)} ms  ${g.requestsPerSec.toFixed(0)} req/s\n` +
        `  replica directly     p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.requestsPerSec.toFixed(0)} req/s\n` +
        `  plain Python server  p50 ${p.p50Ms.toFixed(2)} ms  p99 ${p.p99Ms.toFixed(2)} ms  ${p.requestsPerSec.toFixed(0)} req/s\n` +
        `  ratios: p50 ${ratios.p50.toFixed(2)}x (goal <= 1.3), p99 ${ratios.p99.toFixed(2)}x, throughput ${ratios.throughput.toFixed(2)}x (goal >= 0.7)\n`,
    );
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
    await deployments.stop(id);
  } finally {
    baseline?.kill();
    await gateway.close();
    await tokens.close();
    await deployments.close();
    await runs.close();
    await worker.stop();
    await platform.close();
    await server.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Cancel latency: from the moment `RunsClient.cancel(runId)` is called to the moment plugin
 * code sees the cancel (TypeScript: ctx.signal aborted; Python: ctx.cancelled True), at
 * heartbeat timeouts 10, 30 and 120 s (issue 17, problem 1).
 *
 *   node bin/run-ts.mjs bench/cancel-latency.ts [--samples 5] [--timeouts 10,30,120] [--sdk-default] [--json out.json]
 *
 * The plugins take 20 ms steps and log `cancelled at item|step N` when they see it: the
 * demo-validation plugin (TypeScript) and the Python trainer fixture's `loop` mode. The
 * log event's time (taken by the worker, in this process: one clock) minus the request's
 * is the latency. Each sample cancels at a random 0-1 s after the run's 100th step (2 s
 * in, past the step's first heartbeat, which goes out at once with any throttle), so
 * requests do not line up with heartbeats. A private ephemeral Temporal dev server and an
 * in-process worker; `--sdk-default` runs the worker with the SDK's heartbeat throttle
 * (0.8 x the timeout, at most 60 s) instead of ours (workers/worker.ts HEARTBEAT_THROTTLE_MS),
 * for comparison. Prints p50, p95 and max per runtime and timeout; see bench/README.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData } from '../platform/generate.js';
import { startDevServer } from '../workers/dev-server.js';
import { HEARTBEAT_THROTTLE_MS, startWorker } from '../workers/worker.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'python-trainer');
const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '5' },
    timeouts: { type: 'string', default: '10,30,120' },
    'sdk-default': { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node bin/run-ts.mjs bench/cancel-latency.ts [--samples 5] [--timeouts 10,30,120] [--sdk-default] [--json FILE]\n');
  process.exit(0);
}
const samples = Number(values.samples);
if (!Number.isInteger(samples) || samples < 1) throw new Error('--samples must be an integer >= 1');
const timeouts = values.timeouts.split(',').map(Number);
if (timeouts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error('--timeouts must be whole seconds >= 1, comma-separated');
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The q-quantile (0..1) of xs by the nearest-rank method. */
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

delete process.env.DATABASE_URL;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-cancel-'));
const throttle = values['sdk-default'] ? null : HEARTBEAT_THROTTLE_MS;
const report: { throttleMs: number | null; cpus: number; loadavg: number; results: Record<string, unknown>[] } = {
  throttleMs: throttle,
  cpus: os.availableParallelism(),
  loadavg: os.loadavg()[0]!,
  results: [],
};

try {
  const platform = await openDatabase({ dataDir });
  const data = await generateSampleData(platform, { count: 12, seed: 1, projectName: 'bench', dataDir });
  await platform.close();
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});
  const worker = await startWorker({ settings, heartbeatThrottleMs: throttle });
  const runs = await RunsClient.connect(settings);

  /** One sample: start, wait for the 100th step (2 s in), cancel a random 0-1 s later; the latency in ms. */
  const sample = async (runtime: 'typescript' | 'python', heartbeatTimeoutSeconds: number, n: number): Promise<number> => {
    const category = runtime === 'typescript' ? 'validate' : 'epoch';
    const { runId } =
      runtime === 'typescript'
        ? await runs.start({
            plugin: 'demo-validation',
            action: 'validation',
            params: { count: 1_000_000, delayMs: 20, checkpointEvery: 1_000_000 },
            heartbeatTimeoutSeconds,
          })
        : await runs.start({
            plugin: PYTHON_FIXTURE,
            action: 'train',
            params: {
              name: `bench-${heartbeatTimeoutSeconds}-${n}`,
              dataset: data.groundTruth.versionId,
              hyperparameters: { epochs: 1, seed: 1, mode: 'loop', loop_steps: 1_000_000 },
              num_cpus: 1,
            },
            heartbeatTimeoutSeconds,
          });
    for (;;) {
      const events = await runs.events(runId, 0, 100_000);
      if (events.some((e) => e.data.kind === 'progress' && e.data.category === category && e.data.current >= 100)) break;
      await sleep(50);
    }
    await sleep(Math.random() * 1000);
    const requested = Date.now();
    await runs.cancel(runId);
    await runs.temporal.workflow
      .getHandle(runId)
      .result()
      .catch(() => {});
    const seen = (await runs.events(runId, 0, 100_000)).find((e) => e.data.kind === 'log' && /^cancelled at (item|step) \d+/.test(e.data.message));
    if (!seen) throw new Error(`run ${runId}: the plugin never logged that it saw the cancel`);
    return Date.parse(seen.at) - requested;
  };

  try {
    progress(`heartbeat throttle: ${throttle === null ? "the SDK's default" : `${throttle} ms`}; data dir ${dataDir}`);
    await sample('typescript', 30, 0); // warm-up: bundle, plugin import, Python process
    await sample('python', 30, 0);
    for (const timeout of timeouts) {
      for (const runtime of ['typescript', 'python'] as const) {
        const ms: number[] = [];
        for (let i = 1; i <= samples; i++) ms.push(await sample(runtime, timeout, i));
        const row = { runtime, heartbeatTimeoutSeconds: timeout, samples: ms, p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: Math.max(...ms) };
        report.results.push(row);
        process.stdout.write(
          `${runtime.padEnd(10)} heartbeat timeout ${String(timeout).padStart(3)} s: p50 ${row.p50} ms, p95 ${row.p95} ms, max ${row.max} ms (${samples} samples)\n`,
        );
      }
    }
  } finally {
    await runs.close();
    await worker.stop();
    await server.stop();
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

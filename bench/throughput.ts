/**
 * Throughput with 1, 2 and 3 worker processes (issue 16 item 7): how many short runs per
 * second the system completes, and their p95 start-to-result latency, as worker processes are
 * added. Printed with the machine's core count: on 2 cores a third worker only competes with
 * the server and the client for the same CPUs, so the figures are read against it.
 *
 *   node bin/run-ts.mjs bench/throughput.ts [--runs 200] [--concurrency 16] [--workers 1,2,3]
 *       [--plugin noop] [--action validation] [--params '{}'] [--warmup 10] [--json out.json]
 *
 * Temporal: TEMPORAL_ADDRESS when set (a cluster: `synapse server start-cluster`, or any
 * server), else a private headless dev server started here. The platform database: DATABASE_URL
 * when set, else one SQLite file in a temporary data dir that every process shares.
 * Each worker count gets fresh task queues (its own prefix) and fresh `synapse worker`
 * processes (real processes, as on separate machines); the client keeps `--concurrency` runs in
 * flight until `--runs` have finished. runs/s = runs / wall time from the first start to the
 * last result; latency = RunsClient.start until the workflow's result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings, type Settings } from '../client/settings.js';
import { startDevServer, type DevServer } from '../workers/dev-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SYNAPSE_BIN = path.join(ROOT, 'bin', 'synapse.mjs');

interface Options {
  runs: number;
  concurrency: number;
  workers: number[];
  warmup: number;
  plugin: string;
  action: string;
  params: unknown;
  json?: string;
}

interface Row {
  workers: number;
  runs: number;
  failed: number;
  seconds: number;
  runsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: process.env.BENCH_RUNS ?? '200' },
      concurrency: { type: 'string', default: '16' },
      workers: { type: 'string', default: '1,2,3' },
      warmup: { type: 'string', default: '10' },
      plugin: { type: 'string', default: 'noop' },
      action: { type: 'string', default: 'validation' },
      params: { type: 'string', default: '{}' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'node bin/run-ts.mjs bench/throughput.ts [--runs 200] [--concurrency 16] [--workers 1,2,3] [--plugin noop] [--action validation] [--params JSON] [--warmup 10] [--json out.json]\n',
    );
    process.exit(0);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(text)}`);
    return n;
  };
  let params: unknown;
  try {
    params = JSON.parse(values.params);
  } catch {
    throw new Error(`--params must be JSON, not ${JSON.stringify(values.params)}`);
  }
  return {
    runs: positive('runs', values.runs),
    concurrency: positive('concurrency', values.concurrency),
    workers: values.workers.split(',').map((w) => positive('workers', w.trim())),
    warmup: Number(values.warmup) >= 0 ? Math.floor(Number(values.warmup)) : 10,
    plugin: values.plugin,
    action: values.action,
    params,
    ...(values.json ? { json: values.json } : {}),
  };
}

/** `p` in [0, 1], interpolating between the two nearest samples. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** A `synapse worker` process on `settings`' queues; resolves once it polls. */
async function spawnWorker(settings: Settings): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SYNAPSE_BIN, 'worker'], {
    env: {
      ...process.env,
      SYNAPSE_DATA_DIR: settings.dataDir,
      TEMPORAL_ADDRESS: settings.temporal.address,
      SYNAPSE_TASK_QUEUE_PREFIX: settings.taskQueuePrefix,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)));
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Runs `total` runs, `concurrency` at a time; latencies in ms, and how many failed. */
async function drive(runs: RunsClient, o: Options, total: number): Promise<{ latencies: number[]; failed: number; seconds: number }> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const begin = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      try {
        const { runId } = await runs.start({ plugin: o.plugin, action: o.action, params: o.params });
        await runs.temporal.workflow.getHandle(runId).result();
        latencies.push(performance.now() - t0);
      } catch (err) {
        failed++;
        if (failed <= 3) process.stderr.write(`run failed: ${(err as Error).message}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, lane));
  return { latencies: latencies.sort((a, b) => a - b), failed, seconds: (performance.now() - begin) / 1000 };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-throughput-'));
  let server: DevServer | undefined;
  const external = process.env.TEMPORAL_ADDRESS;
  try {
    let address = external;
    if (!address) {
      progress('starting a headless, ephemeral Temporal dev server (TEMPORAL_ADDRESS is not set)');
      server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
      address = server.address;
    }
    const rows: Row[] = [];
    for (const count of o.workers) {
      const settings = loadSettings({ dataDir, temporalAddress: address, taskQueuePrefix: `bench-tp-${count}-${Date.now().toString(36)}` }, process.env);
      progress(`${count} worker process(es) on ${address}: starting`);
      const workers: ChildProcess[] = [];
      const runs = await RunsClient.connect(settings);
      try {
        for (let i = 0; i < count; i++) workers.push(await spawnWorker(settings));
        if (o.warmup > 0) await drive(runs, o, o.warmup);
        const { latencies, failed, seconds } = await drive(runs, o, o.runs);
        const row: Row = {
          workers: count,
          runs: latencies.length,
          failed,
          seconds: Number(seconds.toFixed(2)),
          runsPerSecond: Number((latencies.length / seconds).toFixed(1)),
          p50Ms: Math.round(percentile(latencies, 0.5)),
          p95Ms: Math.round(percentile(latencies, 0.95)),
        };
        rows.push(row);
        progress(`${count} worker(s): ${row.runsPerSecond} runs/s, p95 ${row.p95Ms} ms (${row.failed} failed)`);
      } finally {
        await runs.close();
        for (const w of workers) await stopWorker(w);
      }
    }
    const machine = {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      temporal: external ? `TEMPORAL_ADDRESS=${external}` : 'private dev server (temporal server start-dev)',
      database: process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'SQLite (one file shared by every process)',
    };
    const subject = `${o.plugin} ${o.action}, ${o.runs} runs, ${o.concurrency} in flight`;
    process.stdout.write(`\n${subject}; ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; ${machine.temporal}; ${machine.database}\n\n`);
    process.stdout.write('| worker processes | runs | failed | seconds | runs/s | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.workers} | ${r.runs} | ${r.failed} | ${r.seconds} | ${r.runsPerSecond} | ${r.p50Ms} | ${r.p95Ms} |\n`);
    if (o.json) writeFileSync(o.json, JSON.stringify({ subject, machine, rows }, null, 2));
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

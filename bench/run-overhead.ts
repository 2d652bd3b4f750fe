/**
 * Overhead benchmark: how much longer a no-op plugin run takes, from start to result,
 * than the barest Temporal workflow on the same server, in the same process.
 *
 *   node bin/run-ts.mjs bench/run-overhead.ts [--runs 200] [--warmup 10] [--block 10] [--pause-ms 0] [--json out.json]
 *
 * Both kinds run one at a time (it measures latency, not throughput), in alternating
 * blocks so that both see the same server conditions (history growth, GC, CPU frequency).
 * The no-op plugin's code runs in a plugin host (activities/plugin-host.ts, issue 18): the
 * warm host of its plugin version, started by the warm-up; the table names the host's pid and
 * how many hosts the measured runs started (1 when every run reused the warm one).
 * See bench/README.md for what each side includes.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import { RunsClient } from '../client/runs.js';
import { loadSettings, type Settings } from '../client/settings.js';
import { connectClient, connectNative } from '../client/temporal.js';
import { startDevServer, type DevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import type { RunState } from '../contracts/run-state.js';
import { pluginHostCount, pluginHostPids } from '../activities/plugin-host.js';
import { bareActivities } from './bare-activities.js';
import type { bareWorkflow } from './bare-workflow.js';
import { procPeakRssMiB } from './memory.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const BARE_TASK_QUEUE = 'bench-bare';
const SUBJECT = { plugin: 'noop', action: 'validation' } as const;

interface Options {
  runs: number;
  warmup: number;
  block: number;
  /** Idle time between two runs (0: back to back). */
  pauseMs: number;
  /** File for the JSON results; `-` prints them to stdout instead of the table. */
  json?: string;
}

interface Stats {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

interface MemoryReport {
  /** Highest RSS of this process seen by the sampler, in MiB. */
  rssPeakSampledMiB: number;
  /** `process.resourceUsage().maxRSS`: the kernel's peak RSS of this process, in MiB. */
  maxRssMiB: number;
  /** RSS once the server, both workers and both clients were up, before any run, in MiB. */
  rssIdleMiB: number;
  /** Peak RSS (VmHWM) of the Temporal dev server process, in MiB, where /proc has it. */
  serverPeakMiB?: number;
}

/** One kind of run: does one, resolving to its latency in ms. */
interface Subject {
  once(): Promise<number>;
}

// ---------------------------------------------------------------------------------------

/** A bad command line: reported without a stack trace. */
class UsageError extends Error {}

const CLI_OPTIONS = {
  runs: { type: 'string' },
  warmup: { type: 'string' },
  block: { type: 'string' },
  'pause-ms': { type: 'string' },
  json: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseCli(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: CLI_OPTIONS, strict: true }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function parseOptions(argv: string[]): Options {
  const values = parseCli(argv);
  if (values.help) {
    process.stdout.write(
      'usage: node bin/run-ts.mjs bench/run-overhead.ts [--runs N] [--warmup N] [--block N] [--pause-ms N] [--json FILE|-]\n' +
        '  --runs N     measured runs of each kind (default: $BENCH_RUNS or 200)\n' +
        '  --warmup N   unmeasured runs of each kind first (default 10)\n' +
        '  --block N    runs of one kind in a row before switching to the other (default 10)\n' +
        '  --pause-ms N idle time between two runs (default 0: back to back)\n' +
        '  --json FILE  also write the results as JSON (`-`: JSON to stdout instead of the table)\n',
    );
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min} (got "${raw}")`);
    return n;
  };
  return {
    runs: int('runs', values.runs ?? process.env.BENCH_RUNS, 200, 1),
    warmup: int('warmup', values.warmup, 10, 0),
    block: int('block', values.block, 10, 1),
    pauseMs: int('pause-ms', values['pause-ms'], 0, 0),
    ...(values.json !== undefined ? { json: values.json } : {}),
  };
}

/** Percentile by linear interpolation between the closest ranks (numpy's default). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

function summarize(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    mean: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

const mib = (bytes: number): number => bytes / (1024 * 1024);

/** Samples this process's RSS; a short interval catches peaks that snapshots would miss. */
function startRssSampler(intervalMs = 50): { peak(): number; stop(): void } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), intervalMs);
  timer.unref();
  return {
    peak: () => Math.max(peak, process.memoryUsage.rss()),
    stop: () => clearInterval(timer),
  };
}

/** Webpack and the SDK talk a lot while bundling; keep only warnings and errors. */
function quietLogger(): Logger {
  const emit = (level: string) => (message: string) => process.stderr.write(`[bundle ${level}] ${message}\n`);
  const none = (): void => {};
  return {
    log: (level, message) => (level === 'WARN' || level === 'ERROR' ? emit(level)(message) : undefined),
    trace: none,
    debug: none,
    info: none,
    warn: emit('WARN'),
    error: emit('ERROR'),
  };
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Rejects when `signal` aborts, so a Ctrl-C does not wait on a run whose worker is gone. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Interrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

// ---------------------------------------------------------------------------------------

/** The runs: `warmup` of each unmeasured, then `runs` of each in alternating blocks. */
async function measure(subjects: [Subject, Subject], options: Options, signal: AbortSignal, hosts: Hosts): Promise<number[][]> {
  const samples: number[][] = subjects.map(() => []);
  const once = async (s: Subject): Promise<number> => {
    if (options.pauseMs > 0) await abortable(sleep(options.pauseMs), signal);
    return abortable(s.once(), signal);
  };

  progress(`warm-up: ${options.warmup} run(s) of each`);
  for (let i = 0; i < options.warmup; i++) for (const s of subjects) await once(s);
  hosts.afterWarmup = pluginHostPids();

  progress(`measuring: ${options.runs} run(s) of each, blocks of ${options.block}`);
  let nextReport = 50;
  for (let round = 0, done = 0; done < options.runs; round++) {
    const size = Math.min(options.block, options.runs - done);
    // Swap which kind goes first every round, so neither always runs right after the other.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      for (let i = 0; i < size; i++) samples[k]!.push(await once(subjects[k]!));
    }
    done += size;
    if (done >= nextReport || done === options.runs) {
      progress(`  ${done}/${options.runs}`);
      nextReport = done + 50;
    }
  }
  return samples;
}

/** 1-minute load averages before and after the runs: a busy machine skews every number. */
interface Load {
  before: number;
  after: number;
}

/** The plugin hosts alive after the warm-up and after the measured runs. */
interface Hosts {
  afterWarmup: number[];
  afterRuns: number[];
}

function formatTable(options: Options, base: Stats, subj: Stats, memory: MemoryReport, load: Load, hosts: Hosts): string {
  const cols = ['n', 'mean', 'p50', 'p95', 'p99', 'min', 'max'] as const;
  const ms = (x: number) => x.toFixed(2);
  const row = (label: string, cells: string[]) => label.padEnd(26) + cells.map((c) => c.padStart(9)).join('');
  const statsRow = (label: string, s: Stats) =>
    row(
      label,
      cols.map((c) => (c === 'n' ? String(s.n) : ms(s[c]))),
    );
  const ratio = (c: 'mean' | 'p50' | 'p95' | 'p99') => `${(subj[c] / base[c]).toFixed(2)}x`;
  const lines = [
    `Run overhead: start -> result latency in ms, sequential` +
      (options.pauseMs > 0 ? ` with ${options.pauseMs} ms between runs` : ', back to back') +
      `; ${options.runs} measured + ${options.warmup} warm-up run(s) of each, alternating blocks of ${options.block}`,
    `node ${process.version}, ${os.cpus().length} CPU(s), ${os.platform()}/${os.arch()}; ` +
      `1-min load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after`,
    '',
    row('', [...cols]),
    statsRow('baseline (bare workflow)', base),
    statsRow(`subject (${SUBJECT.plugin}/${SUBJECT.action})`, subj),
    row('subject / baseline', ['', ratio('mean'), ratio('p50'), ratio('p95'), ratio('p99'), '', '']),
    row('subject - baseline', ['', ms(subj.mean - base.mean), ms(subj.p50 - base.p50), ms(subj.p95 - base.p95), ms(subj.p99 - base.p99), '', '']),
    '',
    `Plugin hosts: pid ${hosts.afterWarmup.join(', ') || 'none'} after the warm-up, pid ${hosts.afterRuns.join(', ') || 'none'} after the runs` +
      (hosts.afterWarmup.join() === hosts.afterRuns.join() ? ' (every measured run reused the warm host)' : ''),
    '',
    'Memory (MiB)',
    `  bench process RSS, idle before runs     ${memory.rssIdleMiB.toFixed(1).padStart(8)}`,
    `  bench process RSS, peak (sampled 50ms)  ${memory.rssPeakSampledMiB.toFixed(1).padStart(8)}`,
    `  bench process maxRSS (resourceUsage)    ${memory.maxRssMiB.toFixed(1).padStart(8)}`,
  ];
  if (memory.serverPeakMiB !== undefined) {
    lines.push(`  Temporal dev server peak RSS (VmHWM)    ${memory.serverPeakMiB.toFixed(1).padStart(8)}`);
  }
  lines.push('  (the bench process holds both workers, both clients and the benchmark driver)');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const interrupt = new AbortController();
  const onSignal = () => {
    progress('interrupted; cleaning up');
    interrupt.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const sampler = startRssSampler();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-'));
  // Undone in reverse order in `finally`, whatever step failed.
  const cleanups: Array<[string, () => Promise<void> | void]> = [['temp dir', () => rmSync(dataDir, { recursive: true, force: true })]];

  try {
    progress(`starting a headless, ephemeral Temporal dev server (data dir ${dataDir})`);
    const server: DevServer = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
    cleanups.push(['dev server', () => server.stop()]);

    // An empty env: the user's TEMPORAL_* variables (TLS, API key) must not reach our own server.
    const settings: Settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});

    // Our worker first: startWorker (runWorker) installs the process-wide Temporal Runtime (its logger), which
    // must happen before any other Worker is created, or the SDK installs a default one.
    progress('starting the synapse worker (bundles the workflow code)');
    const worker = await startWorker({
      settings,
      methods: ['task'], // the no-op action is a task; idle job/restapi pollers would only add noise
      log: (line) => progress(`[worker] ${line}`),
    });
    cleanups.push(['synapse worker', () => worker.stop()]);

    progress('starting the baseline worker');
    const bareConnection: NativeConnection = await connectNative(settings);
    cleanups.push(['baseline connection', () => bareConnection.close()]);
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(BENCH_DIR, 'bare-workflow.ts'),
      logger: quietLogger(),
    });
    const bareWorker = await Worker.create({
      connection: bareConnection,
      namespace: settings.temporal.namespace,
      taskQueue: BARE_TASK_QUEUE,
      workflowBundle: { code },
      activities: bareActivities,
    });
    const bareDone = bareWorker.run();
    cleanups.push([
      'baseline worker',
      async () => {
        if (bareWorker.getState() === 'RUNNING') bareWorker.shutdown();
        await bareDone;
      },
    ]);

    const runs = await RunsClient.connect(settings);
    cleanups.push(['runs client', () => runs.close()]);
    const bareClient: Client = await connectClient(settings);
    cleanups.push(['baseline client', () => bareClient.connection.close()]);

    const baseline: Subject = {
      async once() {
        const n = Math.floor(Math.random() * 1e9);
        const t0 = performance.now();
        const handle = await bareClient.workflow.start<typeof bareWorkflow>('bareWorkflow', {
          workflowId: `bench-bare-${randomUUID()}`,
          taskQueue: BARE_TASK_QUEUE,
          args: [n],
        });
        const result = await handle.result();
        const elapsed = performance.now() - t0;
        if (result !== n) throw new Error(`baseline run ${handle.workflowId} returned ${String(result)}, expected ${n}`);
        return elapsed;
      },
    };
    const subject: Subject = {
      async once() {
        const t0 = performance.now();
        const { runId } = await runs.start({ plugin: SUBJECT.plugin, action: SUBJECT.action });
        const state = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
        const elapsed = performance.now() - t0;
        if (state.status !== 'completed') throw new Error(`run ${runId} ended ${state.status}: ${state.error ?? ''}`);
        return elapsed;
      },
    };

    const rssIdle = process.memoryUsage.rss();
    const loadBefore = os.loadavg()[0] ?? NaN;
    const hosts: Hosts = { afterWarmup: [], afterRuns: [] };
    const [baseSamples, subjSamples] = (await measure([baseline, subject], options, interrupt.signal, hosts)) as [number[], number[]];
    hosts.afterRuns = pluginHostPids();
    if (pluginHostCount() === 0) throw new Error('no plugin host ran the subject: its code ran in the worker');

    const load: Load = { before: loadBefore, after: os.loadavg()[0] ?? NaN };
    const base = summarize(baseSamples);
    const subj = summarize(subjSamples);
    const serverPeakMiB = procPeakRssMiB(server.child.pid);
    const memory: MemoryReport = {
      rssPeakSampledMiB: mib(sampler.peak()),
      maxRssMiB: process.resourceUsage().maxRSS / 1024, // maxRSS is in KiB
      rssIdleMiB: mib(rssIdle),
      ...(serverPeakMiB !== undefined ? { serverPeakMiB } : {}),
    };

    if (options.json !== '-') process.stdout.write(`\n${formatTable(options, base, subj, memory, load, hosts)}\n`);
    if (options.json !== undefined) {
      const results = {
        benchmark: 'run-overhead',
        date: new Date().toISOString(),
        env: { node: process.version, cpus: os.cpus().length, platform: `${os.platform()}/${os.arch()}`, loadAverage1m: load },
        options: { runs: options.runs, warmup: options.warmup, block: options.block, pauseMs: options.pauseMs },
        unit: 'ms',
        baseline: base,
        subject: { ...subj, plugin: SUBJECT.plugin, action: SUBJECT.action },
        ratio: { mean: subj.mean / base.mean, p50: subj.p50 / base.p50, p95: subj.p95 / base.p95, p99: subj.p99 / base.p99 },
        memory,
        pluginHosts: hosts,
        samples: { baseline: baseSamples, subject: subjSamples },
      };
      const text = `${JSON.stringify(results, null, 2)}\n`;
      if (options.json === '-') process.stdout.write(text);
      else {
        writeFileSync(options.json, text);
        progress(`wrote ${options.json}`);
      }
    }
  } finally {
    sampler.stop();
    for (const [what, undo] of cleanups.reverse()) {
      try {
        await undo();
      } catch (err) {
        progress(`cleanup of ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

await main().catch((err: unknown) => {
  if (err instanceof Interrupted) {
    process.exitCode = 130;
    return;
  }
  if (err instanceof UsageError) {
    progress(`run-overhead: ${err.message} (see --help)`);
    process.exitCode = 2;
    return;
  }
  progress(`run-overhead failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});

/**
 * Tune benchmark: the wall time of a hyperparameter search through the tune workflow (a
 * parent run, a child workflow per trial running the trainer's train steps, the study in
 * Optuna behind local activities; a private ephemeral Temporal dev server and an in-process
 * worker) against Optuna's own `study.optimize(n_jobs=2)` on the same objective in the same
 * run (bench/tune_baseline.py): 20 trials of test/fixtures/plugins/tune-objective, 2 at a
 * time, TPE with the same seed, each trial `--epochs` epochs of `--epoch-ms` each.
 *
 *   node bin/run-ts.mjs bench/tune.ts [--trials 20] [--concurrency 2] [--epochs 3] [--epoch-ms 500] [--rounds 2] [--json out.json]
 *
 * The workflow's time is from `start` to the tune's result, minus nothing: it includes the
 * trials' prepare steps (a 12-image dataset, cached after the first), the best trial's
 * evaluation and the model's registration. The baseline's is optimize()'s wall time. Rounds
 * alternate which side goes first; a 2-trial tune before them warms up the workflow bundle,
 * the worker and the Optuna process (not timed). Prints the ratio, the overhead per trial,
 * and peak RSS of the bench process (worker + client), the worker's Optuna process and the
 * baseline process. See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { optunaProcess, toolsPython } from '../activities/tune-optuna.js';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import type { RunState } from '../contracts/run-state.js';
import type { TuneResult } from '../contracts/tune.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData } from '../platform/generate.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import { procPeakRssMiB } from './memory.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'tune-objective');
const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '3' },
    'epoch-ms': { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node bin/run-ts.mjs bench/tune.ts [--trials 20] [--concurrency 2] [--epochs 3] [--epoch-ms 500] [--rounds 2] [--json FILE]\n');
  process.exit(0);
}
const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
};
const trials = int('trials', values.trials, 1);
const concurrency = int('concurrency', values.concurrency, 1);
const epochs = int('epochs', values.epochs, 1);
const epochMs = int('epoch-ms', values['epoch-ms'], 0);
const rounds = int('rounds', values.rounds, 1);
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

function child(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (d: string) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} ${args[0]} exited with ${code}`))));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

delete process.env.DATABASE_URL;
delete process.env.SYNAPSE_TUNE_STORAGE;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-tune-'));
const rssPeak = { value: process.memoryUsage.rss() };
const sampler = setInterval(() => (rssPeak.value = Math.max(rssPeak.value, process.memoryUsage.rss())), 50);
sampler.unref();
const report: Record<string, unknown> = { trials, concurrency, epochs, epochMs, rounds, cpus: os.availableParallelism(), loadavg: os.loadavg()[0] };

try {
  const platform = await openDatabase({ dataDir });
  const data = await generateSampleData(platform, { count: 12, seed: 1, projectName: 'bench', dataDir });
  await platform.close();
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});
  const worker = await startWorker({ settings, methods: ['job'] });
  const runs = await RunsClient.connect(settings);
  const tune = async (name: string, n: number): Promise<{ seconds: number; result: TuneResult }> => {
    const started = performance.now();
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: {
        name,
        dataset: data.groundTruth.versionId,
        hyperparameters: { epochs, epoch_delay_ms: epochMs },
        search_space: { x: { type: 'uniform', low: -5, high: 5 }, y: { type: 'uniform', low: -3, high: 3 } },
        metric: 'score',
        mode: 'min',
        num_trials: n,
        max_concurrent_trials: concurrency,
        sampler: { type: 'tpe', seed: 1 },
      },
    });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    if (final.status !== 'completed') throw new Error(`tune ${runId} ${final.status}: ${final.error}`);
    return { seconds: (performance.now() - started) / 1000, result: final.result as TuneResult };
  };
  try {
    progress(`warm-up: a 2-trial tune (data dir ${dataDir})`);
    await tune('bench-warmup', 2);
    const workflowSeconds: number[] = [];
    const baselineSeconds: number[] = [];
    let baselinePeak = 0;
    const bests: { workflow: number[]; baseline: number[] } = { workflow: [], baseline: [] };
    for (let round = 0; round < rounds; round++) {
      const sides = round % 2 === 0 ? (['workflow', 'baseline'] as const) : (['baseline', 'workflow'] as const);
      for (const side of sides) {
        if (side === 'workflow') {
          progress(`round ${round + 1}: ${trials} trials through the tune workflow`);
          const { seconds, result } = await tune(`bench-${round}`, trials);
          workflowSeconds.push(seconds);
          bests.workflow.push(result.best.metric);
        } else {
          progress(`round ${round + 1}: ${trials} trials with Optuna's study.optimize(n_jobs=${concurrency})`);
          const out = await child(toolsPython(), [
            path.join(ROOT, 'bench', 'tune_baseline.py'),
            '--trials',
            String(trials),
            '--jobs',
            String(concurrency),
            '--epochs',
            String(epochs),
            '--epoch-seconds',
            String(epochMs / 1000),
            '--seed',
            '1',
            '--storage',
            `sqlite:///${path.join(dataDir, 'baseline.db')}`,
          ]);
          const line = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; best: number; peak_rss_mib: number };
          baselineSeconds.push(line.seconds);
          bests.baseline.push(line.best);
          baselinePeak = Math.max(baselinePeak, line.peak_rss_mib);
        }
      }
    }
    const optunaPeak = procPeakRssMiB(optunaProcess().child.pid);
    const ratio = median(workflowSeconds) / median(baselineSeconds);
    const overheadPerTrialMs = ((median(workflowSeconds) - median(baselineSeconds)) * 1000 * concurrency) / trials;
    Object.assign(report, {
      workflow: { seconds: workflowSeconds, median: median(workflowSeconds), best: bests.workflow },
      baseline: { seconds: baselineSeconds, median: median(baselineSeconds), best: bests.baseline },
      ratio,
      overheadPerTrialMs,
      memory: { benchProcessPeakMiB: rssPeak.value / (1024 * 1024), optunaProcessPeakMiB: optunaPeak, baselinePeakMiB: baselinePeak },
    });
    const ideal = (trials / concurrency) * epochs * (epochMs / 1000);
    process.stdout.write(
      `\n${trials} trials x ${epochs} epochs of ${epochMs} ms, ${concurrency} at a time (sleeping alone: ${ideal.toFixed(1)} s), ${rounds} rounds\n` +
        `  through the tune workflow        median ${median(workflowSeconds).toFixed(2)} s   (${workflowSeconds.map((s) => s.toFixed(2)).join(', ')})\n` +
        `  Optuna study.optimize(n_jobs=${concurrency})  median ${median(baselineSeconds).toFixed(2)} s   (${baselineSeconds.map((s) => s.toFixed(2)).join(', ')})\n` +
        `  ratio ${ratio.toFixed(3)}x   overhead ${overheadPerTrialMs.toFixed(0)} ms per trial (trial-seconds)\n` +
        `  best score: workflow ${bests.workflow.map((b) => b.toFixed(4)).join(', ')}; Optuna ${bests.baseline.map((b) => b.toFixed(4)).join(', ')}\n` +
        `  peak RSS: bench process (worker + client) ${(rssPeak.value / (1024 * 1024)).toFixed(0)} MiB, the worker's Optuna process ${optunaPeak?.toFixed(0) ?? '?'} MiB, the Optuna baseline ${baselinePeak.toFixed(0)} MiB\n`,
    );
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
  } finally {
    await runs.close();
    await worker.stop();
    await server.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

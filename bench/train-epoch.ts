/**
 * Training benchmark: the per-epoch time of a plugin trained through the train workflow
 * (an epoch activity per epoch: load the previous checkpoint, train, save to storage, record
 * the checkpoint; a private ephemeral Temporal dev server and an in-process worker) against the
 * same training loop run as a plain script on the same images in the same run:
 *
 * - train-image-classifier (PyTorch, through the Python runtime) vs bench/train-epoch-baseline.py,
 * - train-ts-example (TypeScript, in a plugin host beside the in-process worker) vs bench/train-epoch-baseline.ts.
 *
 *   node bin/run-ts.mjs bench/train-epoch.ts [--count 1000] [--epochs 6] [--rounds 2] [--only torch|ts] [--json out.json]
 *
 * Per-epoch time through the workflow is the time between consecutive `epoch_end` run events
 * (so it includes everything between two epochs: activity dispatch, plugin lookup, checkpoint
 * load and save, run store writes); the first epoch is left out of both sides (warm-up: Python
 * start, decoding the images). The baseline's epochs include a save of the model to a file.
 * See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { basePython } from '../activities/python-runtime.js';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData } from '../platform/generate.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import type { RunState } from '../contracts/run-state.js';
import type { TrainResult } from '../contracts/train.js';
import { procPeakRssMiB } from './memory.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    only: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node bin/run-ts.mjs bench/train-epoch.ts [--count N] [--epochs E] [--rounds R] [--only torch|ts] [--json FILE]\n');
  process.exit(0);
}
const count = Number(values.count);
const epochs = Number(values.epochs);
if (!Number.isInteger(count) || count < 10 || count > 100_000) throw new Error('--count must be an integer from 10 to 100000');
if (!Number.isInteger(epochs) || epochs < 3) throw new Error('--epochs must be an integer >= 3 (the first epoch is warm-up)');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
let pyPid: number | undefined;
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

interface EpochLine {
  epoch: number;
  seconds: number;
  val_accuracy?: number | null;
}

function child(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (d: string) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} ${args[0]} exited with ${code}`))));
  });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

delete process.env.DATABASE_URL;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-train-'));
const rssPeak = { value: process.memoryUsage.rss() };
const sampler = setInterval(() => (rssPeak.value = Math.max(rssPeak.value, process.memoryUsage.rss())), 50);
sampler.unref();
const report: Record<string, unknown> = { count, epochs, cpus: os.availableParallelism(), loadavg: os.loadavg()[0] };

try {
  progress(`generating ${count} images (data dir ${dataDir})`);
  const platform = await openDatabase({ dataDir });
  const data = await generateSampleData(platform, { count, seed: 1, projectName: 'bench', dataDir });
  await platform.close();
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});
  const worker = await startWorker({ settings, methods: ['job'] });
  const runs = await RunsClient.connect(settings);
  const datasetIndex = async (): Promise<string> => {
    const { readdirSync, existsSync } = await import('node:fs');
    const root = path.join(dataDir, 'cache', 'datasets');
    if (!existsSync(root) || readdirSync(root).length === 0) {
      // Nothing downloaded yet: a one-epoch run fills the cache (not timed).
      await runs.temporal.workflow
        .getHandle(
          (
            await runs.start({
              plugin: 'train-ts-example',
              action: 'train',
              params: { name: 'bench-cache', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 1 } },
            })
          ).runId,
        )
        .result();
    }
    return path.join(root, readdirSync(root)[0]!, 'index.json');
  };
  try {
    const cases = [
      { key: 'torch', plugin: 'train-image-classifier' },
      { key: 'ts', plugin: 'train-ts-example' },
    ].filter((c) => !values.only || values.only === c.key);
    for (const c of cases) {
      const workflowEpochs: number[] = [];
      const baselineEpochs: number[] = [];
      let sameModel = true;
      let accuracy: unknown;
      let pyPeak: number | undefined;
      let baselinePeak = 0;
      // A TypeScript trainer's hooks run in plugin hosts (their pids in `plugin_host` events): their memory is the trainer's, not the bench process's.
      const hostPids = new Set<number>();
      pyPid = undefined;
      // Rounds alternate which side goes first, so both see the same machine (other load, caches).
      for (let round = 0; round < rounds; round++) {
        const sides = round % 2 === 0 ? (['workflow', 'baseline'] as const) : (['baseline', 'workflow'] as const);
        let finalEpochs: RunState['epochs'] = [];
        let baselineLines: EpochLine[] = [];
        for (const side of sides) {
          if (side === 'workflow') {
            progress(`${c.plugin}: ${epochs} epochs through the workflow (round ${round + 1})`);
            const { runId } = await runs.start({
              plugin: c.plugin,
              action: 'train',
              params: { name: `bench-${c.key}-${round}`, dataset: data.groundTruth.versionId, hyperparameters: { epochs, seed: 1 } },
            });
            const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
            if (final.status !== 'completed') throw new Error(`${c.plugin} run ${final.status}: ${final.error}`);
            const events = await runs.events(runId, 0, 100_000);
            const ends = events.filter((e) => e.data.kind === 'event' && e.data.event === 'epoch_end').map((e) => Date.parse(e.at));
            workflowEpochs.push(...ends.slice(1).map((t, i) => (t - ends[i]!) / 1000));
            const pyStart = events.find((e) => e.data.kind === 'event' && e.data.event === 'python_started');
            if (pyStart) pyPid = Number((pyStart.data as unknown as { data: { pid: number } }).data.pid);
            for (const e of events) if (e.data.kind === 'event' && e.data.event === 'plugin_host') hostPids.add(Number(e.data.data.pid));
            finalEpochs = final.epochs ?? [];
            accuracy = (final.result as TrainResult).metrics.accuracy;
          } else {
            // The cache the prepare step filled (the first round's baseline waits for it).
            const indexFile = await datasetIndex();
            progress(`${c.plugin}: the same loop as a plain script (round ${round + 1})`);
            const out =
              c.key === 'torch'
                ? await child(
                    basePython(),
                    [path.join(ROOT, 'bench', 'train-epoch-baseline.py'), '--index', indexFile, '--epochs', String(epochs), '--seed', '1'],
                    process.env,
                  )
                : await child(
                    process.execPath,
                    [path.join(ROOT, 'bin', 'run-ts.mjs'), 'bench/train-epoch-baseline.ts', '--index', indexFile, '--epochs', String(epochs), '--seed', '1'],
                    process.env,
                  );
            const baseline = JSON.parse(out.trim().split('\n').at(-1)!) as { epochs: EpochLine[]; peak_rss_mib: number };
            baselineLines = baseline.epochs;
            baselineEpochs.push(...baseline.epochs.slice(1).map((e) => e.seconds));
            baselinePeak = Math.max(baselinePeak, baseline.peak_rss_mib);
          }
        }
        sameModel &&=
          finalEpochs.length === baselineLines.length &&
          finalEpochs.every((e, i) => Math.abs(Number(e.metrics.val_accuracy) - Number(baselineLines[i]?.val_accuracy)) < 1e-6);
      }
      if (pyPid !== undefined) pyPeak = procPeakRssMiB(pyPid);
      // Each host's own peak (they are warm between steps, so still running here); the largest is what one trainer took.
      const hostPeaks = [...hostPids].map((pid) => procPeakRssMiB(pid)).filter((m): m is number => m !== undefined);
      const hostPeak = hostPeaks.length > 0 ? Math.max(...hostPeaks) : undefined;
      const row = {
        workflow: { meanSeconds: mean(workflowEpochs), medianSeconds: median(workflowEpochs), epochs: workflowEpochs },
        baseline: { meanSeconds: mean(baselineEpochs), medianSeconds: median(baselineEpochs), epochs: baselineEpochs },
        ratioOfMedians: median(workflowEpochs) / median(baselineEpochs),
        ratioOfMeans: mean(workflowEpochs) / mean(baselineEpochs),
        overheadMsPerEpoch: (median(workflowEpochs) - median(baselineEpochs)) * 1000,
        sameValAccuracyPerEpoch: sameModel,
        accuracy,
        memory: {
          baselinePeakMiB: baselinePeak,
          ...(pyPeak !== undefined ? { pythonProcessPeakMiB: pyPeak } : {}),
          ...(hostPeak !== undefined ? { pluginHostPeakMiB: hostPeak, pluginHosts: hostPeaks.length } : {}),
        },
      };
      report[c.key] = row;
      process.stdout.write(
        `\n${c.plugin} (${count} images, ${epochs} epochs x ${rounds} rounds, epoch 1 of each run left out: ${workflowEpochs.length} epochs a side)\n` +
          `  through the workflow  median ${row.workflow.medianSeconds.toFixed(3)} s/epoch  mean ${row.workflow.meanSeconds.toFixed(3)} s\n` +
          `  plain script          median ${row.baseline.medianSeconds.toFixed(3)} s/epoch  mean ${row.baseline.meanSeconds.toFixed(3)} s\n` +
          `  ratio ${row.ratioOfMedians.toFixed(3)}x (medians), ${row.ratioOfMeans.toFixed(3)}x (means)   overhead ${row.overheadMsPerEpoch.toFixed(1)} ms/epoch\n` +
          `  same val accuracy every epoch: ${sameModel ? 'yes' : 'NO'}   final test accuracy ${Number(accuracy).toFixed(4)}\n` +
          `  peak RSS: plain script ${baselinePeak.toFixed(0)} MiB` +
          (pyPeak !== undefined ? `, the workflow's Python process ${pyPeak.toFixed(0)} MiB` : '') +
          (hostPeak !== undefined ? `, the workflow's plugin host ${hostPeak.toFixed(0)} MiB (largest of ${hostPeaks.length})` : '') +
          '\n',
      );
    }
    report.benchProcessPeakRssMiB = rssPeak.value / (1024 * 1024);
    process.stdout.write(`\nbench process (worker + client + driver) peak RSS ${(rssPeak.value / (1024 * 1024)).toFixed(0)} MiB\n`);
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
  } finally {
    await runs.close();
    await worker.stop();
    await server.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

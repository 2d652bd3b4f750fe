/**
 * Export benchmark: the export-coco plugin on a generated ground-truth version, run through
 * the real export workflow (RunsClient.start -> result, an in-process worker from startWorker,
 * a private ephemeral Temporal dev server), against a plain single-process script that writes
 * the same COCO `instances_default.json` from the same database (bench/export-coco-baseline.ts, run
 * in a child process so that its peak memory is its own).
 *
 *   node bin/run-ts.mjs bench/export-coco.ts [--count 100000] [--baseline-page-size 1000] [--baseline-item-files] [--json out.json]
 *
 * The data (N data units, tasks, assignments and ground-truth events, no images) is made by
 * `synapse dataset generate --no-images` in a child process, in a temp data dir, on the
 * embedded SQLite database. See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings, type Settings } from '../client/settings.js';
import { openDatabase } from '../platform/db.js';
import { getStorage } from '../platform/repositories/storages.js';
import { openStorage } from '../storage/index.js';
import { LocalStorage } from '../storage/local.js';
import { startDevServer, type DevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import { runStateQuery } from '../contracts/run-messages.js';
import type { RunState } from '../contracts/run-state.js';
import type { BaselineResult } from './export-coco-baseline.js';
import { procPeakRssMiB } from './memory.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXPORT_NAME = 'bench_coco';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    'baseline-page-size': { type: 'string', default: '1000' },
    'baseline-item-files': { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    'usage: node bin/run-ts.mjs bench/export-coco.ts [--count N] [--baseline-page-size N] [--baseline-item-files] [--json FILE]\n' +
      '  --count N               items in the generated ground-truth version (default 100000, at most 1000000)\n' +
      '  --baseline-page-size N  events per page of the baseline script (default 1000)\n' +
      '  --baseline-item-files   the baseline also writes json/<stem>.json per item, as the plugin does\n' +
      '  --json FILE             also write the results as JSON\n',
  );
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
  process.stderr.write(`export-coco: --count must be an integer from 1 to 1000000 (got "${values.count}")\n`);
  process.exit(2);
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const mib = (bytes: number): number => bytes / (1024 * 1024);

/**
 * Samples this process's RSS every `intervalMs`, keeping the peak of two phases: before and
 * after `split()` (the pages, then finalize).
 */
function startRssSampler(intervalMs = 50): { peak(): number; peaks(): [number, number]; split(): void; stop(): void } {
  const peaks: [number, number] = [process.memoryUsage.rss(), 0];
  let phase = 0;
  const sample = () => (peaks[phase] = Math.max(peaks[phase]!, process.memoryUsage.rss()));
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    peak: () => (sample(), Math.max(...peaks)),
    peaks: () => (sample(), [...peaks] as [number, number]),
    split: () => {
      sample();
      phase = 1;
    },
    stop: () => clearInterval(timer),
  };
}

/** Runs a TypeScript file of this project in a child node; resolves to its stdout. */
function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`${args.slice(0, 2).join(' ')} exited with ${code ?? signal}`))));
  });
}

/** sha256 of a file and how many images and annotations its COCO JSON has, read as a stream. */
async function scanCoco(file: string): Promise<{ sha256: string; bytes: number; images: number; annotations: number }> {
  const hash = createHash('sha256');
  let images = 0;
  let annotations = 0;
  let tail = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    hash.update(chunk as string);
    const text = tail + (chunk as string);
    // Every image has one "file_name", every annotation one "iscrowd"; keep a tail for keys cut in two.
    images += text.split('"file_name":').length - 1;
    annotations += text.split('"iscrowd":').length - 1;
    const keep = 12;
    tail = text.slice(-keep);
    images -= tail.split('"file_name":').length - 1;
    annotations -= tail.split('"iscrowd":').length - 1;
  }
  images += tail.split('"file_name":').length - 1;
  annotations += tail.split('"iscrowd":').length - 1;
  return { sha256: hash.digest('hex'), bytes: statSync(file).size, images, annotations };
}

// ---------------------------------------------------------------------------------------

// The embedded SQLite database, in the temp data dir: a DATABASE_URL would point the worker
// and the run store elsewhere.
delete process.env.DATABASE_URL;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-coco-'));
const cleanups: Array<[string, () => Promise<void> | void]> = [['temp dir', () => rmSync(dataDir, { recursive: true, force: true })]];
const childEnv: NodeJS.ProcessEnv = { ...process.env, SYNAPSE_DATA_DIR: dataDir };
const onSignal = () => {
  progress('interrupted; cleaning up');
  process.exitCode = 130;
  void cleanup().then(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

async function cleanup(): Promise<void> {
  for (const [what, undo] of cleanups.splice(0).reverse()) {
    try {
      await undo();
    } catch (err) {
      progress(`cleanup of ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}

try {
  const loadStart = os.loadavg()[0] ?? NaN;
  progress(`generating ${count.toLocaleString('en-US')} items without images (data dir ${dataDir})`);
  const genOut = await runChild(['bin/synapse.mjs', '--data-dir', dataDir, 'dataset', 'generate', '--count', String(count), '--no-images', '--json'], childEnv);
  const generated = JSON.parse(genOut) as { groundTruth: { versionId: number }; seconds: number; count: number };
  const versionId = generated.groundTruth.versionId;
  progress(`generated in ${generated.seconds.toFixed(1)} s; ground-truth version ${versionId}`);

  progress('starting a headless, ephemeral Temporal dev server');
  const server: DevServer = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  cleanups.push(['dev server', () => server.stop()]);
  const settings: Settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});

  progress('starting the synapse worker (job queue; bundles the workflow code)');
  const worker = await startWorker({ settings, methods: ['job'], log: (line) => progress(`[worker] ${line}`) });
  cleanups.push(['synapse worker', () => worker.stop()]);
  const runs = await RunsClient.connect(settings);
  cleanups.push(['runs client', () => runs.close()]);

  // Baseline: a child process, timed from spawn to exit (node start-up included) and by itself.
  progress('baseline: plain script in a child process');
  const baselineOut = path.join(dataDir, 'baseline-export');
  let t0 = performance.now();
  const baselineLine = await runChild(
    [
      'bin/run-ts.mjs',
      'bench/export-coco-baseline.ts',
      '--data-dir',
      dataDir,
      '--version',
      String(versionId),
      '--name',
      EXPORT_NAME,
      '--out',
      baselineOut,
      '--page-size',
      values['baseline-page-size'],
      ...(values['baseline-item-files'] ? ['--item-files'] : []),
    ],
    childEnv,
  );
  const baselineWall = (performance.now() - t0) / 1000;
  const baseline = JSON.parse(baselineLine.trim().split('\n').pop() ?? '{}') as BaselineResult & { maxRssMiB: number };

  // Subject: the plugin through the workflow, with this process's RSS sampled throughout.
  progress('subject: export-coco through the export workflow');
  const rssIdle = process.memoryUsage.rss();
  const sampler = startRssSampler(50);
  t0 = performance.now();
  const { runId } = await runs.start({
    plugin: 'export-coco',
    action: 'export',
    params: { name: EXPORT_NAME, storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: versionId } },
  });
  const handle = runs.temporal.workflow.getHandle(runId);
  // Which phase the peak is in: the run's step, queried every second, tells when finalize starts.
  let finalizeAt: number | undefined;
  let finished = false;
  const watch = (async () => {
    while (!finished && finalizeAt === undefined) {
      await sleep(1000);
      if (finished) break;
      try {
        const s = await handle.query(runStateQuery);
        if (s.step === 'finalize') {
          finalizeAt = performance.now();
          sampler.split();
        }
      } catch {
        // the run may have just ended; the result below says how
      }
    }
  })();
  const state = (await handle.result()) as RunState;
  const subjectWall = (performance.now() - t0) / 1000;
  finished = true;
  await watch;
  const rssPeak = sampler.peak();
  const [rssPeakPages, rssPeakFinalize] = sampler.peaks();
  sampler.stop();
  if (state.status !== 'completed') throw new Error(`run ${runId} ended ${state.status}: ${state.error ?? ''}`);
  const summary = state.result as { export_path: string; total: number; success: number; failed: number };
  const loadEnd = os.loadavg()[0] ?? NaN;

  // Where the plugin wrote: the default storage (local, under the data dir).
  const platform = await openDatabase({ dataDir });
  let subjectFile: string;
  try {
    const record = await getStorage(platform.db, 'default');
    const storage = openStorage(record.config, { dataDir, name: record.name });
    if (!(storage instanceof LocalStorage)) throw new Error('the default storage is not local');
    subjectFile = path.join(storage.root, summary.export_path, 'annotations', 'instances_default.json');
  } finally {
    await platform.close();
  }
  const [subj, base] = [await scanCoco(subjectFile), await scanCoco(baseline.file)];
  const agree = subj.images === base.images && subj.annotations === base.annotations;
  const identical = subj.sha256 === base.sha256;
  const serverPeakMiB = procPeakRssMiB(server.child.pid);

  const rate = (s: number) => Math.round(count / s).toLocaleString('en-US');
  const row = (label: string, s: number, peak: string) => `${label.padEnd(40)}${s.toFixed(2).padStart(10)} s${rate(s).padStart(12)} items/s   ${peak}`;
  const lines = [
    `Export COCO: ${count.toLocaleString('en-US')} ground-truth items (no images), SQLite; generated in ${generated.seconds.toFixed(1)} s`,
    `node ${process.version}, ${os.cpus().length} CPU(s), ${os.platform()}/${os.arch()}; 1-min load average ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end`,
    '',
    row(
      'subject (export-coco, workflow)',
      subjectWall,
      `peak RSS ${mib(rssPeak).toFixed(0)} MiB (bench process, sampled 50 ms; ${mib(rssIdle).toFixed(0)} MiB before)`,
    ),
    finalizeAt !== undefined
      ? `  worker peak RSS by phase: pages ${mib(rssPeakPages).toFixed(0)} MiB, finalize ${mib(rssPeakFinalize).toFixed(0)} MiB (finalize took ${((t0 + subjectWall * 1000 - finalizeAt) / 1000).toFixed(1)} s)`
      : '  (finalize was not seen by the 1 s step query: no split of the peak by phase)',
    row('baseline (plain script, child wall)', baselineWall, `maxRSS ${baseline.maxRssMiB.toFixed(0)} MiB (child process)`),
    row('baseline (its own time, no start-up)', baseline.seconds, ''),
    `subject / baseline: ${(subjectWall / baselineWall).toFixed(2)}x (child wall), ${(subjectWall / baseline.seconds).toFixed(2)}x (own time)`,
    serverPeakMiB !== undefined ? `Temporal dev server peak RSS (VmHWM): ${serverPeakMiB.toFixed(0)} MiB` : '',
    '',
    `outputs: subject ${subj.images.toLocaleString('en-US')} images / ${subj.annotations.toLocaleString('en-US')} annotations (${(subj.bytes / 1e6).toFixed(1)} MB), ` +
      `baseline ${base.images.toLocaleString('en-US')} / ${base.annotations.toLocaleString('en-US')} (${(base.bytes / 1e6).toFixed(1)} MB): ` +
      `${agree ? 'counts agree' : 'COUNTS DIFFER'}, ${identical ? 'byte-identical' : 'bytes differ'}`,
    `subject run ${runId}: ${summary.success.toLocaleString('en-US')} exported, ${summary.failed} failed, to ${summary.export_path}` +
      (values['baseline-item-files'] ? '' : '; the subject also writes one json/<stem>.json per item, the baseline does not (--baseline-item-files)'),
  ];
  process.stdout.write(`\n${lines.filter((l, i) => l !== '' || i < lines.length - 1).join('\n')}\n`);
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify(
        {
          benchmark: 'export-coco',
          date: new Date().toISOString(),
          env: { node: process.version, cpus: os.cpus().length, loadAverage1m: { start: loadStart, end: loadEnd } },
          count,
          generateSeconds: generated.seconds,
          subject: {
            seconds: subjectWall,
            rssPeakMiB: mib(rssPeak),
            ...(finalizeAt !== undefined ? { rssPeakPagesMiB: mib(rssPeakPages), rssPeakFinalizeMiB: mib(rssPeakFinalize) } : {}),
            rssIdleMiB: mib(rssIdle),
            runId,
            summary,
            output: subj,
          },
          baseline: {
            wallSeconds: baselineWall,
            seconds: baseline.seconds,
            maxRssMiB: baseline.maxRssMiB,
            itemFiles: values['baseline-item-files'],
            output: base,
          },
          ratio: { wall: subjectWall / baselineWall, own: subjectWall / baseline.seconds },
          serverPeakMiB,
          agree,
          identical,
        },
        null,
        2,
      )}\n`,
    );
    progress(`wrote ${values.json}`);
  }
  if (!agree) process.exitCode = 1;
} catch (err) {
  progress(`export-coco failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

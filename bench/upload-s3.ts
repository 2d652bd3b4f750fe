/**
 * Upload benchmark: N files of mixed sizes uploaded to an S3-compatible server (a private
 * versitygw) twice, in the same run, to two buckets of the same server:
 *
 * - baseline: `aws s3 cp --recursive` (Debian's awscli, /usr/bin/aws) of the folder;
 * - subject: the `upload-files` plugin's `upload` action through RunsClient.start (discover,
 *   batches of 100 units, 4 in flight with 8 files each, data units registered in the
 *   embedded SQLite database, finalize), an in-process worker, a private Temporal dev server.
 *
 *   node bin/run-ts.mjs bench/upload-s3.ts [--count 10000] [--large 20] [--json out.json]
 *
 * Prints wall time, files/s and MiB/s of each, the ratio subject/baseline, and peak memory:
 * this process's RSS sampled every 50 ms during the subject (it holds the worker, the client
 * and the driver: an upper bound for a worker) and the aws process's VmHWM. See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { UploadSummary } from '../activities/upload.js';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { openDatabase } from '../platform/db.js';
import { createDataCollection } from '../platform/repositories/collections.js';
import { createStorage } from '../platform/repositories/storages.js';
import { openStorage, type S3Storage, type StorageConfig } from '../storage/index.js';
import { startS3Server } from '../test/servers/s3.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import type { RunState } from '../contracts/run-state.js';
import { procPeakRssMiB } from './memory.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    large: { type: 'string', default: '20' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    'usage: node bin/run-ts.mjs bench/upload-s3.ts [--count N] [--large N] [--json FILE]\n' +
      '  --count N   files in all (default 10000): 90% 1-32 KiB, the rest 64-512 KiB but --large of 6-12 MiB (multipart)\n' +
      '  --large N   files of 6-12 MiB among them (default 20)\n' +
      '  --json FILE also write the results as JSON\n',
  );
  process.exit(0);
}
const count = Number(values.count);
const large = Number(values.large);
if (!Number.isInteger(count) || count < 10 || count > 200_000 || !Number.isInteger(large) || large < 0 || large > count / 10) {
  process.stderr.write('upload-s3: --count must be 10..200000 and --large 0..count/10\n');
  process.exit(2);
}
const AWS = '/usr/bin/aws';
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const mib = (bytes: number): number => bytes / (1024 * 1024);

/** Writes the files: `<root>/file/d<k>/f<i>.bin`, sizes from a fixed mix. */
function makeFiles(root: string): number {
  let bytes = 0;
  const small = Math.floor(count * 0.9);
  for (let i = 0; i < count; i++) {
    let size: number;
    if (i < large) size = (6 + (i % 7)) * 1024 * 1024;
    else if (i < small) size = 1024 + ((i * 7919) % (31 * 1024));
    else size = 64 * 1024 + ((i * 104729) % (448 * 1024));
    const dir = path.join(root, 'file', `d${String(i % 100).padStart(3, '0')}`);
    if (i < 100) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${String(i).padStart(6, '0')}.bin`), randomBytes(size));
    bytes += size;
  }
  return bytes;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; peakMiB: number | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peak: number | undefined;
    // VmHWM is gone once the process exits: read it while it runs.
    const timer = setInterval(() => {
      const now = procPeakRssMiB(child.pid);
      if (now !== undefined) peak = Math.max(peak ?? 0, now);
    }, 100);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stderr, peakMiB: peak });
    });
  });
}

async function countObjects(storage: S3Storage, prefix = ''): Promise<number> {
  let n = 0;
  for await (const _ of storage.list(prefix)) n++;
  return n;
}

delete process.env.DATABASE_URL;
const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-upload-'));
const cleanups: Array<() => Promise<void> | void> = [() => rmSync(work, { recursive: true, force: true })];
async function cleanup(): Promise<void> {
  for (const undo of cleanups.splice(0).reverse()) {
    try {
      await undo();
    } catch (err) {
      progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const loadStart = os.loadavg()[0] ?? NaN;
  const source = path.join(work, 'source');
  progress(`writing ${count} files (${large} of 6-12 MiB) under ${source}`);
  const totalBytes = makeFiles(source);
  progress(`${mib(totalBytes).toFixed(0)} MiB written`);

  progress('starting versitygw');
  const s3 = await startS3Server({ log: progress });
  cleanups.push(() => s3.stop());
  process.env.BENCH_S3_ID = s3.accessKeyId;
  process.env.BENCH_S3_SECRET = s3.secretAccessKey;
  const config = (bucket: string): StorageConfig => ({
    provider: 's3',
    bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { source: 'env', accessKeyIdEnv: 'BENCH_S3_ID', secretAccessKeyEnv: 'BENCH_S3_SECRET' },
  });
  const dataDir = path.join(work, 'data');
  mkdirSync(dataDir);
  const baselineBucket = openStorage(config('baseline'), { dataDir, name: 'baseline' }) as S3Storage;
  const subjectBucket = openStorage(config('subject'), { dataDir, name: 'subject' }) as S3Storage;
  cleanups.push(
    () => baselineBucket.close(),
    () => subjectBucket.close(),
  );
  await baselineBucket.ensureBucket();
  await subjectBucket.ensureBucket();

  // Baseline: aws s3 cp --recursive, credentials in the environment, path-style from a
  // config file in a temp HOME (nothing of the user's ~/.aws is read).
  const home = path.join(work, 'home');
  mkdirSync(path.join(home, '.aws'), { recursive: true });
  writeFileSync(path.join(home, '.aws', 'config'), '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
  const awsEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: path.join(home, '.aws', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, '.aws', 'credentials'),
  };
  const version = await run(AWS, ['--version'], awsEnv);
  progress(`baseline: ${AWS} s3 cp --recursive (${version.code === 0 ? 'ok' : version.stderr.trim()})`);
  let t0 = performance.now();
  const aws = await run(
    AWS,
    ['s3', 'cp', '--recursive', '--only-show-errors', '--no-progress', '--endpoint-url', s3.endpoint, path.join(source, 'file'), 's3://baseline/'],
    awsEnv,
  );
  const baselineSec = (performance.now() - t0) / 1000;
  if (aws.code !== 0) throw new Error(`aws s3 cp exited with ${aws.code}: ${aws.stderr.slice(-2000)}`);
  const baselineObjects = await countObjects(baselineBucket);
  progress(`baseline: ${baselineSec.toFixed(1)} s, ${baselineObjects} objects`);

  progress('starting a headless, ephemeral Temporal dev server and the worker');
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  cleanups.push(() => server.stop());
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench' }, {});
  const platform = await openDatabase({ dataDir });
  await createStorage(platform.db, { name: 'subject', config: config('subject') });
  await createDataCollection(platform.db, { name: 'bench', files: [{ name: 'file', required: true }] });
  await platform.close();
  const worker = await startWorker({ settings, methods: ['job'], log: (line) => progress(`[worker] ${line}`) });
  cleanups.push(() => worker.stop());
  const runs = await RunsClient.connect(settings);
  cleanups.push(() => runs.close());

  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  progress('subject: upload-files upload through the workflow');
  t0 = performance.now();
  const { runId } = await runs.start({
    plugin: 'upload-files',
    action: 'upload',
    params: { name: 'bench', path: source, storage: 'subject', data_collection: 'bench', max_file_size_mb: 5 },
  });
  const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
  const subjectSec = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (final.status !== 'completed') throw new Error(`the upload run ended ${final.status}: ${final.error ?? ''}`);
  const summary = final.result as UploadSummary;
  const subjectObjects = await countObjects(subjectBucket, 'uploads/');
  progress(`subject: ${subjectSec.toFixed(1)} s, ${subjectObjects} objects, ${summary.data_units_registered} data units`);

  const results = {
    files: count,
    large_files: large,
    mib: Number(mib(totalBytes).toFixed(1)),
    baseline: {
      seconds: Number(baselineSec.toFixed(2)),
      objects: baselineObjects,
      files_per_s: Number((count / baselineSec).toFixed(1)),
      mib_per_s: Number((mib(totalBytes) / baselineSec).toFixed(1)),
      peak_rss_mib: aws.peakMiB === undefined ? null : Number(aws.peakMiB.toFixed(0)),
    },
    subject: {
      seconds: Number(subjectSec.toFixed(2)),
      objects: subjectObjects,
      data_units: summary.data_units_registered,
      files_per_s: Number((count / subjectSec).toFixed(1)),
      mib_per_s: Number((mib(totalBytes) / subjectSec).toFixed(1)),
      peak_rss_mib: Number(mib(peakRss).toFixed(0)),
      rss_before_mib: Number(mib(rssBefore).toFixed(0)),
    },
    ratio_time_subject_over_baseline: Number((subjectSec / baselineSec).toFixed(2)),
    temporal_server_peak_rss_mib: procPeakRssMiB(server.pid) ?? null,
    load_1min: [Number(loadStart.toFixed(2)), Number((os.loadavg()[0] ?? NaN).toFixed(2))],
    cpus: os.cpus().length,
  };
  const ok = baselineObjects === count && subjectObjects === count && summary.data_units_registered === count;
  process.stdout.write(
    [
      `upload bench: ${count} files, ${results.mib} MiB (${large} of 6-12 MiB), versitygw on loopback, ${results.cpus} CPUs, load ${results.load_1min.join(' -> ')}`,
      `  baseline aws s3 cp --recursive : ${results.baseline.seconds} s  ${results.baseline.files_per_s} files/s  ${results.baseline.mib_per_s} MiB/s  peak RSS ${results.baseline.peak_rss_mib ?? '?'} MiB`,
      `  subject upload-files workflow   : ${results.subject.seconds} s  ${results.subject.files_per_s} files/s  ${results.subject.mib_per_s} MiB/s  peak RSS ${results.subject.peak_rss_mib} MiB (bench process; ${results.subject.rss_before_mib} before)`,
      `  subject / baseline (time)       : ${results.ratio_time_subject_over_baseline}x`,
      `  objects: baseline ${baselineObjects}, subject ${subjectObjects}; data units ${summary.data_units_registered}${ok ? '' : '  <-- MISMATCH'}`,
      '',
    ].join('\n'),
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
  if (!ok) process.exitCode = 1;
} catch (err) {
  progress(`upload bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

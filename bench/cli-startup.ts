/**
 * CLI start-up benchmark: how long `synapse` takes for three everyday commands, against
 * `node -e 0` (the floor: starting Node itself) measured in the same run, so the ratios mean
 * the same on a busy or a quiet machine.
 *
 *   node bin/run-ts.mjs bench/cli-startup.ts [--runs 5] [--bin path/to/synapse.mjs] [--json FILE|-]
 *
 * The commands: `synapse --help` (commander only), `synapse run status <id>` of a real,
 * completed run (a headless dev server and an in-process worker are started for it, and the
 * worker is stopped before measuring so that it takes no CPU), and `synapse plugin list`
 * (reads the plugin folders). Each round runs the four commands once, in turn, so they all
 * see the same load; the figures are medians over the rounds. `--bin` measures another
 * checkout (e.g. a `git worktree` of an earlier commit) against the same server and run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  /** Rounds; each runs every command once. */
  runs: number;
  /** The `synapse.mjs` to measure. */
  bin: string;
  /** File for the JSON results; `-` prints them to stdout instead of the table. */
  json?: string;
}

interface Row {
  command: string;
  /** Median wall time in ms, from spawn to exit. */
  medianMs: number;
  /** Median over the median of `node -e 0`. */
  ratio: number;
  samplesMs: number[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string' }, bin: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node bin/run-ts.mjs bench/cli-startup.ts [--runs N] [--bin FILE] [--json FILE|-]\n' +
        '  --runs N     rounds, each running every command once (default 5)\n' +
        "  --bin FILE   the synapse.mjs to measure (default: this checkout's bin/synapse.mjs)\n" +
        '  --json FILE  also write the results as JSON (`-`: JSON to stdout instead of the table)\n',
    );
    process.exit(0);
  }
  const runs = values.runs === undefined ? 5 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer (got "${values.runs}")`);
  return { runs, bin: path.resolve(values.bin ?? path.join(ROOT, 'bin', 'synapse.mjs')), ...(values.json !== undefined ? { json: values.json } : {}) };
}

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Runs one command to its end; returns its wall time in ms, and fails loudly on a non-zero exit. */
function timeCommand(args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env, cwd: ROOT, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited with ${result.status}:\n${result.stdout}${result.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-cli-'));
  const say = (line: string) => process.stderr.write(line + '\n');
  say(`starting a headless dev server and a worker in ${dataDir}...`);
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true });
  try {
    const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench-cli' }, {});
    // One real run, completed, for `run status`; the worker stops before anything is measured.
    const worker = await startWorker({ settings });
    let runId: string;
    const runs = await RunsClient.connect(settings);
    try {
      runId = (await runs.start({ plugin: 'noop', action: 'validation', params: {} })).runId;
      await runs.temporal.workflow.getHandle(runId).result();
    } finally {
      await runs.close();
      await worker.stop();
    }
    const env = { ...process.env, SYNAPSE_DATA_DIR: dataDir, TEMPORAL_ADDRESS: server.address, SYNAPSE_TASK_QUEUE_PREFIX: 'bench-cli' };
    const commands: { name: string; args: string[] }[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      { name: 'synapse --help', args: [options.bin, '--help'] },
      { name: 'synapse run status <id>', args: [options.bin, 'run', 'status', runId] },
      { name: 'synapse plugin list', args: [options.bin, 'plugin', 'list'] },
    ];
    // One unmeasured round: the page cache and tsx's transform cache start warm for everyone.
    for (const c of commands) timeCommand(c.args, env);
    const samples = commands.map(() => [] as number[]);
    for (let round = 0; round < options.runs; round++) {
      commands.forEach((c, i) => samples[i]!.push(timeCommand(c.args, env)));
      say(`round ${round + 1}/${options.runs}: ${commands.map((c, i) => `${c.name} ${Math.round(samples[i]!.at(-1)!)} ms`).join(', ')}`);
    }
    const floor = median(samples[0]!);
    const rows: Row[] = commands.map((c, i) => ({
      command: c.name,
      medianMs: median(samples[i]!),
      ratio: median(samples[i]!) / floor,
      samplesMs: samples[i]!,
    }));
    const report = { bin: options.bin, runs: options.runs, loadAverage: os.loadavg(), cpus: os.cpus().length, rows };
    if (options.json !== undefined && options.json !== '-') writeFileSync(options.json, JSON.stringify(report, null, 2));
    if (options.json === '-') {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      `${options.bin}: median of ${options.runs} runs (load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, ${os.cpus().length} CPUs)\n`,
    );
    for (const r of rows) process.stdout.write(`  ${r.command.padEnd(26)} ${`${Math.round(r.medianMs)} ms`.padStart(8)}  ${r.ratio.toFixed(2)}x node -e 0\n`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();

/** Shared test fixtures: isolated settings per test file, workers in-process or as real processes, the CLI. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, inject } from 'vitest';
import { RunsClient } from '../client/runs.js';
import { loadSettings, type Settings } from '../client/settings.js';
import { startWorker as startInProcessWorker, type RunningWorker } from '../workers/worker.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SYNAPSE_BIN = path.join(ROOT, 'bin', 'synapse.mjs');

/** Settings for one test file: its own data dir and task queues on the shared dev server. */
export function testSettings(name: string): Settings {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `synapse-${name}-`));
  return loadSettings({
    dataDir,
    temporalAddress: inject('temporalAddress'),
    taskQueuePrefix: `test-${name}-${Math.random().toString(36).slice(2, 8)}`,
  });
}

export function envFor(settings: Settings): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SYNAPSE_DATA_DIR: settings.dataDir,
    TEMPORAL_ADDRESS: settings.temporal.address,
    SYNAPSE_TASK_QUEUE_PREFIX: settings.taskQueuePrefix,
  };
}

/** A worker inside the test process; `stop()` shuts it down gracefully. */
export function startWorker(settings: Settings): Promise<RunningWorker> {
  return startInProcessWorker({ settings });
}

/** A worker as a real `synapse worker` process, so a test can SIGKILL it. */
export async function spawnWorker(settings: Settings): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SYNAPSE_BIN, 'worker'], { env: envFor(settings), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker ready')) resolve();
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)));
  });
  return child;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `synapse ...args` as a person would and collects its output. */
export function runCli(args: string[], settings: Settings, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SYNAPSE_BIN, ...args], { env: { ...envFor(settings), ...env }, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function connectRuns(settings: Settings): Promise<RunsClient> {
  return RunsClient.connect(settings);
}

/**
 * The usual test-file set-up: an in-process worker and a connected RunsClient for the whole
 * file, handed to `use` before the file's own beforeAll hooks run, closed after its afterAll.
 */
export function useWorkerAndRuns(settings: Settings, use: (runs: RunsClient) => void): void {
  let worker: { stop(): Promise<void> } | undefined;
  let runs: RunsClient | undefined;
  beforeAll(async () => {
    worker = await startWorker(settings);
    runs = await connectRuns(settings);
    use(runs);
  });
  afterAll(async () => {
    await runs?.close();
    await worker?.stop();
  });
}

/** Polls `check` until it returns a value (not undefined); fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The highest attempt any activity of a run's (first) execution reached, from Temporal's history:
 * 2 or more proves a step was interrupted and retried. The run state's `attempt` only shows the
 * attempts of the steps a shape reports (a retried plan step is not among them).
 */
export async function highestActivityAttempt(runs: RunsClient, runId: string): Promise<number> {
  const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
  let highest = 0;
  for (const event of history.events ?? []) highest = Math.max(highest, event.activityTaskStartedEventAttributes?.attempt ?? 0);
  return highest;
}

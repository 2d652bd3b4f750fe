/**
 * A run no worker picks up says so (issue 17, problem 6): its task queue has no pollers
 * (DescribeTaskQueue), so `run status` and `run watch` print a hint naming the queue and what
 * to start, instead of `running 0%` and nothing else. With a worker, no hint.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunsClient } from '../../client/runs.js';
import { envFor, runCli, startWorker, SYNAPSE_BIN, testSettings } from '../helpers.js';

const settings = testSettings('no-worker');
let runs: RunsClient;
const started: string[] = [];

beforeAll(async () => {
  runs = await RunsClient.connect(settings);
});
afterAll(async () => {
  for (const id of started)
    await runs.temporal.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => {});
  await runs.close();
});

describe('a run with no worker on its task queue', () => {
  it('`run status` and `run watch` say that no worker polls its task queue; with a worker, no hint', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3, delayMs: 0 } });
    started.push(runId);
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^status +running/m);
    expect(status.stdout).toContain('hint     no worker polls task queue');
    expect(status.stdout).toContain(`task queue "${settings.taskQueuePrefix}`);

    // `run watch` says it once the run has been silent a few seconds; stopped by the test
    // after the hint (the run would wait for ever).
    const watch = spawn(process.execPath, [SYNAPSE_BIN, 'run', 'watch', runId, '--json'], { env: envFor(settings) });
    const stderr = await new Promise<string>((resolve) => {
      let err = '';
      watch.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('hint: no worker polls task queue')) resolve(err);
      });
      watch.on('exit', () => resolve(err));
    });
    watch.kill('SIGINT');
    expect(stderr).toContain('hint: no worker polls task queue');

    // A worker comes: the run completes, and a running run's status has no hint.
    const worker = await startWorker(settings);
    try {
      await runs.temporal.workflow.getHandle(runId).result();
      const next = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 100, delayMs: 50 } });
      started.push(next.runId);
      const busy = await runCli(['run', 'status', next.runId], settings);
      expect(busy.stdout).toMatch(/^status +running/m);
      expect(busy.stdout).not.toContain('hint');
    } finally {
      await worker.stop();
    }
  }, 180_000);
});

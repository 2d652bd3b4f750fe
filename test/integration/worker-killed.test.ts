/**
 * Durability: the worker process is killed with SIGKILL in the middle of a job. A new
 * worker picks the run up, the retried step resumes from the last checkpoint, the run
 * completes, and nothing before that checkpoint is done again.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, spawnWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('worker-killed');
let runs: RunsClient;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  runs = await connectRuns(settings);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await runs?.close();
});

interface DemoResult {
  checked: number;
  valid: number;
  invalid: number;
  invalidIndices: number[];
  resumedFrom: number | null;
}
const params = { count: 150, delayMs: 40, checkpointEvery: 10, seed: 7 };

describe('a worker killed mid-step', () => {
  it('resumes from the last checkpoint on a new worker and does not redo earlier work', async () => {
    workers.push(await spawnWorker(settings));
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params, heartbeatTimeoutSeconds: 3 });

    await waitFor(async () => {
      const c = await runs.store.latestCheckpoint(runId);
      return c && (c.state as { next: number }).next >= 50 ? c : undefined;
    });
    const first = workers[0] as ChildProcess;
    first.kill('SIGKILL');
    await once(first, 'exit');
    // Whatever was checkpointed before the kill is what the retry must resume from.
    const lastCheckpoint = await runs.store.latestCheckpoint(runId);
    const resumeAt = (lastCheckpoint?.state as { next: number }).next;
    expect(resumeAt).toBeGreaterThanOrEqual(50);
    expect(resumeAt).toBeLessThan(params.count);

    workers.push(await spawnWorker(settings));
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status).toBe('completed');
    expect(final.attempt).toBeGreaterThanOrEqual(2);
    const result = final.result as DemoResult;
    const logLines = (await runs.events(runId, 0, 100_000)).filter((e) => e.data.kind === 'log').map((e) => `${e.attempt} ${JSON.stringify(e.data)}`);
    expect(result.resumedFrom, logLines.join('\n')).toBe(resumeAt);
    expect(result.checked).toBe(params.count);

    // Every item was checked; items before the checkpoint exactly once, by the first attempt.
    const checkedBy = new Map<number, number[]>();
    for (const e of await runs.events(runId, 0, 100_000)) {
      if (e.data.kind === 'event' && e.data.event === 'item_checked') {
        const index = e.data.data.index as number;
        checkedBy.set(index, [...(checkedBy.get(index) ?? []), e.attempt]);
      }
    }
    for (let i = 0; i < params.count; i++) {
      const attempts = checkedBy.get(i) ?? [];
      if (i < resumeAt) expect(attempts, `item ${i}`).toEqual([1]);
      else
        expect(
          attempts.filter((a) => a >= 2),
          `item ${i}`,
        ).toHaveLength(1);
    }

    // The numbers equal those of a run that was never interrupted.
    const reference = (await runs.temporal.workflow
      .getHandle((await runs.start({ plugin: 'demo-validation', action: 'validation', params: { ...params, delayMs: 0 } })).runId)
      .result()) as RunState;
    const expected = reference.result as DemoResult;
    expect({ ...result, resumedFrom: null }).toEqual(expected);
    await waitFor(async () => ((await runs.store.getRun(runId))?.status === 'completed' ? true : undefined), 10_000, 'run store status');
  });
});

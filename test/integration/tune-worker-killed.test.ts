/**
 * Durability of a tune: the worker process (workflows, trial steps and its Optuna process) is
 * SIGKILLed while trials are running. A new worker picks everything up: the running trials'
 * epochs are retried, the tune asks for the remaining trials, and it completes. No trial that
 * had finished runs again (its run writes nothing after the kill, and the parent started each
 * trial child once), and the study, which lives in the data dir's SQLite file, holds every
 * trial's result once, with one intermediate value per epoch.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTuneActivities } from '../../activities/tune.js';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import type { StudySpec, TuneResult } from '../../contracts/tune.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { connectRuns, ROOT, spawnWorker, testSettings, waitFor } from '../helpers.js';

const settings = testSettings('tune-killed');
let runs: RunsClient;
let data: GenerateResult;
const workers: ChildProcess[] = [];
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'tune-objective');

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 12, seed: 6, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  runs = await connectRuns(settings);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await runs?.close();
});

describe('a worker killed mid-tune', () => {
  it('the tune completes on a new worker; no finished trial runs again; the study holds every result once', async () => {
    workers.push(await spawnWorker(settings));
    const epochs = 3;
    const numTrials = 6;
    const params = {
      name: 'killed-tune',
      dataset: data.groundTruth.versionId,
      hyperparameters: { epochs, epoch_delay_ms: 400 },
      search_space: { x: { type: 'uniform', low: -2, high: 3 }, y: { type: 'uniform', low: -1, high: 2 } },
      metric: 'score',
      mode: 'min',
      num_trials: numTrials,
      max_concurrent_trials: 2,
      sampler: { type: 'tpe', seed: 4, n_startup_trials: 3 },
    };
    const { runId } = await runs.start({ plugin: FIXTURE, action: 'tune', params, heartbeatTimeoutSeconds: 3 });

    // Kill once a trial has finished and two are running, one of them past its first epoch.
    const before = await waitFor(
      async () => {
        const s = await runs.state(runId);
        const trials = s.trials ?? [];
        const running = trials.filter((t) => t.status === 'running');
        return trials.some((t) => t.status === 'completed') && running.length === 2 && running.some((t) => t.history.length >= 1) ? s : undefined;
      },
      90_000,
      'a finished trial and two running',
    );
    const first = workers[0] as ChildProcess;
    first.kill('SIGKILL');
    await once(first, 'exit');
    const killedAt = new Date().toISOString();
    const finishedBefore = (before.trials ?? []).filter((t) => t.status === 'completed');

    workers.push(await spawnWorker(settings));
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, final.error).toBe('completed');
    const trials = final.trials ?? [];
    expect(trials.map((t) => t.number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(trials.every((t) => t.status === 'completed' && t.epochs === epochs)).toBe(true);
    for (const t of trials)
      expect(
        t.history.map((h) => h.epoch),
        `trial ${t.number}`,
      ).toEqual([1, 2, 3]);

    // Each trial's child was started once.
    const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
    const started = (history.events ?? []).flatMap((e) =>
      e.childWorkflowExecutionStartedEventAttributes ? [e.childWorkflowExecutionStartedEventAttributes.workflowExecution?.workflowId] : [],
    );
    expect(started.sort()).toEqual(trials.map((t) => `${runId}/trial-${t.number}`).sort());

    // A trial that had finished before the kill did nothing after it: no event of its run
    // was written later, and its result is the one it had.
    for (const done of finishedBefore) {
      const events = await runs.events(done.runId, 0, 100_000);
      expect(events.length).toBeGreaterThan(0);
      expect(
        events.filter((e) => e.at > killedAt).map((e) => e.data),
        `trial ${done.number}`,
      ).toEqual([]);
      expect(trials.find((t) => t.number === done.number)?.metric).toBe(done.metric);
    }
    // Trials running at the kill were retried (an attempt > 1 in their run's events) and finished.
    const interrupted = (before.trials ?? []).filter((t) => t.status === 'running');
    const attempts = await Promise.all(interrupted.map(async (t) => Math.max(...(await runs.events(t.runId, 0, 100_000)).map((e) => e.attempt))));
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);

    // The study holds each trial once: complete, with its value and one value per epoch.
    const study: StudySpec = {
      name: runId,
      direction: 'minimize',
      space: params.search_space as StudySpec['space'],
      sampler: params.sampler as StudySpec['sampler'],
      pruner: { type: 'none' },
      concurrency: 2,
    };
    const inStudy = await createTuneActivities({ store: runs.store, dataDir: settings.dataDir }).tuneTrials({ runId, study });
    expect(inStudy.map((t) => t.number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const s of inStudy) {
      const t = trials.find((x) => x.number === s.number)!;
      expect(s.state).toBe('complete');
      expect(s.value).toBe(t.metric);
      expect(Object.keys(s.intermediate)).toEqual(['1', '2', '3']);
      expect(s.params).toEqual(t.params);
    }
    expect((final.result as TuneResult).counts).toMatchObject({ completed: numTrials, failed: 0, pruned: 0 });
  });
});

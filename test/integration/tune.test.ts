/**
 * The tune run shape end to end on a real Temporal dev server, with the fixture trainer whose
 * epochs report a known objective (test/fixtures/plugins/tune-objective: `score` =
 * (x - 1.5)^2 + 0.5 (y - 0.5)^2 + 1/epoch): a 3x3 grid runs exactly 9 trials, never more than
 * two at once (from the parent's history); TPE finds the optimum's region and the median
 * pruner stops clearly bad trials before their last epoch; bad inputs are refused before
 * anything starts; a metric the trainer never reports fails the tune after its first trial;
 * a cancelled tune resumes with its finished trials kept; `run status` shows the trials.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import type { RunState } from '../../contracts/run-state.js';
import type { StudySpec, StudyTrial, TuneResult } from '../../contracts/tune.js';
import { createTuneActivities } from '../../activities/tune.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { getModel } from '../../platform/repositories/models.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';
import { listenGateway } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { taskQueueFor } from '../../client/settings.js';
import { parseTuneParams } from '../../client/shapes/tune.js';
import { tuneWorkflow } from '../../workflows/tune.js';
import { ObjectiveTrainer } from '../fixtures/plugins/tune-objective/plugin/objective.js';

const settings = testSettings('tune');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'tune-objective');

beforeAll(async () => {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 12, seed: 5, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
});

const finish = async (runId: string): Promise<RunState> => (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
const objective = (x: number, y: number): number => (x - 1.5) ** 2 + 0.5 * (y - 0.5) ** 2;

const tune = (name: string, over: Record<string, unknown>) => ({
  name,
  dataset: data.groundTruth.versionId,
  hyperparameters: { epochs: 3 },
  metric: 'score',
  mode: 'min',
  ...over,
});

/** Every trial of a tune's study, as Optuna has it (through the same activity the workflow uses). */
async function studyTrials(tuneRunId: string, state: RunState): Promise<StudyTrial[]> {
  const p = state.result as TuneResult | undefined;
  const params = (await runs.store.getRun(tuneRunId))!.params as Record<string, unknown> & {
    search_space: StudySpec['space'];
    mode: 'min' | 'max';
    sampler: StudySpec['sampler'];
    pruner: StudySpec['pruner'];
    max_concurrent_trials: number;
  };
  const study: StudySpec = {
    name: p?.study ?? tuneRunId,
    direction: params.mode === 'min' ? 'minimize' : 'maximize',
    space: params.search_space,
    sampler: params.sampler,
    pruner: params.pruner,
    concurrency: params.max_concurrent_trials,
  };
  return createTuneActivities({ store: runs.store, dataDir: settings.dataDir }).tuneTrials({ runId: tuneRunId, study });
}

/** The most trial children running at once, from the parent's Temporal history. */
async function peakChildren(tuneRunId: string): Promise<{ peak: number; started: string[] }> {
  const history = await runs.temporal.workflow.getHandle(tuneRunId).fetchHistory();
  let running = 0;
  let peak = 0;
  const started: string[] = [];
  for (const e of history.events ?? []) {
    if (e.childWorkflowExecutionStartedEventAttributes) {
      running++;
      started.push(e.childWorkflowExecutionStartedEventAttributes.workflowExecution?.workflowId ?? '');
      peak = Math.max(peak, running);
    }
    if (
      e.childWorkflowExecutionCompletedEventAttributes ||
      e.childWorkflowExecutionFailedEventAttributes ||
      e.childWorkflowExecutionCanceledEventAttributes ||
      e.childWorkflowExecutionTerminatedEventAttributes ||
      e.childWorkflowExecutionTimedOutEventAttributes
    ) {
      running--;
    }
  }
  return { peak, started };
}

describe('tune runs', () => {
  it('grid search over a 3x3 grid runs exactly 9 trials, never 3 at once, and registers the best', async () => {
    const xs = [-1, 0.5, 1.5];
    const ys = [0.5, 2, -2];
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('grid-best', { search_space: { x: { type: 'grid', values: xs }, y: { type: 'grid', values: ys } }, max_concurrent_trials: 2 }),
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    const trials = final.trials ?? [];
    expect(trials).toHaveLength(9);
    expect(trials.every((t) => t.status === 'completed' && t.epochs === 3)).toBe(true);
    const points = new Set(trials.map((t) => `${t.params.x},${t.params.y}`));
    expect(points.size).toBe(9);
    for (const x of xs) for (const y of ys) expect(points.has(`${x},${y}`)).toBe(true);
    for (const t of trials) {
      expect(t.runId).toBe(`${runId}/trial-${t.number}`);
      expect(t.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
      expect(t.metric).toBeCloseTo(objective(Number(t.params.x), Number(t.params.y)) + 1 / 3, 9);
    }

    // From Temporal's history of the parent: 9 children, 2 at most at once (and 2 at some point).
    const { peak, started } = await peakChildren(runId);
    expect(started.sort()).toEqual(trials.map((t) => `${runId}/trial-${t.number}`).sort());
    expect(peak).toBe(2);

    const result = final.result as TuneResult;
    expect(result.best.params).toEqual({ x: 1.5, y: 0.5 });
    expect(result.counts).toMatchObject({ completed: 9, pruned: 0, failed: 0 });
    expect(final.progress.trials).toEqual({ current: 9, total: 9 });
    expect(final.percent).toBe(100);
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      const model = await getModel(platform.db, result.model.id);
      expect(model).toMatchObject({ name: 'grid-best', runId, plugin: { code: 'tune-objective' } });
      expect(model.configuration).toMatchObject({ hyperparameters: { epochs: 3, x: 1.5, y: 0.5 } });
      expect(model.metrics.score).toBeCloseTo(1 / 3, 9);
      expect(model.metrics.objective).toBeCloseTo(0, 9);
    } finally {
      await platform.close();
    }
    // In the Web UI each trial is a child with a summary of its params; the parent's details list the best.
    const child = await runs.temporal.workflow.getHandle(`${runId}/trial-0`).describe();
    expect(await child.staticSummary()).toMatch(new RegExp(`^trial 0 of ${runId} · x=-?[\\d.]+, y=-?[\\d.]+$`));
    expect(child.parentExecution?.workflowId).toBe(runId);
    // The gateway returns the same trials.
    const tokens = await TokenStore.open({ dataDir: settings.dataDir });
    const gateway = await listenGateway({ runs, tokens, port: 0 });
    try {
      const { token } = await tokens.create('tune-test');
      const res = await fetch(`${gateway.url}/v1/runs/${runId}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as RunState).trials).toEqual(final.trials);
    } finally {
      await gateway.close();
      tokens.close();
    }
    // A trial is a run of its own: `run status` shows its epochs.
    const trialStatus = await runCli(['run', 'status', `${runId}/trial-0`], settings);
    expect(trialStatus.code, trialStatus.stderr).toBe(0);
    expect(trialStatus.stdout).toMatch(/^epoch {4}3: \{"score":/m);
    // The study holds each of the 9 results once.
    const study = await studyTrials(runId, final);
    expect(study).toHaveLength(9);
    expect(study.every((t) => t.state === 'complete')).toBe(true);
  });

  it('TPE finds the optimum region and the median pruner stops clearly bad trials before their last epoch', async () => {
    const epochs = 4;
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('tpe-best', {
        hyperparameters: { epochs },
        search_space: { x: { type: 'uniform', low: -5, high: 5 }, y: { type: 'uniform', low: -3, high: 3 } },
        num_trials: 24,
        sampler: { type: 'tpe', seed: 7, n_startup_trials: 8 },
        pruner: { type: 'median', n_startup_trials: 4 },
      }),
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    const trials = [...(final.trials ?? [])].sort((a, b) => a.number - b.number);
    expect(trials).toHaveLength(24);
    const obj = (t: (typeof trials)[number]) => objective(Number(t.params.x), Number(t.params.y));
    const result = final.result as TuneResult;

    // TPE: the best trial is close to the optimum (x = 1.5, y = 0.5), and after the 8 random
    // startup trials it keeps coming back to the optimum's region (objective < 1 is 7% of the
    // space: about 1 in 16 random trials would land there).
    const best = trials.find((t) => t.number === result.best.number)!;
    expect(obj(best)).toBeLessThan(0.25);
    expect(trials.slice(8).filter((t) => obj(t) < 1).length).toBeGreaterThanOrEqual(3);

    // The median pruner: clearly bad trials stop at epoch 1 of 4, as `pruned` (not failed);
    // each is worse than the median of the trials that completed.
    const pruned = trials.filter((t) => t.status === 'pruned');
    const completed = trials.filter((t) => t.status === 'completed');
    expect(pruned.length).toBeGreaterThanOrEqual(5);
    expect(completed.length + pruned.length).toBe(24);
    const sortedDone = completed.map(obj).sort((a, b) => a - b);
    const median = sortedDone[Math.floor(sortedDone.length / 2)]!;
    for (const t of pruned) {
      expect(t.epochs, `trial ${t.number}`).toBeLessThan(epochs);
      expect(t.history).toHaveLength(t.epochs);
      expect(obj(t), `trial ${t.number}`).toBeGreaterThan(median);
    }
    for (const t of completed) expect(t.epochs).toBe(epochs);
    expect(result.counts).toMatchObject({ completed: completed.length, pruned: pruned.length, failed: 0 });
    // A pruned trial's run completed (it was not a failure) and says `pruned`.
    const child = (await runs.temporal.workflow.getHandle(pruned[0]!.runId).result()) as RunState;
    expect(child.status).toBe('completed');
    expect(child.result).toMatchObject({ status: 'pruned', epochs: pruned[0]!.epochs });

    // The study agrees, one result per trial.
    const study = await studyTrials(runId, final);
    expect(study.map((t) => t.number).sort((a, b) => a - b)).toEqual(trials.map((t) => t.number));
    expect(
      study
        .filter((t) => t.state === 'pruned')
        .map((t) => t.number)
        .sort((a, b) => a - b),
    ).toEqual(pruned.map((t) => t.number));
    expect(study.filter((t) => t.state === 'complete')).toHaveLength(completed.length);

    // `synapse run status` shows the trials table, best first.
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.code, status.stderr).toBe(0);
    const rows = status.stdout.split('\n').filter((l) => /^ {2}\s*\d+ {2}(completed|pruned)/.test(l));
    expect(rows).toHaveLength(24);
    expect(rows[0]).toMatch(new RegExp(`^\\s*${result.best.number}  completed`));
    expect(status.stdout).toMatch(/trial +status +epochs +score +best score +params/);
  });

  it('refuses bad input before anything starts, naming each problem', async () => {
    const problemsOf = async (params: Record<string, unknown>) => {
      const err = await runs.start({ plugin: FIXTURE, action: 'tune', params }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      return (err as InvalidInputError).problems;
    };
    expect(
      await problemsOf(
        tune('bad-1', {
          search_space: {
            x: { type: 'choice', values: [] },
            y: { type: 'loguniform', low: 0, high: 1 },
            z: { type: 'uniform', low: 2, high: 1 },
            w: { type: 'normal' },
          },
          sampler: 'bayes',
          pruner: 'sometimes',
          mode: 'lowest',
          num_trials: 4,
        }),
      ),
    ).toEqual([
      { path: 'search_space.x.values', message: 'empty choice: give at least one value' },
      { path: 'search_space.y.low', message: 'loguniform needs low > 0 (got 0): a log scale has no zero or negatives' },
      { path: 'search_space.z', message: 'low (2) must be below high (1)' },
      { path: 'search_space.w.type', message: 'unknown dimension type: use choice, grid, uniform, loguniform, randint or quniform' },
      { path: 'mode', message: 'use min or max' },
      { path: 'sampler.type', message: 'unknown sampler "bayes": use random, grid, tpe' },
      { path: 'pruner.type', message: 'unknown pruner "sometimes": use none, median, asha, hyperband' },
    ]);
    // The trainer's own schema, at each end of the range; a key both fixed and searched;
    // the train params' own problems (dataset, name) in the same list.
    expect(
      await problemsOf({
        dataset: 'x',
        hyperparameters: { epochs: 2, x: 0 },
        search_space: { x: { type: 'uniform', low: -1, high: 20 }, y: { type: 'choice', values: [0, 'far'] } },
        metric: 'score',
        mode: 'min',
        num_trials: 3,
      }),
    ).toEqual([
      { path: 'hyperparameters.x', message: 'also in search_space: a hyperparameter is fixed or searched, not both' },
      { path: 'name', message: expect.any(String) },
      { path: 'dataset', message: expect.any(String) },
    ]);
    expect(
      await problemsOf(
        tune('bad-2', { search_space: { x: { type: 'uniform', low: -1, high: 20 }, y: { type: 'choice', values: [0, 'far'] } }, num_trials: 3 }),
      ),
    ).toEqual([
      { path: 'search_space.x', message: expect.stringMatching(/^the trainer's hyperparameters refuse x = 20: /) },
      { path: 'search_space.y', message: expect.stringMatching(/^the trainer's hyperparameters refuse y = "far": /) },
    ]);
    // Grid sampler rules; num_trials is required without a grid.
    expect(await problemsOf(tune('bad-3', { search_space: { x: { type: 'grid', values: [1, 2] }, y: { type: 'uniform', low: 0, high: 1 } } }))).toEqual([
      { path: 'search_space.y', message: 'sampler grid needs grid or choice dimensions; y is uniform' },
    ]);
    expect(await problemsOf(tune('bad-4', { search_space: { x: { type: 'uniform', low: 0, high: 1 } } }))).toEqual([
      { path: 'num_trials', message: 'required with sampler tpe' },
    ]);
    expect(await problemsOf(tune('bad-5', { search_space: { x: { type: 'grid', values: [1, 2] } }, num_trials: 3 }))).toEqual([
      { path: 'num_trials', message: 'the grid has 2 points; num_trials 3 would repeat some' },
    ]);
    // Nothing started.
    const names = (await runs.store.listRuns({ action: 'tune', limit: 1000 })).map((r) => (r.params as { name?: string }).name);
    expect(names.filter((n) => n?.startsWith('bad-'))).toEqual([]);
  });

  it('a metric the trainer never reports fails the tune with its name once the first trial ends', async () => {
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('no-metric', {
        metric: 'accuracy',
        mode: 'max',
        search_space: { x: { type: 'uniform', low: 0, high: 1 } },
        num_trials: 4,
        sampler: { type: 'random', seed: 1 },
      }),
    });
    const final = await waitFor(async () => {
      const s = await runs.state(runId);
      return s.status === 'running' ? undefined : s;
    });
    expect(final.status).toBe('failed');
    expect(final.error).toContain('metric "accuracy" is never reported by the trainer: its epochs report "score", "quality"');
    // Only the first trial ran.
    const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
    expect((history.events ?? []).filter((e) => e.childWorkflowExecutionStartedEventAttributes)).toHaveLength(1);
    const status = await runCli(['run', 'status', runId], settings);
    expect(status.stdout).toContain('metric "accuracy" is never reported');
  });

  it('a cancelled tune resumes with `synapse run resume`: its finished trials are kept, not run again', async () => {
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('resumed-best', {
        hyperparameters: { epochs: 2, epoch_delay_ms: 300 },
        search_space: { x: { type: 'uniform', low: -2, high: 3 }, y: { type: 'choice', values: [0, 0.5, 1] } },
        num_trials: 6,
        max_concurrent_trials: 2,
        sampler: { type: 'random', seed: 3 },
      }),
    });
    await waitFor(
      async () => {
        const s = await runs.state(runId);
        return (s.trials ?? []).filter((t) => t.status === 'completed').length >= 2 ? true : undefined;
      },
      60_000,
      'two finished trials',
    );
    await runs.cancel(runId);
    const cancelled = await waitFor(async () => {
      const s = await runs.state(runId);
      return s.status === 'cancelled' ? s : undefined;
    });
    const finishedBefore = (cancelled.trials ?? []).filter((t) => t.status === 'completed');
    expect(finishedBefore.length).toBeGreaterThanOrEqual(2);
    expect(finishedBefore.length).toBeLessThan(6);

    // The fixture is no built-in: resume finds it by code@version on the plugin path.
    const resumed = await runCli(['run', 'resume', runId, '--detach', '--json'], settings, { SYNAPSE_PLUGIN_PATH: path.dirname(FIXTURE) });
    expect(resumed.code, resumed.stderr).toBe(0);
    const started = JSON.parse(resumed.stdout) as { runId: string; resumedFrom: { runId: string; epoch: number } };
    expect(started.resumedFrom).toEqual({ runId, epoch: finishedBefore.length });
    // The cancelled tune (closed now: its state is the workflow's at its end, or rebuilt from the
    // run store without a worker) still shows its trials, the finished ones among them.
    const old = await runCli(['run', 'status', runId], settings);
    expect(old.stdout).toContain(`trials   ${(cancelled.trials ?? []).length}\n`);
    for (const t of finishedBefore) expect(old.stdout).toMatch(new RegExp(`^ +${t.number}  completed +2 `, 'm'));
    const final = await finish(started.runId);
    expect(final.status, final.error).toBe('completed');
    const trials = final.trials ?? [];
    expect(trials.map((t) => t.number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(trials.every((t) => t.status === 'completed')).toBe(true);
    // The trials finished before are the first tune's runs, with the same params and metric;
    // the resumed tune started children only for the others.
    for (const before of finishedBefore) {
      const after = trials.find((t) => t.number === before.number)!;
      expect(after).toMatchObject({ runId: before.runId, params: before.params, metric: before.metric });
    }
    const { started: children } = await peakChildren(started.runId);
    expect(children.sort()).toEqual(
      trials
        .filter((t) => !finishedBefore.some((b) => b.number === t.number))
        .map((t) => `${started.runId}/trial-${t.number}`)
        .sort(),
    );
    expect((final.result as TuneResult).resumedFrom).toEqual({ runId, study: runId });
    // One study, each trial's result in it once.
    const study = await studyTrials(started.runId, final);
    expect(study).toHaveLength(6);
    expect(study.every((t) => t.state === 'complete')).toBe(true);
  });

  it('continues as new past its trial budget (and its trials past their epoch budget), keeping every trial', async () => {
    const runId = `tune-can-${Date.now()}`;
    const params = parseTuneParams(
      ObjectiveTrainer,
      tune('tune-can', { search_space: { x: { type: 'grid', values: [0, 1, 2, 3, 4] } }, max_concurrent_trials: 2 }),
    );
    const now = new Date().toISOString();
    await runs.store.createRun({
      id: runId,
      pluginCode: 'tune-objective',
      pluginVersion: '1.0.0',
      action: 'tune',
      category: 'neural_net',
      method: 'job',
      status: 'pending',
      params,
      createdAt: now,
      updatedAt: now,
    });
    const handle = await runs.temporal.workflow.start(tuneWorkflow, {
      workflowId: runId,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [
        {
          plugin: { code: 'tune-objective', version: '1.0.0', dir: FIXTURE },
          action: 'tune',
          category: 'neural_net',
          method: 'job',
          params,
          progressCategories: {},
          heartbeatTimeoutSeconds: 30,
          startToCloseSeconds: 600,
          budget: { trialsPerRun: 2, trialEpochsPerRun: 1 },
        },
      ],
    });
    const final = await handle.result();
    expect(final.status, final.error).toBe('completed');
    expect(final.trials?.map((t) => [t.number, t.status, t.epochs]).sort()).toEqual([0, 1, 2, 3, 4].map((n) => [n, 'completed', 3]));
    expect((final.result as TuneResult).best.params).toEqual({ x: 2 });
    // The tune continued as new (5 trials, 2 a run), and so did each trial (3 epochs, 1 a run).
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    const trial = runs.temporal.workflow.getHandle(`${runId}/trial-4`);
    expect((await trial.describe()).status.name).toBe('COMPLETED');
    const history = await trial.fetchHistory();
    expect((history.events ?? []).some((e) => e.workflowExecutionStartedEventAttributes?.continuedExecutionRunId)).toBe(true);
    expect((final.trials ?? []).every((t) => t.history.length === 3)).toBe(true);
  });

  it('a failing trial is told to the study as failed and the search goes on', async () => {
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('some-fail', {
        hyperparameters: { epochs: 2, fail_above_x: 2.5 },
        search_space: { x: { type: 'grid', values: [0, 1, 2, 3] } },
        max_concurrent_trials: 2,
      }),
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    const failed = (final.trials ?? []).filter((t) => t.status === 'failed');
    expect(failed.map((t) => t.params.x)).toEqual([3]);
    expect(failed[0]!.error).toContain('x = 3 breaks this trainer');
    expect((final.result as TuneResult).counts).toMatchObject({ completed: 3, failed: 1 });
    expect((final.result as TuneResult).best.params).toEqual({ x: 2 });
    const study = await studyTrials(runId, final);
    expect(study.find((t) => t.number === failed[0]!.number)?.state).toBe('fail');
  });

  it('a time budget stops new trials once spent; the running ones finish and the best is registered', async () => {
    const { runId } = await runs.start({
      plugin: FIXTURE,
      action: 'tune',
      params: tune('budget', {
        hyperparameters: { epochs: 2, epoch_delay_ms: 300 },
        search_space: { x: { type: 'uniform', low: 0, high: 3 } },
        num_trials: 50,
        sampler: { type: 'random', seed: 2 },
        time_budget_s: 2,
      }),
    });
    const final = await finish(runId);
    expect(final.status, final.error).toBe('completed');
    const trials = final.trials ?? [];
    expect(trials.length).toBeGreaterThanOrEqual(1);
    expect(trials.length).toBeLessThan(10);
    expect(trials.every((t) => t.status === 'completed' && t.epochs === 2)).toBe(true);
    expect((final.result as TuneResult).model.name).toBe('budget');
  });
});

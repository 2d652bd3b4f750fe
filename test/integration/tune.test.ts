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
  const params = (await runs.store.getRun(tuneRunId))!.params as Record<string, unknown> & { search_space: StudySpec['space']; mode: 'min' | 'max'; sampler: StudySpec['sampler']; pruner: StudySpec['pruner']; max_concurrent_trials: number };
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
    // The study holds each of the 9 results once.
    const study = await studyTrials(runId, final);
    expect(study).toHaveLength(9);
    expect(study.every((t) => t.state === 'complete')).toBe(true);
  });
});

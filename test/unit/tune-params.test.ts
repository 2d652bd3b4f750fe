/**
 * A tune's params before anything starts (client/shapes/tune.ts over contracts/tune-params.ts):
 * defaults filled in (sampler, num_trials of a grid, pruner settings), each bad input a named
 * problem, the trainer's hyperparameter schema asked about every end of every range; and the
 * pure helpers the tune workflow and the clients share (ranking, best trial, the Web UI's table,
 * the trials of an ended tune from its events). The CLI's table is tested through `run status`.
 */
import { describe, expect, it } from 'vitest';
import { parseTuneParams } from '../../client/shapes/tune.js';
import { ParamsError } from '../../contracts/errors.js';
import { gridSize, probeValues, rankTrials, trialsFromEvents, trialsMarkdown, type TuneTrial } from '../../contracts/tune.js';
import { ObjectiveTrainer } from '../fixtures/plugins/tune-objective/plugin/objective.js';
import { bestTrial, splitTuneParams, trialParams } from '../../workflows/tune.js';

const base = { name: 'm', dataset: 1, metric: 'score', mode: 'min' };
const parse = (over: Record<string, unknown>) => parseTuneParams(ObjectiveTrainer, { ...base, ...over });
const problems = (over: Record<string, unknown>) => {
  try {
    parse(over);
  } catch (err) {
    if (err instanceof ParamsError) return err.problems;
    throw err;
  }
  throw new Error('no problems');
};

describe('tune params', () => {
  it('fills in the defaults: sampler grid for a grid and its size as num_trials, tpe otherwise; pruner none; one trial at a time', () => {
    const grid = parse({ search_space: { x: { type: 'grid', values: [1, 2, 3] }, y: { type: 'choice', values: [0, 1] } } });
    expect(grid).toMatchObject({ sampler: { type: 'grid' }, num_trials: 6, max_concurrent_trials: 1, pruner: { type: 'none' }, storage: 'default' });
    // The searched keys are not fixed hyperparameters; the trainer's defaults for the rest are.
    expect(grid.hyperparameters).toEqual({ epochs: 10, seed: 1, epoch_delay_ms: 0, fail_above_x: 1000 });
    const tpe = parse({ search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 5, pruner: 'median', sampler: { type: 'tpe', seed: 3 } });
    expect(tpe).toMatchObject({
      sampler: { type: 'tpe', seed: 3 },
      pruner: { type: 'median', n_startup_trials: 5, n_warmup_steps: 0, interval_steps: 1, n_min_trials: 1 },
    });
    expect(parse({ search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 5, pruner: 'hyperband' }).pruner).toEqual({
      type: 'hyperband',
      min_resource: 1,
      max_resource: 'auto',
      reduction_factor: 3,
    });
    expect(parse({ search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 5, pruner: { type: 'asha', reduction_factor: 3 } }).pruner).toEqual({
      type: 'asha',
      min_resource: 'auto',
      reduction_factor: 3,
      min_early_stopping_rate: 0,
    });
    // What parse returns parses again to the same (a resumed tune's params are the stored ones).
    expect(parse(tpe as unknown as Record<string, unknown>)).toEqual(tpe);
  });

  it('names each bad input', () => {
    expect(
      problems({ search_space: { x: { type: 'choice', values: [] }, y: { type: 'loguniform', low: -1, high: 1 } }, sampler: 'bayes', num_trials: 0 }),
    ).toEqual([
      { path: 'search_space.x.values', message: 'empty choice: give at least one value' },
      { path: 'search_space.y.low', message: 'loguniform needs low > 0 (got -1): a log scale has no zero or negatives' },
      { path: 'num_trials', message: expect.stringContaining('>=1') },
      { path: 'sampler.type', message: 'unknown sampler "bayes": use random, grid, tpe' },
    ]);
    expect(problems({ search_space: {}, num_trials: 2 })).toEqual([
      { path: 'search_space', message: 'empty search space: give at least one hyperparameter to search' },
    ]);
    expect(
      problems({
        search_space: {
          x: { type: 'quniform', low: 0, high: 1, q: 2 },
          y: { type: 'choice', values: [1, 1] },
          'bad-key': { type: 'uniform', low: 0, high: 1 },
        },
        num_trials: 2,
      }),
    ).toEqual([
      { path: 'search_space.x.q', message: 'q (2) is larger than high - low (1)' },
      { path: 'search_space.y.values', message: 'values repeat: give each once' },
      { path: 'search_space.bad-key', message: 'invalid key "bad-key": a hyperparameter name: letters, digits and "_"' },
    ]);
    expect(problems({ search_space: { x: { type: 'grid', values: [1] } }, sampler: 'tpe', num_trials: 1 })).toEqual([
      { path: 'search_space.x', message: 'a grid dimension needs sampler grid (sampler is tpe); use choice to sample from values' },
    ]);
    expect(problems({ search_space: { x: { type: 'randint', low: 3, high: 3 } }, num_trials: 1, pruner: { type: 'median', n_warmup_steps: -1 } })).toEqual([
      { path: 'search_space.x', message: 'low (3) must be below high (3)' },
      { path: 'pruner.n_warmup_steps', message: expect.stringContaining('>=0') },
    ]);
    expect(problems({ search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 1, sampler: { type: 'random', n_startup_trials: 3 } })).toEqual([
      { path: 'sampler.n_startup_trials', message: 'only sampler tpe has startup trials' },
    ]);
  });

  it("asks the trainer's own schema about both ends of every range and every value", () => {
    expect(problems({ search_space: { x: { type: 'uniform', low: -20, high: 1 } }, num_trials: 2 })).toEqual([
      { path: 'search_space.x', message: expect.stringMatching(/^the trainer's hyperparameters refuse x = -20: /) },
    ]);
    expect(problems({ search_space: { x: { type: 'randint', low: 0, high: 12 } }, num_trials: 2 })).toEqual([
      // randint's high is exclusive: 11 is the largest value asked.
      { path: 'search_space.x', message: expect.stringMatching(/^the trainer's hyperparameters refuse x = 11: /) },
    ]);
    expect(problems({ search_space: { epoch_delay_ms: { type: 'choice', values: [0, 10, 'slow'] } }, num_trials: 2 })).toEqual([
      { path: 'search_space.epoch_delay_ms', message: expect.stringMatching(/refuse epoch_delay_ms = "slow"/) },
    ]);
    expect(problems({ hyperparameters: { x: 1 }, search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 2, name: 'a/b' })).toEqual([
      { path: 'hyperparameters.x', message: 'also in search_space: a hyperparameter is fixed or searched, not both' },
      { path: 'name', message: expect.stringContaining('use letters, digits') },
    ]);
    expect(() => parseTuneParams(ObjectiveTrainer, 'lr=0.1')).toThrow(ParamsError);
  });

  it('probes each dimension at its ends', () => {
    expect(probeValues({ type: 'uniform', low: 1, high: 2 })).toEqual([1, 2]);
    expect(probeValues({ type: 'randint', low: 1, high: 5 })).toEqual([1, 4]);
    expect(probeValues({ type: 'quniform', low: 0, high: 1, q: 0.3 })[1]).toBeCloseTo(0.9, 12);
    expect(probeValues({ type: 'choice', values: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(gridSize({ a: { type: 'grid', values: [1, 2, 3] }, b: { type: 'choice', values: [1, 2] } })).toBe(6);
  });

  it('splits the params into the search and the train params; a trial gets its own hyperparameters on top', () => {
    const p = parse({ hyperparameters: { epochs: 2 }, search_space: { x: { type: 'uniform', low: 0, high: 1 } }, num_trials: 3 });
    const { search, train } = splitTuneParams(p);
    expect(search).toMatchObject({ metric: 'score', mode: 'min', num_trials: 3 });
    expect(Object.keys(train).sort()).toEqual(['dataset', 'hyperparameters', 'name', 'num_gpus', 'storage']);
    expect(trialParams(train, { x: 0.5 })).toMatchObject({ name: 'm', hyperparameters: { epochs: 2, seed: 1, x: 0.5 } });
  });
});

const trial = (number: number, status: TuneTrial['status'], metric: number | null, params: TuneTrial['params'] = { x: number }): TuneTrial => ({
  number,
  runId: `t/trial-${number}`,
  status,
  params,
  history: metric === null ? [] : [{ epoch: 1, value: metric }],
  metric,
  best: metric,
  epochs: metric === null ? 0 : 1,
});

describe('ranking trials', () => {
  it('puts completed trials first by metric, then pruned, running, pending, failed, cancelled', () => {
    const trials = [
      trial(0, 'pruned', 0.1),
      trial(1, 'completed', 3),
      trial(2, 'failed', null),
      trial(3, 'completed', 1),
      trial(4, 'running', 0.5),
      trial(5, 'completed', 1),
      trial(6, 'cancelled', null),
    ];
    expect(rankTrials(trials, 'min').map((t) => t.number)).toEqual([3, 5, 1, 0, 4, 2, 6]);
    expect(trials.find((t) => t.number === 3)?.rank).toBe(1);
    expect(rankTrials(trials, 'max').map((t) => t.number)).toEqual([1, 3, 5, 0, 4, 2, 6]);
    // The best completed trial, ties to the earlier one; a pruned trial never wins.
    expect(bestTrial(trials, 'min')?.number).toBe(3);
    expect(bestTrial(trials, 'max')?.number).toBe(1);
    expect(bestTrial([trial(0, 'pruned', 0)], 'min')).toBeUndefined();
  });

  it('draws the Web UI table of the best ten', () => {
    const md = trialsMarkdown(Array.from({ length: 12 }, (_, i) => ({ ...trial(i, 'completed', i), rank: i + 1 })));
    expect(md).toHaveLength(2 + 10 + 1);
    expect(md[2]).toBe('| 0 | completed | 1 | 0 | x=0 |');
  });

  it("rebuilds an ended tune's finished trials from its run events", () => {
    expect(trialsFromEvents([{ event: 'epoch_end', data: { epoch: 1 } }])).toBeUndefined();
    const trials = trialsFromEvents([
      { event: 'study_open', data: { study: 's', direction: 'maximize', trials: 0 } },
      {
        event: 'trial_end',
        data: {
          number: 1,
          state: 'complete',
          value: 0.5,
          params: { lr: 0.1 },
          history: [
            { epoch: 1, value: 0.4 },
            { epoch: 2, value: 0.5 },
          ],
          epochs: 2,
          run: 't/trial-1',
        },
      },
      {
        event: 'trial_end',
        data: { number: 0, state: 'pruned', value: 0.9, params: { lr: 1 }, history: [{ epoch: 1, value: 0.9 }], epochs: 1, run: 't/trial-0' },
      },
      { event: 'trial_end', data: { number: 2, state: 'fail', value: null, params: { lr: 3 }, history: [] } },
      // A resumed tune logs a kept trial again: one row per trial.
      {
        event: 'trial_end',
        data: {
          number: 1,
          state: 'complete',
          value: 0.5,
          params: { lr: 0.1 },
          history: [
            { epoch: 1, value: 0.4 },
            { epoch: 2, value: 0.5 },
          ],
          epochs: 2,
          run: 't/trial-1',
        },
      },
    ])!;
    expect(trials.map((t) => [t.number, t.status, t.rank, t.metric, t.best, t.epochs, t.runId])).toEqual([
      [0, 'pruned', 2, 0.9, 0.9, 1, 't/trial-0'],
      [1, 'completed', 1, 0.5, 0.5, 2, 't/trial-1'],
      [2, 'failed', 3, null, null, 0, ''],
    ]);
  });
});

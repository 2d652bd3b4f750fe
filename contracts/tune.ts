/**
 * The tune run shape's contracts (neural_net `tune`: a hyperparameter search as a parent run
 * over trial runs): the search space and search settings once checked (their zod schemas are
 * in tune-params.ts), the study spec the Optuna activities get, what a study says about one
 * trial, what a trial run returns, the tune's result and its resume point. Plain
 * types and pure functions: workflow code imports this file.
 */
import type { MetricValues } from './run-state.js';
import type { ModelRef, RegisteredModel } from './train.js';
import type { ParamValue, TuneTrialStatus } from './tune-trials.js';

// The trials as people see them live in tune-trials.ts (run-state.ts shows them).
export { better, rankTrials, trialsFromEvents, trialsMarkdown, type ParamValue, type TuneTrial, type TuneTrialStatus } from './tune-trials.js';

/** One dimension of the search space (contracts/tune-params.ts has the schema and the rules). */
export type SearchDimension =
  | { type: 'choice'; values: ParamValue[] }
  | { type: 'grid'; values: ParamValue[] }
  | { type: 'uniform'; low: number; high: number }
  | { type: 'loguniform'; low: number; high: number }
  | { type: 'randint'; low: number; high: number }
  | { type: 'quniform'; low: number; high: number; q: number };
export type SearchSpace = Record<string, SearchDimension>;

export interface Sampler {
  type: 'random' | 'grid' | 'tpe';
  seed?: number;
  n_startup_trials?: number;
}

export type Pruner =
  | { type: 'none' }
  | { type: 'median'; n_startup_trials: number; n_warmup_steps: number; interval_steps: number; n_min_trials: number }
  | { type: 'asha'; min_resource: 'auto' | number; reduction_factor: number; min_early_stopping_rate: number }
  | { type: 'hyperband'; min_resource: number; max_resource: 'auto' | number; reduction_factor: number };

/** The search part of a tune's params once checked: sampler and num_trials filled in. */
export interface TuneSearch {
  search_space: SearchSpace;
  metric: string;
  mode: 'min' | 'max';
  num_trials: number;
  max_concurrent_trials: number;
  sampler: Sampler;
  pruner: Pruner;
  time_budget_s?: number;
}

/** The keys of a tune's params that are its own; every other key is a train param. */
export const TUNE_KEYS = ['search_space', 'metric', 'mode', 'num_trials', 'max_concurrent_trials', 'sampler', 'pruner', 'time_budget_s'] as const;

/** Points of a grid over the `grid` and `choice` dimensions. */
export function gridSize(space: SearchSpace): number {
  let n = 1;
  for (const d of Object.values(space)) if (d.type === 'grid' || d.type === 'choice') n *= d.values.length;
  return n;
}

/**
 * Values to try each dimension with before the tune starts (the trainer's hyperparameter
 * schema must accept them): both ends of a range, every value of a choice or grid.
 */
export function probeValues(d: SearchDimension): ParamValue[] {
  switch (d.type) {
    case 'choice':
    case 'grid':
      return d.values;
    case 'randint':
      return [d.low, d.high - 1];
    case 'quniform':
      return [d.low, d.low + Math.floor((d.high - d.low) / d.q + 1e-9) * d.q];
    default:
      return [d.low, d.high];
  }
}

/** One point of the space: each dimension's first probe value (its low end, its first value). */
export function probePoint(space: SearchSpace): Record<string, ParamValue> {
  return Object.fromEntries(Object.entries(space).map(([k, d]) => [k, probeValues(d)[0] as ParamValue]));
}

/** What the Optuna activities work on: the study and how it searches. Identical for every call of one tune. */
export interface StudySpec {
  /** The study's name: the id of the tune run that created it (a resumed tune keeps it). */
  name: string;
  direction: 'minimize' | 'maximize';
  space: SearchSpace;
  sampler: Sampler;
  pruner: Pruner;
  /** Trials running at once: TPE then assumes a poor value for the running ones (constant liar). */
  concurrency: number;
}

export type StudyTrialState = 'running' | 'waiting' | 'complete' | 'pruned' | 'fail';

/** One trial as the study has it. */
export interface StudyTrial {
  /** Optuna's trial number, 0-based: trial n of the tune. */
  number: number;
  state: StudyTrialState;
  params: Record<string, ParamValue>;
  /** The final value (complete: the told value; pruned: the last reported one). */
  value: number | null;
  /** Reported values by epoch (1-based; Optuna's step is the epoch - 1). */
  intermediate: Record<string, number>;
  /** What the tune stored with the result (the trial's run id, its last checkpoint). */
  attrs: Record<string, unknown>;
}

/** What a trial run (child workflow) returns in its RunState's `result`. */
export interface TrialResult {
  number: number;
  status: 'completed' | 'pruned';
  metric: number | null;
  history: { epoch: number; value: number }[];
  epochs: number;
  checkpoint: ModelRef | null;
  /** Of the trial's prepare: the dataset it trained on, its classes. */
  fingerprint: string;
  classes: string[];
  /** Every metric of the last epoch. */
  last: MetricValues;
}

/** The tune's result. */
export interface TuneResult {
  study: string;
  best: { number: number; runId: string; params: Record<string, ParamValue>; metric: number };
  model: RegisteredModel;
  /** The best trial's last-epoch metric, the final evaluation's metrics. */
  metrics: MetricValues;
  counts: Record<TuneTrialStatus, number>;
  resumedFrom?: { runId: string; study: string };
}

/** `synapse run resume` of a tune: continue the earlier tune's study. */
export interface TuneResumePoint {
  runId: string;
  study: string;
}

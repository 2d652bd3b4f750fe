/**
 * The tune run shape's contracts (neural_net `tune`: a hyperparameter search as a parent run
 * over trial runs): the search space and search settings once checked (their zod schemas are
 * in tune-params.ts), the study spec the Optuna activities get, what a study says about one
 * trial, the trials a tune shows in its RunState, its result and its resume point. Plain
 * types and pure functions: workflow code imports this file.
 */
import type { MetricValues } from './run-state.js';
import type { ModelRef, RegisteredModel } from './train.js';

export type ParamValue = string | number | boolean | null;

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

/** A trial's status in the tune: `pruned` is its own (stopped early by the pruner), not a failure. */
export type TuneTrialStatus = 'pending' | 'running' | 'completed' | 'pruned' | 'failed' | 'cancelled';

/** One trial in the tune's RunState (`state.trials`). */
export interface TuneTrial {
  number: number;
  /** The trial's run (a child workflow): `<tune run id>/trial-<n>`. */
  runId: string;
  status: TuneTrialStatus;
  params: Record<string, ParamValue>;
  /** The metric after each epoch reported. */
  history: { epoch: number; value: number }[];
  /** The trial's result: its last reported value (pruned: where it stopped). */
  metric: number | null;
  /** The best value of `history` by the tune's mode. */
  best: number | null;
  epochs: number;
  error?: string;
  /** Its last epoch's checkpoint (the model registered when it is the best trial). */
  checkpoint?: ModelRef;
  /** Every metric of its last epoch. */
  last?: MetricValues;
  /** 1 = best: completed trials by metric, then pruned ones, running ones, the rest (`rankTrials`). */
  rank?: number;
}

const RANK_GROUP: Record<TuneTrialStatus, number> = { completed: 0, pruned: 1, running: 2, pending: 3, failed: 4, cancelled: 5 };

/**
 * Ranks trials in place (`rank` 1 = best) and returns them best first: completed trials by
 * metric in the tune's mode, then pruned ones (their metric is of an earlier epoch), running
 * ones by their latest value, then pending, failed and cancelled ones; ties by trial number.
 */
export function rankTrials(trials: TuneTrial[], mode: 'min' | 'max'): TuneTrial[] {
  const sorted = [...trials].sort((a, b) => {
    const group = RANK_GROUP[a.status] - RANK_GROUP[b.status];
    if (group !== 0) return group;
    if (a.metric !== null && b.metric !== null && a.metric !== b.metric) return better(mode, a.metric, b.metric) ? -1 : 1;
    if ((a.metric === null) !== (b.metric === null)) return a.metric === null ? 1 : -1;
    return a.number - b.number;
  });
  sorted.forEach((t, i) => (t.rank = i + 1));
  return sorted;
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

/** Whether `a` is better than `b` in this mode. */
export function better(mode: 'min' | 'max', a: number, b: number): boolean {
  return mode === 'min' ? a < b : a > b;
}

/** Markdown rows of the best trials for the Web UI's current details of a tune (at most `max`). */
export function trialsMarkdown(trials: readonly TuneTrial[], max = 10): string[] {
  if (trials.length === 0) return [];
  const shown = [...trials].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.number - b.number).slice(0, max);
  const n = (v: number | null): string => (v === null ? '-' : String(Number(v.toPrecision(6))));
  const lines = ['| trial | status | epochs | metric | params |', '|---|---|---|---|---|'];
  for (const t of shown) {
    const params = Object.entries(t.params)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? n(v) : JSON.stringify(v)}`)
      .join(', ');
    lines.push(`| ${t.number} | ${t.status} | ${t.epochs} | ${n(t.metric)} | ${params} |`);
  }
  if (trials.length > shown.length) lines.push(`| … | ${trials.length - shown.length} more | | | |`);
  return lines;
}

const STATUS_OF_STUDY_STATE: Record<string, TuneTrialStatus> = { complete: 'completed', pruned: 'pruned', fail: 'failed' };

/**
 * The finished trials of a tune from its run events (`study_open` and `trial_end`, written by
 * the study steps), ranked: what `run status` shows of a tune that failed or was cancelled,
 * whose workflow no longer answers its query. Undefined when the events are not a tune's.
 */
export function trialsFromEvents(events: readonly { event: string; data: Record<string, unknown> }[]): TuneTrial[] | undefined {
  let mode: 'min' | 'max' = 'min';
  let tune = false;
  const byNumber = new Map<number, TuneTrial>();
  for (const { event, data } of events) {
    if (event === 'study_open') {
      tune = true;
      mode = data.direction === 'maximize' ? 'max' : 'min';
    }
    if (event !== 'trial_end' || typeof data.number !== 'number') continue;
    tune = true;
    const history = Array.isArray(data.history) ? (data.history as { epoch: number; value: number }[]) : [];
    const value = typeof data.value === 'number' ? data.value : (history[history.length - 1]?.value ?? null);
    const best = history.reduce<number | null>((b, h) => (b === null || better(mode, h.value, b) ? h.value : b), null);
    byNumber.set(data.number, {
      number: data.number,
      runId: typeof data.run === 'string' ? data.run : '',
      status: STATUS_OF_STUDY_STATE[String(data.state)] ?? 'failed',
      params: (data.params ?? {}) as Record<string, ParamValue>,
      history,
      metric: value,
      best,
      epochs: typeof data.epochs === 'number' ? data.epochs : history.length,
    });
  }
  if (!tune) return undefined;
  const trials = [...byNumber.values()].sort((a, b) => a.number - b.number);
  rankTrials(trials, mode);
  return trials;
}

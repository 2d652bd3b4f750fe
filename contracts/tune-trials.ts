/**
 * The trials of a tune as people see them (`RunState.trials`): each trial's status, params,
 * metric history and rank, the ranking, the Web UI's table of the best, and the trials of an
 * ended tune rebuilt from its run events. Imports nothing, so that run-state.ts, below the
 * rest of the tune's contracts (contracts/tune.ts), can show trials.
 */

/** A value of a searched hyperparameter (what Optuna stores: JSON scalars). */
export type ParamValue = string | number | boolean | null;

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
  checkpoint?: { storage: number; key: string };
  /** Every metric of its last epoch. */
  last?: Record<string, number | string | boolean | null>;
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

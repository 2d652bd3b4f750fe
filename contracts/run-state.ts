/**
 * The state of a run as people see it: status, progress per category with the weighted
 * overall percent, latest metrics, result or error. Pure data and pure functions only:
 * the workflow, the activities, the CLI and the gateway all share this one model.
 */
import { trialsMarkdown, type TuneTrial } from './tune-trials.js';

export type RunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed_out';

export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'terminated', 'timed_out'];

export interface CategoryProgress {
  current: number;
  total: number;
}

/** A declared progress category: its share of the overall percent and a label for people. */
export interface ProgressCategoryDef {
  weight: number;
  label?: string;
}

export type MetricValue = number | string | boolean | null;
export type MetricValues = Record<string, MetricValue>;

/** What an activity reports to its workflow (throttled) and writes to the run store. */
export interface ProgressSnapshot {
  progress: Record<string, CategoryProgress>;
  metrics: Record<string, MetricValues>;
  /** Human words for the step now running, shown in the Web UI. */
  step?: string;
}

export interface EpochMetrics {
  epoch: number;
  metrics: MetricValues;
}

export interface RunState extends ProgressSnapshot {
  runId: string;
  plugin: { code: string; version: string };
  action: string;
  category: string;
  method: string;
  status: RunStatus;
  /**
   * Someone asked to cancel the run and it has not ended yet (the steps stop at their next
   * heartbeat, within about a second): shown as `running (cancellation requested)`.
   */
  cancelRequested?: boolean;
  /** Weighted overall progress, 0..100. */
  percent: number;
  progressCategories: Record<string, ProgressCategoryDef>;
  attempt: number;
  /**
   * A running run whose step is being retried: why its last attempt failed (Temporal's pending
   * activity's last failure, already scrubbed of secrets by the step). Absent otherwise.
   */
  lastFailure?: string;
  /** Train runs: every epoch's metrics so far, oldest first (carried across continue-as-new). */
  epochs?: EpochMetrics[];
  /** Tune runs: every trial's params, metric history and status, by trial number. */
  trials?: TuneTrial[];
  result?: unknown;
  error?: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

/** Fraction done of one category. A total of 0 means there was nothing to do: done. */
export function categoryFraction(p: CategoryProgress): number {
  if (p.total <= 0) return 1;
  return Math.min(1, Math.max(0, p.current / p.total));
}

/**
 * Overall percent as the weighted sum over progress categories. Declared categories count
 * with their weights (one not yet reported counts as 0 done); when none are declared, every
 * reported category weighs the same.
 */
export function overallPercent(progress: Record<string, CategoryProgress>, declared: Record<string, ProgressCategoryDef>): number {
  const names = Object.keys(declared).length > 0 ? Object.keys(declared) : Object.keys(progress);
  let weightSum = 0;
  let done = 0;
  for (const name of names) {
    const weight = declared[name]?.weight ?? 1;
    weightSum += weight;
    const p = progress[name];
    if (p) done += weight * categoryFraction(p);
  }
  if (weightSum === 0) return 0;
  return Math.round((done / weightSum) * 1000) / 10;
}

/** The status as people read it: `running (cancellation requested)` between a cancel and the end. */
export function statusWords(state: Pick<RunState, 'status' | 'cancelRequested'>): string {
  return state.cancelRequested && state.status === 'running' ? 'running (cancellation requested)' : state.status;
}

/** Epoch rows the Web UI's details show at most: the newest, so the details box fits however long the run. */
export const UI_EPOCH_ROWS = 10;

/**
 * The epoch table of a train run's details: one column per metric (a row per epoch stays one
 * short line, not a cut-off list), every epoch up to UI_EPOCH_ROWS, else the latest ones under a
 * line that says so ("latest 10 of 51 epochs").
 */
export function epochTableMarkdown(epochs: readonly EpochMetrics[]): string[] {
  const shown = epochs.slice(-UI_EPOCH_ROWS);
  const keys = [...new Set(shown.flatMap((e) => Object.keys(e.metrics)))];
  const cell = (v: MetricValue | undefined): string => (v === undefined ? '' : typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v));
  const lines = epochs.length > shown.length ? [`Epochs: latest ${shown.length} of ${epochs.length}`, ''] : [];
  lines.push(`| epoch | ${keys.join(' | ')} |`, `|---|${keys.map(() => '---|').join('')}`);
  for (const e of shown) lines.push(`| ${e.epoch} | ${keys.map((k) => cell(e.metrics[k])).join(' | ')} |`);
  return lines;
}

/** Markdown for the Web UI's "current details" of a run. */
export function describeForUi(state: RunState): string {
  const lines = [`**${state.plugin.code}@${state.plugin.version} · ${state.action}** — ${statusWords(state)}, ${state.percent}%`];
  if (state.step) lines.push(`Step: ${state.step}`);
  const cats = Object.keys({ ...state.progressCategories, ...state.progress });
  if (cats.length > 0) {
    lines.push('', '| progress | done | of |', '|---|---|---|');
    for (const c of cats) {
      const p = state.progress[c];
      lines.push(`| ${c} | ${p ? p.current : 0} | ${p ? p.total : '?'} |`);
    }
  }
  for (const [cat, values] of Object.entries(state.metrics)) {
    const shown = Object.entries(values)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(6)) : String(v)}`)
      .join(', ');
    lines.push('', `Metrics (${cat}): ${shown}`);
  }
  if (state.epochs && state.epochs.length > 0) lines.push('', ...epochTableMarkdown(state.epochs));
  // Tune runs: the best trials (their own pages are the run's children).
  if (state.trials && state.trials.length > 0) lines.push('', ...trialsMarkdown(state.trials));
  return lines.join('\n');
}

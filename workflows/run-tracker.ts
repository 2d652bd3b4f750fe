/**
 * The bookkeeping every run shape shares: the RunState people see, the `runState` query,
 * the `reportProgress` signal from activities, the Web UI's current details, and the final
 * status mirrored into the run store. A run shape creates one tracker, names each step with
 * `step(label, fn)` (the Web UI's current step), and ends with `complete(result)` or
 * `fail(err)`; run-shape.ts's `runShape` does the ending.
 */
import { CancellationScope, isCancellation, proxyLocalActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import { describeForUi, overallPercent, type ProgressCategoryDef, type ProgressSnapshot, type RunState } from '../contracts/run-state.js';
import { reportProgressSignal, runStateQuery } from '../contracts/run-messages.js';
import type { Activities } from './steps.js';

const { recordRunStatus, recordRunProgress } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

export interface TrackedRun {
  plugin: { code: string; version: string };
  action: string;
  category: string;
  method: string;
  progressCategories: Record<string, ProgressCategoryDef>;
}

/** What every shape's continue-as-new carry holds for the tracker. */
export interface RunCarry {
  /** The highest attempt of any step so far (1 = no retry). */
  attempt: number;
  /** When the first run of the chain started (ISO 8601). */
  startedAt: string;
}

export interface TrackerOptions {
  /** The carry of the run this one continues, if any: its attempt and start time go on. */
  carry?: RunCarry | undefined;
  /** Progress / metrics categories the workflow computes itself; reports of them are ignored. */
  own?: { progress?: string[]; metrics?: string[] };
}

export interface RunTracker {
  readonly state: RunState;
  /** Recomputes the overall percent and refreshes the Web UI's current details. */
  publish(): void;
  /**
   * Runs one step of the shape under a label: sets `state.step` (the Web UI's current step
   * and the query's), publishes, then returns what `fn` returns. The label stays until the
   * next step's or the end of the run.
   */
  step<T>(label: string, fn: () => Promise<T>): Promise<T>;
  /** Merges a snapshot (an activity's final one) into the state. */
  merge(snapshot: ProgressSnapshot): void;
  /**
   * Writes the workflow's own progress and metrics categories (`own`) to the run store as
   * run events, so `run logs`, `run watch` and the gateway's event stream see them too.
   * Call it after a step (an export page), not on every publish: each call is a local activity.
   */
  record(): Promise<void>;
  /**
   * Marks the run completed, records it (unless `statusRecorded()` was called), and returns
   * the final state (the workflow's result).
   */
  complete(result: unknown): Promise<RunState>;
  /**
   * The last step recorded the run completed in the run store itself (the simple shape's
   * `runAction`): `complete` skips its `recordRunStatus` local activity. A failure or a
   * cancellation after it is still recorded.
   */
  statusRecorded(): void;
  /** Marks the run failed or cancelled, records it (even while cancelled), and rethrows. */
  fail(err: unknown): Promise<never>;
}

export function trackRun(run: TrackedRun, options: TrackerOptions = {}): RunTracker {
  const info = workflowInfo();
  const startedAt = options.carry?.startedAt ?? info.startTime.toISOString();
  const ownProgress = new Set(options.own?.progress ?? []);
  const ownMetrics = new Set(options.own?.metrics ?? []);
  let completionRecorded = false;
  const state: RunState = {
    runId: info.workflowId,
    plugin: { code: run.plugin.code, version: run.plugin.version },
    action: run.action,
    category: run.category,
    method: run.method,
    status: 'running',
    percent: 0,
    progress: {},
    metrics: {},
    progressCategories: run.progressCategories,
    attempt: options.carry?.attempt ?? 1,
    startedAt,
    updatedAt: startedAt,
  };
  const publish = (): void => {
    state.percent = overallPercent(state.progress, state.progressCategories);
    state.updatedAt = new Date().toISOString();
    setCurrentDetails(describeForUi(state));
  };
  const merge = (snapshot: ProgressSnapshot): void => {
    for (const [cat, p] of Object.entries(snapshot.progress)) if (!ownProgress.has(cat)) state.progress[cat] = p;
    for (const [cat, values] of Object.entries(snapshot.metrics)) {
      if (!ownMetrics.has(cat)) state.metrics[cat] = { ...state.metrics[cat], ...values };
    }
  };

  setHandler(runStateQuery, () => state);
  // A cancel shows at once in the query, the Web UI and so `run status` and the gateway,
  // before the steps have seen it (no command: replays the same).
  CancellationScope.current().cancelRequested.catch(() => {
    if (state.status !== 'running') return;
    state.cancelRequested = true;
    publish();
  });
  setHandler(reportProgressSignal, (report) => {
    if (state.status !== 'running') return;
    state.attempt = Math.max(state.attempt, report.attempt);
    merge(report);
    if (report.step !== undefined) state.step = report.step;
    publish();
  });

  return {
    state,
    publish,
    step<T>(label: string, fn: () => Promise<T>): Promise<T> {
      state.step = label;
      publish();
      return fn();
    },
    merge,
    async record(): Promise<void> {
      const progress = Object.fromEntries(Object.entries(state.progress).filter(([cat]) => ownProgress.has(cat)));
      const metrics = Object.fromEntries(Object.entries(state.metrics).filter(([cat]) => ownMetrics.has(cat)));
      if (Object.keys(progress).length === 0 && Object.keys(metrics).length === 0) return;
      await recordRunProgress({ runId: state.runId, attempt: state.attempt, progress, metrics });
    },
    async complete(result: unknown): Promise<RunState> {
      state.result = result;
      state.status = 'completed';
      state.finishedAt = new Date().toISOString();
      delete state.step;
      publish();
      if (!completionRecorded) await recordRunStatus({ runId: state.runId, status: 'completed', result: state.result });
      return state;
    },
    statusRecorded(): void {
      completionRecorded = true;
    },
    async fail(err: unknown): Promise<never> {
      state.status = isCancellation(err) ? 'cancelled' : 'failed';
      state.error = failureMessage(err);
      state.finishedAt = new Date().toISOString();
      publish();
      await CancellationScope.nonCancellable(() => recordRunStatus({ runId: state.runId, status: state.status, error: state.error }));
      throw err;
    },
  };
}

/** The innermost message of a failure chain: what actually went wrong. */
function failureMessage(err: unknown): string {
  let current: unknown = err;
  let message = String(err);
  while (current instanceof Error) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}

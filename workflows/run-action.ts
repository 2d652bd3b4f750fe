/**
 * The simplest run shape: one heartbeating activity runs the plugin action's `start(ctx)`.
 * The activity checkpoints through heartbeats and the run store, so a retry after a lost
 * worker resumes where the last checkpoint left off. Progress reported by the activity
 * arrives as a signal and is served by the `runState` query and the Web UI's details.
 */
import {
  ActivityCancellationType,
  CancellationScope,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import { describeForUi, overallPercent, type ProgressCategoryDef, type ProgressSnapshot, type RunState } from './run-state.js';

export interface RunActionInput {
  plugin: {
    code: string;
    version: string;
    /** Folder the client loaded the plugin from; the worker uses it when it is the same plugin. */
    dir?: string;
  };
  action: string;
  category: string;
  method: string;
  /** Raw params; the activity validates them against the action's schema. */
  params: unknown;
  progressCategories: Record<string, ProgressCategoryDef>;
  /** Seconds without a heartbeat after which the step is retried on another worker. */
  heartbeatTimeoutSeconds: number;
  /** Upper bound of one attempt of the step. */
  startToCloseSeconds: number;
}

/** Sent by the running activity, throttled; later snapshots replace earlier values. */
export interface ProgressReport extends ProgressSnapshot {
  attempt: number;
}

export const runStateQuery = defineQuery<RunState>('runState');
export const reportProgressSignal = defineSignal<[ProgressReport]>('reportProgress');

const { recordRunStatus } = proxyLocalActivities<typeof activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

export async function runActionWorkflow(input: RunActionInput): Promise<RunState> {
  const info = workflowInfo();
  const state: RunState = {
    runId: info.workflowId,
    plugin: { code: input.plugin.code, version: input.plugin.version },
    action: input.action,
    category: input.category,
    method: input.method,
    status: 'running',
    percent: 0,
    progress: {},
    metrics: {},
    progressCategories: input.progressCategories,
    attempt: 1,
    startedAt: info.startTime.toISOString(),
    updatedAt: info.startTime.toISOString(),
  };
  const publish = (): void => {
    state.percent = overallPercent(state.progress, state.progressCategories);
    state.updatedAt = new Date().toISOString();
    setCurrentDetails(describeForUi(state));
  };

  setHandler(runStateQuery, () => state);
  setHandler(reportProgressSignal, (report) => {
    if (state.status !== 'running') return;
    state.attempt = Math.max(state.attempt, report.attempt);
    Object.assign(state.progress, report.progress);
    for (const [cat, values] of Object.entries(report.metrics)) state.metrics[cat] = { ...state.metrics[cat], ...values };
    if (report.step !== undefined) state.step = report.step;
    publish();
  });
  publish();

  const { runAction } = proxyActivities<typeof activities>({
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    // Let the action see the cancellation and stop cleanly before the run is marked cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  try {
    const output = await runAction.executeWithOptions(
      { summary: `${input.plugin.code}@${input.plugin.version} ${input.action}` },
      [{ runId: info.workflowId, ...input }],
    );
    Object.assign(state.progress, output.snapshot.progress);
    for (const [cat, values] of Object.entries(output.snapshot.metrics)) state.metrics[cat] = { ...state.metrics[cat], ...values };
    state.attempt = output.attempt;
    state.result = output.result;
    state.status = 'completed';
  } catch (err) {
    state.status = isCancellation(err) ? 'cancelled' : 'failed';
    state.error = failureMessage(err);
    state.finishedAt = new Date().toISOString();
    publish();
    await CancellationScope.nonCancellable(() =>
      recordRunStatus({ runId: state.runId, status: state.status, error: state.error }),
    );
    throw err;
  }
  state.finishedAt = new Date().toISOString();
  delete state.step;
  publish();
  await recordRunStatus({ runId: state.runId, status: 'completed', result: state.result });
  return state;
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

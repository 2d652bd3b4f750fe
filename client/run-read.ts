/**
 * Reading runs: one run's state (Temporal's query while it runs, its result or the run store
 * after), pages of runs from Temporal visibility, a run's events from the run store. Also
 * the pieces the start and follow modules share: `describeRun`, the status names, and how a
 * Temporal error becomes one a person can act on.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { InvalidInputError, NotFoundError, SynapseError } from '../contracts/errors.js';
import { runStateQuery } from '../contracts/run-messages.js';
import {
  overallPercent,
  TERMINAL_STATUSES,
  type CategoryProgress,
  type MetricValues,
  type ProgressCategoryDef,
  type RunState,
  type RunStatus,
} from '../contracts/run-state.js';
import { trialsFromEvents } from '../contracts/tune.js';
import type { RunEvent, RunRecord, RunStore } from '../platform/run-store.js';
import { SA_ACTION, SA_CATEGORY, SA_METHOD, SA_PLUGIN_CODE, SA_PLUGIN_VERSION } from './search-attributes.js';
import type { Settings } from './settings.js';
import { unreachable } from './temporal.js';

/** What the run functions work with: the settings, a connected Temporal client and the run store (a RunsClient is one). */
export interface RunsParts {
  readonly settings: Settings;
  readonly temporal: Client;
  readonly store: RunStore;
}

export interface RunSummary {
  runId: string;
  plugin: string;
  version: string;
  action: string;
  category: string;
  status: RunStatus;
  startedAt?: string;
  closedAt?: string;
}

export interface RunListFilter {
  plugin?: string;
  action?: string;
  category?: string;
  status?: RunStatus;
  limit?: number;
}

export interface RunPage {
  runs: RunSummary[];
  /** Opaque; absent on the last page. */
  nextPageToken?: string;
}

/** A workflow execution's status (WorkflowExecutionDescription.status.name) as a run status. */
const TEMPORAL_STATUS: Record<string, RunStatus> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
  CONTINUED_AS_NEW: 'running',
};
/** temporal.api.enums.v1.WorkflowExecutionStatus, as listed by visibility. */
const RAW_STATUS: Record<number, RunStatus> = {
  1: 'running',
  2: 'completed',
  3: 'failed',
  4: 'cancelled',
  5: 'terminated',
  6: 'running',
  7: 'timed_out',
};
const STATUS_QUERY: Partial<Record<RunStatus, string>> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  timed_out: 'TimedOut',
};

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The run status of a described workflow execution. */
export function statusOf(description: WorkflowExecutionDescription): RunStatus {
  return TEMPORAL_STATUS[description.status.name] ?? 'running';
}

/** Temporal's description of the run's workflow; an unknown id is a NotFoundError (exit 3, HTTP 404). */
export async function describeRun(parts: RunsParts, runId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await parts.temporal.workflow.getHandle(runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError(`unknown run "${runId}"`);
    throw wrapTemporalError(parts.settings, err);
  }
}

/**
 * Brings the run store's status of a run in line with Temporal's once the run has ended. A
 * run's workflow records its own end (completed, failed, cancelled), but a terminated or
 * timed-out workflow runs no more code: its row would say `running` for ever, keeping its
 * model name taken and its resume refused. Returns whether the row was changed.
 */
export async function reconcileStoreStatus(store: RunStore, runId: string, temporalStatus: RunStatus): Promise<boolean> {
  if (!isTerminal(temporalStatus)) return false;
  const record = await store.getRun(runId);
  if (!record || isTerminal(record.status)) return false;
  await store.updateRun(runId, { status: temporalStatus, ...(record.error ? {} : { error: `the run was ${temporalStatus.replace('_', ' ')} in Temporal` }) });
  return true;
}

/**
 * Reconciles every run the store says is running or pending (of `filter`) with Temporal:
 * what has ended there (terminated, timed out, or an end the workflow could not record) is
 * recorded as ended. Used before a check that counts running runs (model names).
 */
export async function reconcileRunningRuns(parts: RunsParts, filter: { category?: string; action?: string } = {}): Promise<void> {
  for (const status of ['running', 'pending'] as const) {
    for (const run of await parts.store.listRuns({ ...filter, status, limit: 1000 })) {
      let temporalStatus: RunStatus;
      try {
        temporalStatus = statusOf(await parts.temporal.workflow.getHandle(run.id).describe());
      } catch (err) {
        // A pending row whose workflow never started (the start failed) is left alone.
        if (err instanceof WorkflowNotFoundError) continue;
        throw wrapTemporalError(parts.settings, err);
      }
      await reconcileStoreStatus(parts.store, run.id, temporalStatus);
    }
  }
}

/** The run's state: from Temporal's query while it runs, from its result or the run store after. */
export async function runState(parts: RunsParts, runId: string): Promise<RunState> {
  const description = await describeRun(parts, runId);
  const status = statusOf(description);
  if (status === 'terminated' || status === 'timed_out') await reconcileStoreStatus(parts.store, runId, status);
  const handle = parts.temporal.workflow.getHandle(runId);
  if (status === 'running') {
    let state: RunState;
    try {
      state = await parts.temporal.withDeadline(Date.now() + 3000, () => handle.query(runStateQuery));
    } catch {
      state = await stateFromStore(parts.store, runId, description, status);
    }
    // A step whose worker is gone has its next attempt scheduled in Temporal before any
    // worker reports it: the attempt shown is the higher of the two.
    state.attempt = Math.max(state.attempt, pendingAttempt(description));
    const lastFailure = state.status === 'running' ? pendingFailure(description) : undefined;
    if (lastFailure) state.lastFailure = lastFailure;
    return state;
  }
  if (status === 'completed') return (await handle.result()) as RunState;
  // Ended otherwise: the workflow's own state at its end (a worker answers the query of a
  // closed run by replaying it) keeps what the run store's events do not hold: the train
  // progress and the epoch table. Without a worker, the run store's events.
  const state = (await endedStateFromQuery(parts, runId, description, status)) ?? (await stateFromStore(parts.store, runId, description, status));
  try {
    await handle.result();
  } catch (err) {
    state.error = innermostMessage(err);
  }
  return state;
}

/**
 * One page of runs from Temporal visibility, newest first (by start, within the page). `nextPageToken` (opaque) is
 * absent on the last page; pass it back as `pageToken` for the next one. A token of another
 * query is an InvalidInputError.
 */
export async function listRunPage(
  parts: RunsParts,
  filter: Omit<RunListFilter, 'limit'>,
  page: { pageSize?: number; pageToken?: string } = {},
): Promise<RunPage> {
  const clauses: string[] = [`${SA_PLUGIN_CODE.name} IS NOT NULL`];
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (filter.plugin) clauses.push(`${SA_PLUGIN_CODE.name} = ${quote(filter.plugin)}`);
  if (filter.action) clauses.push(`${SA_ACTION.name} = ${quote(filter.action)}`);
  if (filter.category) clauses.push(`${SA_CATEGORY.name} = ${quote(filter.category)}`);
  if (filter.status) clauses.push(`ExecutionStatus = ${quote(STATUS_QUERY[filter.status] ?? filter.status)}`);
  // One row per run: a long run's continue-as-new segments are executions of the same id
  // that ended ContinuedAsNew; only its latest execution is the run.
  else clauses.push(`ExecutionStatus != 'ContinuedAsNew'`);
  const query = clauses.join(' AND ');
  // Page tokens name their query, so a token cannot be replayed against another filter
  // and garbage is refused here rather than by the server.
  const queryTag = createHash('sha256').update(query).digest('base64url').slice(0, 12);
  let nextPageToken = Buffer.alloc(0);
  if (page.pageToken) {
    const match = /^([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]+)$/.exec(page.pageToken);
    if (!match || match[1] !== queryTag) {
      throw new InvalidInputError('invalid page token', [{ path: 'pageToken', message: 'not a page token of this query; start again without it' }]);
    }
    nextPageToken = Buffer.from(match[2] as string, 'base64url');
  }
  let response;
  try {
    response = await parts.temporal.workflowService.listWorkflowExecutions({
      namespace: parts.temporal.options.namespace,
      query,
      pageSize: page.pageSize ?? 50,
      nextPageToken,
    });
  } catch (err) {
    throw wrapTemporalError(parts.settings, err);
  }
  const keyword = (fields: Record<string, Payload> | null | undefined, name: string): string => {
    const payload = fields?.[name];
    const value: unknown = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
    return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : '';
  };
  const runs = response.executions.map((wf): RunSummary => {
    const fields = wf.searchAttributes?.indexedFields as Record<string, Payload> | null | undefined;
    const startedAt = timestampToIso(wf.startTime);
    const closedAt = timestampToIso(wf.closeTime);
    return {
      runId: wf.execution?.workflowId ?? '',
      plugin: keyword(fields, SA_PLUGIN_CODE.name),
      version: keyword(fields, SA_PLUGIN_VERSION.name),
      action: keyword(fields, SA_ACTION.name),
      category: keyword(fields, SA_CATEGORY.name),
      status: RAW_STATUS[wf.status ?? 1] ?? 'running',
      ...(startedAt ? { startedAt } : {}),
      ...(closedAt ? { closedAt } : {}),
    };
  });
  // Visibility lists open executions before closed ones (by close time), so a run started an
  // hour ago that still runs came before one started a minute ago that ended: newest first by
  // start within the page, as people read a list.
  runs.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
  const token = response.nextPageToken;
  return { runs, ...(token && token.length > 0 ? { nextPageToken: `${queryTag}.${Buffer.from(token).toString('base64url')}` } : {}) };
}

/** Log lines and other events of a run, oldest first, after the event id `afterId`. */
export function runEvents(parts: RunsParts, runId: string, afterId = 0, limit = 1000): Promise<RunEvent[]> {
  return parts.store.readEvents(runId, afterId, limit);
}

/** A SynapseError as it is; an unreachable server as UnavailableError (exit 4, HTTP 503); anything else as an Error. */
export function wrapTemporalError(settings: Settings, err: unknown): Error {
  if (err instanceof SynapseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // The client wraps gRPC errors ("ServiceError: Failed to start Workflow"): the code is in the cause.
  const reason = errorChainMessage(err);
  if (/UNAVAILABLE|ECONNREFUSED|DEADLINE_EXCEEDED|No connection established/i.test(reason)) return unreachable(settings, reasonError(err));
  return err instanceof Error ? err : new Error(message);
}

/** The messages of an error and its causes, joined (a few levels; cycles end it). */
export function errorChainMessage(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}

/** The innermost cause of an error (what the user should read), or the error itself. */
function reasonError(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 5 && e instanceof Error && e.cause !== undefined; depth++) e = e.cause;
  return e;
}

/** The highest attempt of the run's pending activities (0 when none). */
export function pendingAttempt(d: WorkflowExecutionDescription): number {
  return Math.max(0, ...(d.raw.pendingActivities ?? []).map((a) => a.attempt ?? 0));
}

/** Why the run's retried pending activity failed its last attempt (the highest attempt's), or undefined. */
export function pendingFailure(d: WorkflowExecutionDescription): string | undefined {
  const retried = (d.raw.pendingActivities ?? []).filter((a) => (a.attempt ?? 0) > 1 && a.lastFailure?.message);
  retried.sort((a, b) => (b.attempt ?? 0) - (a.attempt ?? 0));
  return retried[0]?.lastFailure?.message ?? undefined;
}

/** The query's state of an ended run, with Temporal's status and close time; undefined when no worker answers. */
async function endedStateFromQuery(parts: RunsParts, runId: string, d: WorkflowExecutionDescription, status: RunStatus): Promise<RunState | undefined> {
  let state: RunState;
  try {
    state = await parts.temporal.withDeadline(Date.now() + 3000, () => parts.temporal.workflow.getHandle(runId).query(runStateQuery));
  } catch {
    return undefined;
  }
  const { cancelRequested: _asked, step: _step, ...rest } = state;
  // The workflow knows the attempts its steps reported; a step that failed for good did not
  // report its last one, which the run store's events (its "attempt N failed" line) name.
  rest.attempt = Math.max(rest.attempt, await parts.store.highestAttempt(runId).catch(() => 0));
  return { ...rest, status, ...(d.closeTime ? { finishedAt: d.closeTime.toISOString(), updatedAt: d.closeTime.toISOString() } : {}) };
}

/** Rebuilds a run's state from the run store's events (for runs no worker can answer for). */
async function stateFromStore(store: RunStore, runId: string, d: WorkflowExecutionDescription, status: RunStatus): Promise<RunState> {
  const record: RunRecord | undefined = await store.getRun(runId);
  const progress: Record<string, CategoryProgress> = {};
  const metrics: Record<string, MetricValues> = {};
  // Tune runs: their finished trials, from the study steps' events.
  const tuneEvents: { event: string; data: Record<string, unknown> }[] = [];
  let attempt = 1;
  let afterId = 0;
  for (;;) {
    const events = await store.readEvents(runId, afterId, 5000);
    for (const e of events) {
      afterId = e.id;
      attempt = Math.max(attempt, e.attempt);
      if (e.data.kind === 'progress') progress[e.data.category] = { current: e.data.current, total: e.data.total };
      if (e.data.kind === 'metrics') metrics[e.data.category] = { ...metrics[e.data.category], ...e.data.values };
      if (e.data.kind === 'event' && (e.data.event === 'study_open' || e.data.event === 'trial_end')) tuneEvents.push(e.data);
    }
    if (events.length < 5000) break;
  }
  const memo = (d.memo ?? {}) as { progressCategories?: Record<string, ProgressCategoryDef> };
  const progressCategories = memo.progressCategories ?? {};
  const sa = d.typedSearchAttributes;
  const trials = trialsFromEvents(tuneEvents);
  return {
    runId,
    plugin: { code: sa.get(SA_PLUGIN_CODE) ?? record?.pluginCode ?? '', version: sa.get(SA_PLUGIN_VERSION) ?? record?.pluginVersion ?? '' },
    action: sa.get(SA_ACTION) ?? record?.action ?? '',
    category: sa.get(SA_CATEGORY) ?? record?.category ?? '',
    method: sa.get(SA_METHOD) ?? record?.method ?? '',
    status,
    percent: overallPercent(progress, progressCategories),
    progress,
    metrics,
    progressCategories,
    attempt,
    ...(trials ? { trials } : {}),
    ...(record?.error ? { error: record.error } : {}),
    startedAt: d.startTime.toISOString(),
    updatedAt: (d.closeTime ?? new Date()).toISOString(),
    ...(d.closeTime ? { finishedAt: d.closeTime.toISOString() } : {}),
  };
}

function timestampToIso(ts: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts || ts.seconds == null) return undefined;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

function innermostMessage(err: unknown): string {
  let current: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  let message = String(current);
  while (current instanceof Error) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}

/**
 * The one client module the CLI and the gateway share: start, list, describe, cancel and
 * follow runs. It talks to Temporal for what Temporal owns (status, result, cancellation)
 * and to the run store for what activities report (logs, progress, metrics).
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunEvent, RunRecord, RunStore } from '../platform/run-store.js';
import { KyselyRunStore } from '../platform/kysely-run-store.js';
import { InvalidInputError, NotFoundError, SynapseError } from '../contracts/errors.js';
import { findPlugin, loadAction } from '../engine/plugin-loader.js';
import type { RunActionInput } from '../contracts/run-input.js';
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
import { newRunId, RUN_ID_PATTERN } from './ids.js';
import { runShapeFor } from './run-shapes.js';
import { trainInputExtras, trainPreflight, trainResumePoint } from './train-shapes.js';
import type { TrainResumePoint } from '../contracts/train.js';
import { SA_ACTION, SA_CATEGORY, SA_METHOD, SA_PLUGIN_CODE, SA_PLUGIN_VERSION } from './search-attributes.js';
import { runUiUrl, taskQueueFor, type Settings } from './settings.js';
import { connectClient, unreachable } from './temporal.js';

export interface StartRunRequest {
  /** Plugin code, `code@version`, or a folder path. */
  plugin: string;
  action: string;
  params?: unknown;
  /** Run id (`--job-id`); generated when absent. */
  runId?: string;
  /** Overrides the action's heartbeat timeout (seconds). */
  heartbeatTimeoutSeconds?: number;
  /** Train runs: start after an earlier run's last checkpoint (`resume()` sets it). */
  resume?: TrainResumePoint;
}

export interface StartedRun {
  runId: string;
  plugin: { code: string; version: string };
  action: string;
  uiUrl?: string;
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

/** What `follow` yields: each new run event, then the final state once the run has ended. */
export type FollowItem = { type: 'event'; event: RunEvent } | { type: 'end'; state: RunState };

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

/** Seconds an attempt of a step may take at most, per method (heartbeats catch lost workers sooner). */
const START_TO_CLOSE_SECONDS: Record<string, number> = { job: 7 * 24 * 3600, task: 3600, restapi: 365 * 24 * 3600 };

export class RunsClient {
  constructor(
    readonly settings: Settings,
    readonly temporal: Client,
    readonly store: RunStore,
  ) {}

  static async connect(settings: Settings): Promise<RunsClient> {
    // The run store: <data dir>/synapse.db, or Postgres when DATABASE_URL is set.
    const store = await KyselyRunStore.open({ dataDir: settings.dataDir });
    try {
      return new RunsClient(settings, await connectClient(settings), store);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.store.close();
    await this.temporal.connection.close();
  }

  /** Validates everything it can before anything starts, then starts the run's workflow. */
  async start(req: StartRunRequest): Promise<StartedRun> {
    const plugin = await findPlugin(req.plugin);
    const action = await loadAction(plugin, req.action);
    // The category's run shape: its workflow and its params check (run-shapes.ts).
    const shape = runShapeFor(action);
    const params = shape.parseParams(action, req.params);
    await trainPreflight(shape, action, params, this.settings, this.store);
    if (req.runId !== undefined && !RUN_ID_PATTERN.test(req.runId)) {
      throw new InvalidInputError('invalid run id', [
        { path: 'job-id', message: 'use 1-200 letters, digits, ".", "_" or "-", starting with a letter or digit' },
      ]);
    }
    const { code, version, category } = plugin.config;
    const runId = req.runId ?? newRunId(code, req.action);
    const input: RunActionInput = {
      plugin: { code, version, dir: plugin.dir },
      action: req.action,
      category,
      method: action.method,
      params,
      progressCategories: action.progressCategories,
      heartbeatTimeoutSeconds: req.heartbeatTimeoutSeconds ?? action.config.heartbeat_timeout ?? 30,
      startToCloseSeconds: START_TO_CLOSE_SECONDS[action.method] ?? 3600,
    };
    const now = new Date().toISOString();
    await this.store.createRun({
      id: runId,
      pluginCode: code,
      pluginVersion: version,
      action: req.action,
      category,
      method: action.method,
      status: 'pending',
      params,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.temporal.workflow.start(shape.workflow, {
        workflowId: runId,
        // A run id names one run forever: its events and checkpoints are keyed by it.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        taskQueue: taskQueueFor(this.settings, action.method),
        args: [{ ...input, ...trainInputExtras(shape, params, this.settings, req.resume) }],
        typedSearchAttributes: [
          { key: SA_PLUGIN_CODE, value: code },
          { key: SA_PLUGIN_VERSION, value: version },
          { key: SA_ACTION, value: req.action },
          { key: SA_CATEGORY, value: category },
          { key: SA_METHOD, value: action.method },
        ],
        memo: { progressCategories: action.progressCategories },
        staticSummary: `${code}@${version} · ${req.action}`,
        staticDetails: `Plugin **${plugin.config.name}** (${category}), action \`${req.action}\` run as a ${action.method}.`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new InvalidInputError('cannot start the run', [{ path: 'job-id', message: `run id "${runId}" is already in use` }]);
      }
      throw wrapTemporalError(this.settings, err);
    }
    const uiUrl = runUiUrl(this.settings, runId);
    return { runId, plugin: { code, version }, action: req.action, ...(uiUrl ? { uiUrl } : {}) };
  }

  /** The run's state: from Temporal's query while it runs, from its result or the run store after. */
  async state(runId: string): Promise<RunState> {
    const description = await this.describe(runId);
    const status = TEMPORAL_STATUS[description.status.name] ?? 'running';
    const handle = this.temporal.workflow.getHandle(runId);
    if (status === 'running') {
      try {
        return await this.temporal.withDeadline(Date.now() + 3000, () => handle.query(runStateQuery));
      } catch {
        return await this.stateFromStore(runId, description, status);
      }
    }
    if (status === 'completed') return (await handle.result()) as RunState;
    const state = await this.stateFromStore(runId, description, status);
    try {
      await handle.result();
    } catch (err) {
      state.error = innermostMessage(err);
    }
    return state;
  }

  async list(filter: RunListFilter = {}): Promise<RunSummary[]> {
    return (await this.listPage(filter, { pageSize: filter.limit ?? 50 })).runs;
  }

  /**
   * One page of runs from Temporal visibility, newest first. `nextPageToken` (opaque) is
   * absent on the last page; pass it back as `pageToken` for the next one.
   */
  async listPage(filter: Omit<RunListFilter, 'limit'>, page: { pageSize?: number; pageToken?: string } = {}): Promise<RunPage> {
    const clauses: string[] = [`${SA_PLUGIN_CODE.name} IS NOT NULL`];
    const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    if (filter.plugin) clauses.push(`${SA_PLUGIN_CODE.name} = ${quote(filter.plugin)}`);
    if (filter.action) clauses.push(`${SA_ACTION.name} = ${quote(filter.action)}`);
    if (filter.category) clauses.push(`${SA_CATEGORY.name} = ${quote(filter.category)}`);
    if (filter.status) clauses.push(`ExecutionStatus = ${quote(STATUS_QUERY[filter.status] ?? filter.status)}`);
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
      response = await this.temporal.workflowService.listWorkflowExecutions({
        namespace: this.temporal.options.namespace,
        query,
        pageSize: page.pageSize ?? 50,
        nextPageToken,
      });
    } catch (err) {
      throw wrapTemporalError(this.settings, err);
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
    const token = response.nextPageToken;
    return { runs, ...(token && token.length > 0 ? { nextPageToken: `${queryTag}.${Buffer.from(token).toString('base64url')}` } : {}) };
  }

  /**
   * `synapse run resume`: a new run of an ended (cancelled, failed, terminated, timed out)
   * train run's plugin, action and params, starting after its last checkpoint.
   */
  async resume(runId: string, options: { runId?: string; heartbeatTimeoutSeconds?: number } = {}): Promise<StartedRun & { resumedFrom: { runId: string; epoch: number } }> {
    let status = TEMPORAL_STATUS[(await this.describe(runId)).status.name] ?? 'running';
    if (status === 'running' && TERMINAL_STATUSES.includes((await this.state(runId)).status)) {
      // Just cancelled or failed: the run says so (its query) a moment before its workflow
      // closes, while it records its status on the way out. Wait for the close, not refuse.
      await Promise.race([this.temporal.workflow.getHandle(runId).result().catch(() => {}), sleep(10_000, undefined, { ref: false })]);
      status = TEMPORAL_STATUS[(await this.describe(runId)).status.name] ?? 'running';
    }
    if (status === 'running' || status === 'completed') {
      throw new InvalidInputError('cannot resume', [{ path: 'run', message: `run ${runId} is ${status}; only an ended, unfinished run resumes (cancel it first)` }]);
    }
    const record = await this.store.getRun(runId);
    if (!record) throw new NotFoundError(`run ${runId} is not in the run store of ${this.settings.dataDir}`);
    const point = await trainResumePoint(this.store, record);
    const started = await this.start({
      plugin: `${record.pluginCode}@${record.pluginVersion}`,
      action: record.action,
      params: record.params,
      resume: point,
      ...(options.runId !== undefined ? { runId: options.runId } : {}),
      ...(options.heartbeatTimeoutSeconds !== undefined ? { heartbeatTimeoutSeconds: options.heartbeatTimeoutSeconds } : {}),
    });
    return { ...started, resumedFrom: { runId, epoch: point.epoch } };
  }

  async cancel(runId: string): Promise<void> {
    await this.describe(runId);
    try {
      await this.temporal.workflow.getHandle(runId).cancel();
    } catch (err) {
      throw wrapTemporalError(this.settings, err);
    }
  }

  /** Log lines and other events of a run, oldest first, after the event id `afterId`. */
  events(runId: string, afterId = 0, limit = 1000): Promise<RunEvent[]> {
    return this.store.readEvents(runId, afterId, limit);
  }

  /** Yields each new event of the run as it is written, then the final state. */
  async *follow(runId: string, options: { afterId?: number; pollMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<FollowItem> {
    let cursor = options.afterId ?? 0;
    const pollMs = options.pollMs ?? 250;
    let lastStatusCheck = 0;
    for (;;) {
      for (;;) {
        const batch = await this.store.readEvents(runId, cursor, 1000);
        for (const event of batch) {
          cursor = event.id;
          yield { type: 'event', event };
        }
        if (batch.length < 1000) break;
      }
      if (options.signal?.aborted) return;
      if (Date.now() - lastStatusCheck > 1000) {
        lastStatusCheck = Date.now();
        const description = await this.describe(runId);
        if (description.status.name !== 'RUNNING' && description.status.name !== 'CONTINUED_AS_NEW') {
          for (const event of await this.store.readEvents(runId, cursor, 100_000)) {
            cursor = event.id;
            yield { type: 'event', event };
          }
          yield { type: 'end', state: await this.state(runId) };
          return;
        }
      }
      await sleep(pollMs);
    }
  }

  private async describe(runId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError(`unknown run "${runId}"`);
      throw wrapTemporalError(this.settings, err);
    }
  }

  /** Rebuilds a run's state from the run store's events (for runs no worker can answer for). */
  private async stateFromStore(runId: string, d: WorkflowExecutionDescription, status: RunStatus): Promise<RunState> {
    const record: RunRecord | undefined = await this.store.getRun(runId);
    const progress: Record<string, CategoryProgress> = {};
    const metrics: Record<string, MetricValues> = {};
    let attempt = 1;
    let afterId = 0;
    for (;;) {
      const events = await this.store.readEvents(runId, afterId, 5000);
      for (const e of events) {
        afterId = e.id;
        attempt = Math.max(attempt, e.attempt);
        if (e.data.kind === 'progress') progress[e.data.category] = { current: e.data.current, total: e.data.total };
        if (e.data.kind === 'metrics') metrics[e.data.category] = { ...metrics[e.data.category], ...e.data.values };
      }
      if (events.length < 5000) break;
    }
    const memo = (d.memo ?? {}) as { progressCategories?: Record<string, ProgressCategoryDef> };
    const progressCategories = memo.progressCategories ?? {};
    const sa = d.typedSearchAttributes;
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
      ...(record?.error ? { error: record.error } : {}),
      startedAt: d.startTime.toISOString(),
      updatedAt: (d.closeTime ?? new Date()).toISOString(),
      ...(d.closeTime ? { finishedAt: d.closeTime.toISOString() } : {}),
    };
  }
}

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

function wrapTemporalError(settings: Settings, err: unknown): Error {
  if (err instanceof SynapseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/UNAVAILABLE|ECONNREFUSED|DEADLINE_EXCEEDED|No connection established/i.test(message)) return unreachable(settings, err);
  return err instanceof Error ? err : new Error(message);
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

/**
 * The one client module the CLI and the gateway share: start, list, describe, cancel and
 * follow runs. It talks to Temporal for what Temporal owns (status, result, cancellation)
 * and to the run store for what activities report (logs, progress, metrics).
 *
 * RunsClient holds the connections; the work is in three modules: run-start.ts (start and
 * resume; category differences come from the run-shape registry), run-read.ts
 * (state, lists, events) and run-follow.ts (events as they come, then the final state).
 * run-start.ts is imported when a run is first started or resumed: it brings the
 * plugin loader, the SDK and the run shapes, which `run status` or `run list` never need.
 */
import type { Client } from '@temporalio/client';
import { ConflictError } from '../contracts/errors.js';
import type { RunState } from '../contracts/run-state.js';
import type { RunEvent, RunStore } from '../platform/run-store.js';
import { LazyRunStore } from './lazy-run-store.js';
import { followRun, type FollowItem, type FollowOptions } from './run-follow.js';
import {
  describeRun,
  listRunPage,
  runEvents,
  runState,
  statusOf,
  wrapTemporalError,
  type RunListFilter,
  type RunPage,
  type RunsParts,
  type RunSummary,
} from './run-read.js';
import type { ActionDescriber } from '../engine/run-params.js';
import type { ResumedRun, StartedRun, StartRunRequest } from './run-start.js';
import type { Settings } from './settings.js';
import { connectClient } from './temporal.js';

export type { FollowItem, FollowOptions } from './run-follow.js';
export { isTerminal, type RunListFilter, type RunPage, type RunSummary } from './run-read.js';
export type { ResumedRun, StartedRun, StartRunRequest } from './run-start.js';

/** run-start.ts, imported once at the first start or resume (each `import()` call costs ~1 ms through the module loader). */
let runStart: Promise<typeof import('./run-start.js')> | undefined;
const loadRunStart = (): Promise<typeof import('./run-start.js')> => (runStart ??= import('./run-start.js'));

export class RunsClient implements RunsParts {
  /**
   * Where start and resume load an action's class to describe it and parse its params
   * (run-start.ts): undefined, in this process (the CLI: the developer's own code); the gateway
   * sets a plugin-host describer (gateway/server.ts), so plugin code never runs in it.
   */
  describer: ActionDescriber | undefined;

  constructor(
    readonly settings: Settings,
    readonly temporal: Client,
    readonly store: RunStore,
  ) {}

  /**
   * Connects to Temporal (UnavailableError when it cannot). The run store (<data dir>/synapse.db,
   * or Postgres when DATABASE_URL is set) opens at its first use (client/lazy-run-store.ts).
   */
  static async connect(settings: Settings): Promise<RunsClient> {
    const store = LazyRunStore.forDataDir(settings.dataDir);
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

  /** Validates everything it can before anything starts, then starts the run's workflow (run-start.ts). */
  async start(req: StartRunRequest): Promise<StartedRun> {
    return (await loadRunStart()).startRun(this, req, this.describer);
  }

  /** `synapse run resume`: a new run from an ended run's resume point (run-start.ts). */
  async resume(runId: string, options: { runId?: string; heartbeatTimeoutSeconds?: number } = {}): Promise<ResumedRun> {
    return (await loadRunStart()).resumeRun(this, runId, options, this.describer);
  }

  /**
   * Asks Temporal to cancel the run; the action sees it through ctx.signal within about a
   * second. An unknown run is a NotFoundError (exit 3, HTTP 404), a run that has ended a
   * ConflictError (exit 5, HTTP 409).
   */
  async cancel(runId: string): Promise<void> {
    const status = statusOf(await describeRun(this, runId));
    if (status !== 'running') throw new ConflictError(`run ${runId} has already ended (${status}): there is nothing to cancel`);
    try {
      await this.temporal.workflow.getHandle(runId).cancel();
    } catch (err) {
      throw wrapTemporalError(this.settings, err);
    }
  }

  /**
   * For a running run whose task queue no worker polls: one line saying so and what to start
   * (client/worker-hint.ts); undefined otherwise.
   */
  async workerHint(runId: string): Promise<string | undefined> {
    const description = await describeRun(this, runId);
    if (statusOf(description) !== 'running') return undefined;
    return (await import('./worker-hint.js')).noWorkerHint(this, description.taskQueue);
  }

  /** The run's state: from Temporal's query while it runs, from its result or the run store after. */
  state(runId: string): Promise<RunState> {
    return runState(this, runId);
  }

  async list(filter: RunListFilter = {}): Promise<RunSummary[]> {
    return (await listRunPage(this, filter, { pageSize: filter.limit ?? 50 })).runs;
  }

  /** One page of runs, newest first; pass `nextPageToken` back as `pageToken` for the next one. */
  listPage(filter: Omit<RunListFilter, 'limit'>, page: { pageSize?: number; pageToken?: string } = {}): Promise<RunPage> {
    return listRunPage(this, filter, page);
  }

  /** Log lines and other events of a run, oldest first, after the event id `afterId`. */
  events(runId: string, afterId = 0, limit = 1000): Promise<RunEvent[]> {
    return runEvents(this, runId, afterId, limit);
  }

  /** Yields each new event of the run as it is written, then the final state. */
  follow(runId: string, options: FollowOptions = {}): AsyncGenerator<FollowItem> {
    return followRun(this, runId, options);
  }
}

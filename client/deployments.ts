/**
 * Deployments as the CLI and the gateway see them (docs/serving.md): a deployment is a run of
 * a `deployment` action (its id is the run id); its replicas are rows of the platform
 * database that their serve steps keep fresh. This module reads both, scales through the
 * workflow's `scale` update and undeploys by cancelling the run. It is the only place that
 * decides which replicas may take a request: ready, with an address, and refreshed within
 * `staleMs` (a worker killed without deregistering leaves a row that goes stale).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { deploymentQuery, scaleUpdate, type DeploymentView } from '../contracts/deployment.js';
import { InvalidInputError, NotFoundError, UnavailableError } from '../contracts/errors.js';
import type { RunStatus } from '../contracts/run-state.js';
import { openDatabase, type PlatformDb } from '../platform/db.js';
import { isServing, listReplicas, type Replica } from '../platform/repositories/deployments.js';
import type { RunRecord } from '../platform/run-store.js';
import { wrapTemporalError } from './run-read.js';
import type { RunsClient } from './runs.js';

/** The actions that run as deployments (client/shapes/deployment.ts). */
const DEPLOYMENT_ACTIONS: readonly string[] = ['deployment', 'gradio', 'auto_label'];

/** How old a ready replica's row may be before it no longer takes requests. */
export const DEFAULT_STALE_MS = 5000;

export interface DeploymentStatus {
  id: string;
  plugin: { code: string; version: string };
  status: RunStatus;
  /** Why it failed, when it did. */
  error?: string;
  /** Replicas wanted (the workflow's, while it runs). */
  desired: number | null;
  /** Replicas that take requests now. */
  ready: number;
  replicas: (Replica & { serving: boolean })[];
  params: unknown;
  createdAt: string;
}

export class Deployments {
  private platform: Promise<PlatformDb> | undefined;

  constructor(
    readonly runs: RunsClient,
    readonly staleMs = DEFAULT_STALE_MS,
  ) {}

  private db(): Promise<PlatformDb> {
    this.platform ??= openDatabase({ dataDir: this.runs.settings.dataDir });
    return this.platform;
  }

  /** The deployment's run record (a `deployment` or `gradio` run: client/shapes/deployment.ts). @throws NotFoundError when no deployment run has this id. */
  async record(id: string): Promise<RunRecord> {
    const run = await this.runs.store.getRun(id);
    if (!run || !DEPLOYMENT_ACTIONS.includes(run.action)) throw new NotFoundError(`no deployment ${id}`);
    return run;
  }

  /** Its replicas' rows, each with whether it takes requests now. */
  async replicas(id: string): Promise<(Replica & { serving: boolean })[]> {
    const { db } = await this.db();
    const at = Date.now();
    return (await listReplicas(db, id)).map((r) => ({ ...r, serving: isServing(r, this.staleMs, at) }));
  }

  /** Status, desired and ready replicas. @throws NotFoundError */
  async status(id: string): Promise<DeploymentStatus> {
    const run = await this.record(id);
    const replicas = await this.replicas(id);
    let desired: number | null = null;
    if (run.status === 'running' || run.status === 'pending') {
      try {
        desired = (await this.runs.temporal.workflow.getHandle(id).query(deploymentQuery)).desired;
      } catch {
        desired = null; // not started by a worker yet, or just ended
      }
    }
    return {
      id,
      plugin: { code: run.pluginCode, version: run.pluginVersion },
      status: run.status,
      ...(run.error ? { error: run.error } : {}),
      desired,
      ready: replicas.filter((r) => r.serving).length,
      replicas,
      params: run.params,
      createdAt: run.createdAt,
    };
  }

  /** Deployments in the run store (running ones unless `all`), newest first. */
  async list(options: { all?: boolean; limit?: number } = {}): Promise<DeploymentStatus[]> {
    const limit = options.limit ?? 100;
    const lists = await Promise.all(
      DEPLOYMENT_ACTIONS.map((action) => this.runs.store.listRuns({ action, ...(options.all ? {} : { status: 'running' }), limit })),
    );
    const runs = lists
      .flat()
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
    return Promise.all(runs.map((r) => this.status(r.id)));
  }

  /**
   * Sets the replica count; resolves once the slots match (scaled-down replicas drained).
   * @throws NotFoundError, InvalidInputError (a count out of 1..64, an ended deployment)
   */
  async scale(id: string, replicas: number): Promise<DeploymentView> {
    const run = await this.record(id);
    if (run.status !== 'running' && run.status !== 'pending')
      throw new InvalidInputError('cannot scale', [{ path: 'deployment', message: `deployment ${id} is ${run.status}` }]);
    try {
      return await this.runs.temporal.workflow.getHandle(id).executeUpdate(scaleUpdate, { args: [replicas] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new InvalidInputError('cannot scale', [{ path: 'replicas', message: err.cause?.message ?? err.message }]);
      }
      throw wrapTemporalError(this.runs.settings, err);
    }
  }

  /** Undeploys: cancels the run and waits until its replicas drained and deregistered. @throws NotFoundError, ConflictError */
  async stop(id: string): Promise<void> {
    await this.record(id);
    await this.runs.cancel(id);
    await this.runs.temporal.workflow
      .getHandle(id)
      .result()
      .catch(() => {});
  }

  /**
   * One prediction straight to a ready replica (no gateway; the CLI's `synapse predict`),
   * trying the next one when a replica cannot be reached or is not ready.
   * @throws NotFoundError (no such deployment), UnavailableError (no replica ready)
   */
  async predict(id: string, input: unknown, timeoutMs = 30_000): Promise<{ status: number; body: unknown; replica: number }> {
    const run = await this.record(id);
    if (run.status !== 'running' && run.status !== 'pending') throw new NotFoundError(`deployment ${id} is ${run.status}${run.error ? `: ${run.error}` : ''}`);
    for (const r of (await this.replicas(id)).filter((x) => x.serving && x.address)) {
      let res: Response;
      try {
        res = await fetch(`${r.address}/predict`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(input),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch {
        continue;
      }
      if (res.status === 503) continue;
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: the text as it came
      }
      return { status: res.status, body, replica: r.replica };
    }
    throw new UnavailableError(`no replica of deployment ${id} is ready; see \`synapse deployment status ${id}\``);
  }

  async close(): Promise<void> {
    const platform = this.platform;
    this.platform = undefined;
    if (platform) await (await platform).close();
  }
}

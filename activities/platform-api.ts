/**
 * The engine's PlatformApi (sdk/platform-api.ts): `ctx.platform` of a task-page run, over
 * the worker's platform database and storages (platform-access.ts) and the repositories.
 * Filters are parsed here with the SDK's strict schemas, so an unknown key is an
 * InvalidInputError naming it (non-retryable: a retry cannot fix it). Writes go through the
 * repositories' idempotent upserts (one assignment per task and annotator, one result per
 * run and item).
 */
import { InvalidInputError, NotFoundError, UnavailableError, type Problem } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import type { z } from 'zod';
import {
  addGroundTruthEvents,
  assignmentsByTask,
  createGroundTruthDataset,
  createGroundTruthVersion,
  createTasks,
  findAssignments,
  findDataUnits,
  findTasks,
  getDataCollection,
  getProject,
  upsertAssignments,
  writeItemResults,
  type Db,
} from '../platform/repositories/index.js';
import { isServing, listReplicas } from '../platform/repositories/deployments.js';
import type { RunStore } from '../platform/run-store.js';
import type { RunContext } from '../sdk/run-context.js';
import type {
  ItemResult,
  Page,
  PageRequest,
  PlatformApi,
  PlatformAssignment,
  PlatformDeployment,
  PlatformProject,
  PlatformRunContext,
} from '../sdk/platform-api.js';
import { AssignmentFilterSchema, DataUnitFilterSchema, TaskFilterSchema } from '../sdk/platform-filters.js';
import type { PlatformAccess } from './platform-access.js';

export interface PlatformApiOptions {
  runId: string;
  attempt: number;
  /** The plugin's code: writes are the assignments of `plugin:<code>` unless told otherwise. */
  pluginCode: string;
  /** The database to use instead of the worker's (a page's transaction). */
  db?: Db;
  /** The run store: deployments are runs (getDeployment, predict check it). */
  runs: Pick<RunStore, 'getRun'>;
}

/** How old a ready replica's row may be and still take a prediction (client/deployments.ts's default). */
const REPLICA_STALE_MS = 5000;

/** Parses a filter with its strict schema; InvalidInputError names each unknown or bad key. */
export function parseFilter<S extends z.ZodType>(schema: S, filter: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(filter ?? {});
  if (!parsed.success) throw new InvalidInputError(`invalid ${what} filter`, zodProblems(parsed.error));
  return parsed.data;
}

function window(page: PageRequest | undefined): { afterId: number; limit: number } {
  const limit = page?.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InvalidInputError('invalid page', [{ path: 'limit', message: 'a whole number from 1 to 1000' }]);
  const afterId = page?.afterId ?? 0;
  if (!Number.isInteger(afterId) || afterId < 0) throw new InvalidInputError('invalid page', [{ path: 'afterId', message: 'a whole number from 0' }]);
  return { afterId, limit };
}

function paged<T extends { id: number }>(items: T[], limit: number): Page<T> {
  return { items, nextAfterId: items.length === limit ? (items[items.length - 1] as T).id : null };
}

export function defaultAnnotator(pluginCode: string): string {
  return `plugin:${pluginCode}`;
}

export function createPlatformApi(platform: PlatformAccess, options: PlatformApiOptions): PlatformApi {
  const db = options.db ?? platform.db;
  const annotatorOf = (given: string | undefined) => given ?? defaultAnnotator(options.pluginCode);
  return {
    async getProject(ref): Promise<PlatformProject> {
      const project = await getProject(db, ref);
      const collection = await getDataCollection(db, project.collectionId);
      return {
        id: project.id,
        name: project.name,
        dataType: project.configuration.data_type,
        classes: project.configuration.classes,
        collection: { id: collection.id, name: collection.name, files: collection.files },
      };
    },
    async listTasks(projectRef, filter, page) {
      const parsed = parseFilter(TaskFilterSchema, filter, 'task');
      const { afterId, limit } = window(page);
      const project = await getProject(db, projectRef);
      const tasks = await findTasks(db, project.id, parsed, { afterId, limit });
      return paged(
        tasks.map((t) => ({ id: t.id, projectId: t.projectId, status: t.status, createdAt: t.createdAt, updatedAt: t.updatedAt, dataUnit: t.dataUnit })),
        limit,
      );
    },
    async listAssignments(projectRef, filter, page) {
      const parsed = parseFilter(AssignmentFilterSchema, filter, 'assignment');
      const { afterId, limit } = window(page);
      return paged<PlatformAssignment>(await findAssignments(db, projectRef, parsed, { afterId, limit }), limit);
    },
    async listDataUnits(collectionRef, filter, page) {
      const parsed = parseFilter(DataUnitFilterSchema, filter, 'data unit');
      const { afterId, limit } = window(page);
      return paged(await findDataUnits(db, collectionRef, parsed, { afterId, limit }), limit);
    },
    async assignmentsOf(taskIds) {
      return assignmentsByTask(db, taskIds);
    },
    async fileExists(file) {
      return (await platform.storageFor(file.storage)).exists(file.key);
    },
    async readFile(file) {
      const storage = await platform.storageFor(file.storage);
      return storage.get(file.key);
    },
    async writeFile(storageRef, key, body) {
      const storage = await platform.storageFor(storageRef);
      await storage.put(key, body);
    },
    async writeAnnotations(projectRef, items, opts) {
      const annotator = annotatorOf(opts?.annotator);
      await upsertAssignments(
        db,
        projectRef,
        items.map((i) => ({ taskId: i.taskId, annotator, status: i.status ?? 'completed', annotations: i.annotations })),
      );
    },
    async createTasks(projectRef, dataUnitIds) {
      return (await createTasks(db, projectRef, dataUnitIds)).map((t) => t.id);
    },
    async writeGroundTruth(projectRef, datasetName, versionName, items) {
      const dataset = await createGroundTruthDataset(db, { name: datasetName, project: projectRef });
      const version = await createGroundTruthVersion(db, dataset.id, versionName);
      if (items.length) await addGroundTruthEvents(db, version.id, items);
      return version.id;
    },
    async writeResults(items: readonly ItemResult[]) {
      await writeItemResults(db, options.runId, options.attempt, items);
    },
    getDeployment: (id) => deploymentOf(db, options.runs, id),
    async predict(deployment, input, opts) {
      // AbortSignal.timeout takes whole milliseconds.
      const timeoutMs = Math.max(1, Math.ceil(opts?.timeoutMs ?? 30_000));
      const found = await deploymentOf(db, options.runs, deployment);
      if (found.status !== 'running' && found.status !== 'pending') throw new NotFoundError(`deployment ${deployment} is ${found.status}`);
      const replicas = (await listReplicas(db, deployment)).filter((r) => isServing(r, REPLICA_STALE_MS) && r.address);
      const tried: string[] = [];
      for (const r of replicas) {
        let res: Response;
        try {
          res = await fetch(`${r.address}/predict`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(input),
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (err) {
          tried.push(`replica ${r.replica}: ${err instanceof Error ? err.message : String(err)}`);
          continue;
        }
        const text = await res.text();
        if (res.status === 503) {
          tried.push(`replica ${r.replica}: not ready`);
          continue;
        }
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the text as it came
        }
        if (res.status === 400) throw new InvalidInputError(`deployment ${deployment} refused the input`, refusalProblems(body));
        if (!res.ok) throw new Error(`deployment ${deployment} answered ${res.status}: ${text.slice(0, 500)}`);
        return body;
      }
      throw new UnavailableError(
        `deployment ${deployment} has no ready replica${tried.length ? ` that answered (${tried.join('; ')})` : ''}; see \`synapse deployment status ${deployment}\``,
      );
    },
  };
}

async function deploymentOf(db: Db, runs: Pick<RunStore, 'getRun'>, id: string): Promise<PlatformDeployment> {
  const run = await runs.getRun(id);
  // Every served action is a restapi run (deployment, gradio, auto_label: client/shapes/deployment.ts).
  if (!run || run.method !== 'restapi') throw new NotFoundError(`no deployment ${id}`);
  const ready = (await listReplicas(db, id)).filter((r) => isServing(r, REPLICA_STALE_MS)).length;
  return { id, status: run.status, ready };
}

/** A replica's 400 answer (problem+json with `errors`, or anything) as problems. */
function refusalProblems(body: unknown): Problem[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (Array.isArray(errors)) {
    return errors.map((e: { path?: unknown; field?: unknown; message?: unknown }) => ({
      path: String(e.path ?? e.field ?? ''),
      message: String(e.message ?? JSON.stringify(e)),
    }));
  }
  return [{ path: '', message: typeof body === 'string' ? body : JSON.stringify(body) }];
}

/**
 * The run context `ctx` with `platform` too (a job's `start(ctx)`, a task-page hook): every
 * other member is ctx's own, read through, so its methods keep their receiver.
 */
export function withPlatform<P, C extends RunContext<P>>(ctx: C, platform: PlatformApi): C & PlatformRunContext<P> {
  return new Proxy(ctx, {
    get(target, key) {
      if (key === 'platform') return platform;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    has: (target, key) => key === 'platform' || Reflect.has(target, key),
  }) as C & PlatformRunContext<P>;
}

/**
 * The engine's PlatformApi (sdk/platform-api.ts): `ctx.platform` of a task-page run, over
 * the worker's platform database and storages (platform-access.ts) and the repositories.
 * Filters are parsed here with the SDK's strict schemas, so an unknown key is an
 * InvalidInputError naming it (non-retryable: a retry cannot fix it). Writes go through the
 * repositories' idempotent upserts (one assignment per task and annotator, one result per
 * run and item).
 */
import { InvalidInputError } from '../contracts/errors.js';
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
import type { ItemResult, Page, PageRequest, PlatformApi, PlatformAssignment, PlatformProject } from '../sdk/platform-api.js';
import { AssignmentFilterSchema, DataUnitFilterSchema, TaskFilterSchema } from '../sdk/platform-filters.js';
import type { PlatformAccess } from './platform-access.js';

export interface PlatformApiOptions {
  runId: string;
  attempt: number;
  /** The plugin's code: writes are the assignments of `plugin:<code>` unless told otherwise. */
  pluginCode: string;
  /** The database to use instead of the worker's (a page's transaction). */
  db?: Db;
}

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
  };
}

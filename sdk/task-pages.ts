/**
 * Task-page actions: the annotation categories' actions that work task by task over a
 * project (to_task, validation, post_annotation; DESIGN.md section 6). The plugin writes
 * `processTask(task, ctx)`; the engine (workflows/task-pages.ts) counts the project's tasks
 * that match `task_filters`, runs pages of them a few at a time, calls `processTask` per task
 * and writes what it returns (annotations, the item's result) in one transaction per batch.
 * A task that throws is recorded as failed and the run goes on. A retried page (worker
 * killed) skips the tasks whose results are on record, so nothing is written twice.
 *
 * ```ts
 * const Params = TaskPageParams.extend({ min_boxes: z.number().int().default(1) });
 * export class Check extends ValidationTaskPages.withParams(Params) {
 *   async processTask(task: PlatformTask, ctx: TaskRunContext<z.infer<typeof Params>>) {
 *     const [a] = (await ctx.platform.assignmentsOf([task.id])).get(task.id) ?? [];
 *     return a ? { data: { boxes: a.annotations.annotations.length } } : { status: 'failed', data: { problem: 'not annotated' } };
 *   }
 * }
 * ```
 */
import { z } from 'zod';
import { NonRetriableError } from '../contracts/errors.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';
import { isActionClass, type ActionClass } from './action.js';
import type { AnnotationDocumentInput } from './annotations.js';
import { PostAnnotationAction, PreAnnotationAction, ToTaskAction, ValidationAction } from './category-actions.js';
import { RecordRef } from './params.js';
import type { ItemResult, PlatformDataUnit, PlatformGroundTruthEntry, PlatformRunContext, PlatformTask } from './platform-api.js';
import { DataUnitFilterSchema, TaskFilterSchema } from './platform-filters.js';

/** The seed's progress category of task-page runs. */
export const TASK_PAGES_PROGRESS_CATEGORY = 'annotate_task_data';

/** The params every task-page action has: the project and which of its tasks. Extend it. */
export const TaskPageParams = z.strictObject({
  /** Project id or name. */
  project: RecordRef,
  /** Which of the project's tasks (sdk/platform-filters.ts); unknown keys are refused. */
  task_filters: TaskFilterSchema.default({}),
});
export type TaskPageParams = z.infer<typeof TaskPageParams>;

/** The run context of a task-page action: the usual one, and the platform. */
export type TaskRunContext<P = unknown> = PlatformRunContext<P>;

/**
 * What `processTask` returns for a task: annotations to write to it (as the plugin's
 * assignment), and/or the item's result. No status means success; `skipped` counts apart.
 */
export interface TaskOutcome {
  status?: ItemResult['status'];
  annotations?: AnnotationDocumentInput;
  data?: Record<string, unknown>;
}

/** What `finish` gets: the run's counts (each task once) and every item's result, streamed. */
export interface TaskPagesSummary {
  total: number;
  success: number;
  failed: number;
  skipped: number;
  /** Every item result of the run in item order, read a page at a time. */
  results(): AsyncIterable<ItemResult>;
}

/** The hooks a task-page action has (the statics are on its class). */
export interface TaskPageHooks<P = unknown> {
  /**
   * Runs once before any page, on a worker: fatal checks (no such project, specification,
   * ...) throw NonRetriableError here and the run stops before anything is written.
   */
  prepare?(ctx: TaskRunContext<P>): Promise<void>;
  /**
   * Source `tasks`: one task's work. Throwing fails that task only, except UnavailableError
   * (a service the run needs is down, e.g. a deployment with no ready replica): that fails the
   * page, which Temporal retries with backoff; when the retries are spent the run fails with
   * its message.
   */
  processTask?(task: PlatformTask, ctx: TaskRunContext<P>): Promise<TaskOutcome | null | undefined>;
  /** Source `data_units`: one data unit's work (no annotations to write: there is no task). */
  processDataUnit?(unit: PlatformDataUnit, ctx: TaskRunContext<P>): Promise<Omit<TaskOutcome, 'annotations'> | null | undefined>;
  /**
   * A tasks action may also go over a ground-truth version: when it has this hook and its
   * params give `ground_truth_version` (a version id of a dataset of `project`), the pages go
   * over the version's data units with their annotations there instead of the tasks. Item
   * keys are `data_unit:<id>`; nothing is written back to the version.
   */
  processGroundTruth?(entry: PlatformGroundTruthEntry, ctx: TaskRunContext<P>): Promise<Omit<TaskOutcome, 'annotations'> | null | undefined>;
  /** Runs once after every page: a report file, a summary. Its return value joins the run's result. */
  finish?(summary: TaskPagesSummary, ctx: TaskRunContext<P>): Promise<Record<string, unknown> | void>;
}

/**
 * What the pages go over: the project's tasks (`task_filters`), its collection's data units
 * (`data_unit_filters`), or a ground-truth version's entries (`ground_truth_version`, a tasks
 * action with processGroundTruth). A class declares `tasks` or `data_units`; `ground_truth` is
 * chosen by the params.
 */
export type TaskPagesSource = 'tasks' | 'data_units' | 'ground_truth';

export type TaskPagesClass = ActionClass & {
  taskPages: true;
  source: TaskPagesSource;
  /** Tasks per page (an activity each). */
  pageSize: number;
  /** Tasks written per transaction inside a page (their annotations and results together). */
  writeBatch: number;
  /** Items of a page processed at once (default 1): raise it for I/O-bound hooks that may overlap. */
  concurrency?: number;
} & (abstract new () => TaskPageHooks);

export function isTaskPagesClass(value: unknown): value is TaskPagesClass {
  if (!isActionClass(value)) return false;
  const cls = value as unknown as { taskPages?: unknown; source?: unknown; prototype: { processTask?: unknown; processDataUnit?: unknown } };
  if (cls.taskPages !== true) return false;
  return cls.source === 'data_units' ? typeof cls.prototype.processDataUnit === 'function' : typeof cls.prototype.processTask === 'function';
}

const PROGRESS: Record<string, ProgressCategoryDef> = { [TASK_PAGES_PROGRESS_CATEGORY]: { weight: 100, label: 'Annotate task data' } };

function notSimple(name: string): never {
  throw new NonRetriableError(`${name} runs as task pages on a worker (the task-page run shape), not through start()`);
}

/** pre_annotation/to_task over a project's tasks. */
export abstract class ToTaskPages<P = TaskPageParams> extends ToTaskAction<P, unknown> implements TaskPageHooks<P> {
  static taskPages = true as const;
  static source: TaskPagesSource = 'tasks';
  static pageSize = 100;
  static writeBatch = 50;
  static concurrency = 1;
  static override params: z.ZodType = TaskPageParams;
  static override progressCategories = PROGRESS;
  abstract processTask(task: PlatformTask, ctx: TaskRunContext<P>): Promise<TaskOutcome | null | undefined>;
  start(): Promise<unknown> {
    return notSimple(this.constructor.name);
  }
}

/** data_validation/validation over a project's tasks. */
export abstract class ValidationTaskPages<P = TaskPageParams> extends ValidationAction<P, unknown> implements TaskPageHooks<P> {
  static taskPages = true as const;
  static source: TaskPagesSource = 'tasks';
  static pageSize = 100;
  static writeBatch = 50;
  static concurrency = 1;
  static override params: z.ZodType = TaskPageParams;
  static override progressCategories = PROGRESS;
  abstract processTask(task: PlatformTask, ctx: TaskRunContext<P>): Promise<TaskOutcome | null | undefined>;
  start(): Promise<unknown> {
    return notSimple(this.constructor.name);
  }
}

/** post_annotation/post_annotation over a project's tasks. */
export abstract class PostAnnotationTaskPages<P = TaskPageParams> extends PostAnnotationAction<P, unknown> implements TaskPageHooks<P> {
  static taskPages = true as const;
  static source: TaskPagesSource = 'tasks';
  static pageSize = 100;
  static writeBatch = 50;
  static concurrency = 1;
  static override params: z.ZodType = TaskPageParams;
  static override progressCategories = PROGRESS;
  abstract processTask(task: PlatformTask, ctx: TaskRunContext<P>): Promise<TaskOutcome | null | undefined>;
  start(): Promise<unknown> {
    return notSimple(this.constructor.name);
  }
}

/** The params of a data-unit page action: the project (its collection's units) and which units. */
export const DataUnitPageParams = z.strictObject({
  /** Project id or name: its data collection's units are paged. */
  project: RecordRef,
  /** Which units (sdk/platform-filters.ts); unknown keys are refused. */
  data_unit_filters: DataUnitFilterSchema.default({}),
});
export type DataUnitPageParams = z.infer<typeof DataUnitPageParams>;

/** pre_annotation/pre_annotation over a project's data units (e.g. create their tasks). */
export abstract class PreAnnotationUnitPages<P = DataUnitPageParams> extends PreAnnotationAction<P, unknown> implements TaskPageHooks<P> {
  static taskPages = true as const;
  static source: TaskPagesSource = 'data_units';
  static pageSize = 500;
  static writeBatch = 100;
  static concurrency = 1;
  static override params: z.ZodType = DataUnitPageParams;
  static override progressCategories = PROGRESS;
  abstract processDataUnit(unit: PlatformDataUnit, ctx: TaskRunContext<P>): Promise<Omit<TaskOutcome, 'annotations'> | null | undefined>;
  start(): Promise<unknown> {
    return notSimple(this.constructor.name);
  }
}

/** The data-unit scope of a data-unit page action's parsed params. */
export const DataUnitPageScope = z.looseObject({ project: RecordRef, data_unit_filters: DataUnitFilterSchema.default({}) });

/**
 * The run's project and task filters, read from params an action's own schema parsed (it
 * extends TaskPageParams); ParamsError-worthy problems come back as zod issues.
 */
export const TaskPageScope = z.looseObject({
  project: RecordRef,
  task_filters: TaskFilterSchema.default({}),
  /** A ground-truth version id instead of the tasks (actions with processGroundTruth). */
  ground_truth_version: z.number().int().positive().optional(),
});

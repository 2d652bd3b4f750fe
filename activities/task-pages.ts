/**
 * The task-page run's activities (workflows/task-pages.ts): prepare (the plugin's fatal
 * checks, then count the project's tasks matching `task_filters`, the collection's data units,
 * or a ground-truth version's entries), plan (the id windows of
 * the next pages), page (call `processTask` per task and write what it returns) and finalize
 * (the counts from the stored results, the plugin's `finish`: a report file, a summary).
 *
 * Idempotent by construction: a page's writes go in batches, each ONE transaction holding the
 * tasks' annotations (upserts of one assignment per task and annotator) and their results
 * (one row per run and task). A page retried after its worker died reads which of its tasks
 * have results on record, skips them, and does the rest: nothing is written twice, nothing
 * lost. Finalize counts the stored results, so the run's numbers are one per task however
 * often a page ran.
 */
import { Context } from '@temporalio/activity';
import { NonRetriableError, UnavailableError } from '../contracts/errors.js';
import { isPythonTaskPagesClass } from '../engine/python-task-pages.js';
import { parseTaskPagesParams, type TaskPagesParams } from '../engine/task-page-params.js';
import {
  annotationProblems,
  countItemResults,
  findDataUnits,
  findTaskIds,
  findTasks,
  getGroundTruthDataset,
  getGroundTruthVersion,
  getProject,
  inTransaction,
  listGroundTruthEventIds,
  listGroundTruthEvents,
  itemResultsFor,
  listItemResults,
  upsertAssignments,
  writeItemResults,
  type Project,
} from '../platform/repositories/index.js';
import type { ItemResult, PlatformTask } from '../sdk/platform-api.js';
import { isTaskPagesClass, type TaskOutcome, type TaskPageHooks, type TaskPagesClass, type TaskRunContext } from '../sdk/task-pages.js';
import type { ActionKind } from './action-kinds.js';
import type { ActivityRunContext } from './activity-run-context.js';
import { createPlatformApi, defaultAnnotator } from './platform-api.js';
import { pythonTaskPageHooks } from './python-task-pages.js';
import { PluginHostError } from './plugin-host.js';
import type { StepDeps, StepInput, StepSpec } from './step.js';

/** The concrete class a plugin names (the bases are abstract; its subclass is not). */
type TaskPagesRunnable = Omit<TaskPagesClass, 'prototype'> & (new () => TaskPageHooks);

const TASK_PAGES_KIND: ActionKind<TaskPagesRunnable> = {
  needs: 'a task-page action (ToTaskPages, ValidationTaskPages or PostAnnotationTaskPages; a task-page run needs one)',
  is: (cls: unknown): cls is TaskPagesRunnable => isTaskPagesClass(cls),
};

const TASK_PAGES: StepSpec<TaskPagesRunnable, TaskPagesParams> = {
  kind: TASK_PAGES_KIND,
  params: (raw, { action, subject }) => parseTaskPagesParams(action, raw, subject),
  // TypeScript hooks run in a plugin host (plugin-host-task-pages.ts); Python ones in their runtime.
  host: 'task-pages',
};

export interface TaskPagesPrepareOutput {
  total: number;
  pageSize: number;
}

export interface TaskPagesPlanInput extends StepInput {
  afterId: number;
  pageSize: number;
  pages: number;
}

/** One page: the tasks with ids in (afterId, upToId] that match the filters. */
export interface TaskPageWindow {
  afterId: number;
  upToId: number;
}

export interface TaskPagesPlanOutput {
  pages: TaskPageWindow[];
  nextAfterId: number;
  more: boolean;
}

export interface TaskPageInput extends StepInput, TaskPageWindow {}

export interface TaskPageOutput {
  count: number;
  success: number;
  failed: number;
  skipped: number;
  /** Tasks whose results were on record from an earlier attempt (not processed again). */
  resumed: number;
  /** This page's attempt (1 = first): the run shows the highest. */
  attempt: number;
}

export interface TaskPagesSummaryOutput {
  total: number;
  success: number;
  failed: number;
  skipped: number;
  [key: string]: unknown;
}

/**
 * UnavailableError by name too: plugin code may hold its own copy of the SDK's classes. A
 * plugin host that crashed or passed a limit (PluginHostError) fails the page the same way:
 * the item is not failed, Temporal retries the page with a fresh host (plugin-host.ts rules).
 */
function isUnavailable(err: unknown): boolean {
  return err instanceof UnavailableError || err instanceof PluginHostError || (err instanceof Error && err.name === 'UnavailableError');
}

export const taskItemKey = (taskId: number): string => `task:${taskId}`;
export const unitItemKey = (unitId: number): string => `data_unit:${unitId}`;

/** The step's RunContext with the platform: the same context, one more field. */
function taskRunContext<P>(ctx: ActivityRunContext<unknown>, params: P, platform: TaskRunContext<P>['platform']): TaskRunContext<P> {
  return {
    get runId() {
      return ctx.runId;
    },
    params,
    get envs() {
      return ctx.envs;
    },
    get signal() {
      return ctx.signal;
    },
    get attempt() {
      return ctx.attempt;
    },
    logMessage: (message, level) => ctx.logMessage(message, level),
    log: (event, data) => ctx.log(event, data),
    setProgress: (current, total, category) => ctx.setProgress(current, total, category),
    setMetrics: (values, category) => ctx.setMetrics(values, category),
    checkpoint: (state) => ctx.checkpoint(state),
    resumeState: <T>() => ctx.resumeState<T>(),
    platform,
  };
}

export function createTaskPagesActivities({ platform, store, steps, dataDir }: StepDeps) {
  const { db } = platform;

  /** The action instance and its context with the platform, for a step. */
  function actionFor(input: StepInput, cls: TaskPagesRunnable, ctx: ActivityRunContext<TaskPagesParams>) {
    const api = createPlatformApi(platform, { runId: input.runId, attempt: ctx.attempt, pluginCode: input.plugin.code, runs: store });
    // A Python plugin's hooks run in its warm Python process (python-task-pages.ts).
    const action = isPythonTaskPagesClass(cls)
      ? pythonTaskPageHooks(cls, { dataDir, silenceSeconds: cls.python.plugin.config.actions[input.action]?.heartbeat_timeout })
      : new cls();
    // The plugin sees its own params (what its schema made of them), not the engine's wrapper.
    return { action, ctx: taskRunContext<unknown>(ctx, ctx.params.params, api) };
  }

  async function projectOf(params: TaskPagesParams): Promise<Project> {
    return getProject(db, params.project);
  }

  /** The ground-truth version of a run over one; NonRetriableError naming the param when it is not of the project. */
  async function versionOf(params: TaskPagesParams, project: Project): Promise<number> {
    const id = params.groundTruthVersion as number;
    const version = await getGroundTruthVersion(db, id);
    const dataset = await getGroundTruthDataset(db, version.datasetId);
    if (dataset.projectId !== project.id)
      throw new NonRetriableError(`ground_truth_version: version ${id} (dataset "${dataset.name}") is not of project "${project.name}"`);
    return id;
  }

  /** Ids of the run's items (tasks, the collection's data units, or a ground-truth version's events) in a window, in id order. */
  async function itemIds(params: TaskPagesParams, project: Project, window: { afterId: number; limit: number }): Promise<number[]> {
    if (params.source === 'data_units') return (await findDataUnits(db, project.collectionId, params.unitFilter, window)).map((u) => u.id);
    if (params.source === 'ground_truth') return listGroundTruthEventIds(db, { versionId: params.groundTruthVersion as number, ...window });
    return findTaskIds(db, project.id, params.filter, window);
  }

  /** The work of a page: each item's key and how to run it. */
  async function pageItems(
    params: TaskPagesParams,
    project: Project,
    input: TaskPageWindow,
    action: TaskPageHooks,
    tctx: TaskRunContext<unknown>,
  ): Promise<{ id: number; item: string; taskId?: number; run: () => Promise<TaskOutcome | null | undefined> }[]> {
    const window = { afterId: input.afterId, upToId: input.upToId, limit: 100_000 };
    if (params.source === 'data_units') {
      const units = await findDataUnits(db, project.collectionId, params.unitFilter, window);
      return units.map((u) => ({ id: u.id, item: unitItemKey(u.id), run: () => action.processDataUnit!(u, tctx) }));
    }
    if (params.source === 'ground_truth') {
      const entries = [];
      for (let after = input.afterId; ;) {
        const batch = await listGroundTruthEvents(db, { versionId: params.groundTruthVersion as number, afterId: after, limit: 1000 });
        const inWindow = batch.filter((e) => e.id <= input.upToId);
        entries.push(...inWindow);
        if (batch.length < 1000 || inWindow.length < batch.length) break;
        after = batch[batch.length - 1]!.id;
      }
      return entries.map((e) => ({
        id: e.id,
        item: unitItemKey(e.dataUnitId),
        run: () => action.processGroundTruth!({ id: e.id, versionId: e.versionId, dataUnit: e.dataUnit, annotations: e.annotations }, tctx),
      }));
    }
    const tasks = await findTasks(db, project.id, params.filter, window);
    return tasks.map((task) => {
      const platformTask: PlatformTask = {
        id: task.id,
        projectId: task.projectId,
        status: task.status,
        createdAt: task.createdAt,
        updatedAt: task.updatedAt,
        dataUnit: task.dataUnit,
      };
      return { id: task.id, item: taskItemKey(task.id), taskId: task.id, run: () => action.processTask!(platformTask, tctx) };
    });
  }

  return {
    async taskPagesPrepare(input: StepInput): Promise<TaskPagesPrepareOutput> {
      return steps.step(input, TASK_PAGES, { marksRunning: true, progressCategories: 'none' }, async ({ cls, params, ctx }) => {
        const project = await projectOf(params).catch((err: unknown) => {
          throw new NonRetriableError(err instanceof Error ? err.message : String(err));
        });
        if (params.source === 'ground_truth')
          await versionOf(params, project).catch((err: unknown) => {
            throw err instanceof NonRetriableError ? err : new NonRetriableError(`ground_truth_version: ${err instanceof Error ? err.message : String(err)}`);
          });
        const { action, ctx: tctx } = actionFor(input, cls, ctx);
        // The plugin's fatal checks: they run before any page, so nothing is written when they fail.
        await action.prepare?.(tctx);
        let total = 0;
        let after = 0;
        for (;;) {
          const ids = await itemIds(params, project, { afterId: after, limit: 10_000 });
          Context.current().heartbeat();
          total += ids.length;
          if (ids.length < 10_000) break;
          after = ids[ids.length - 1] as number;
        }
        return { total, pageSize: Math.max(1, Math.floor(cls.pageSize)) };
      });
    },

    async taskPagesPlan(input: TaskPagesPlanInput): Promise<TaskPagesPlanOutput> {
      return steps.bareStep(input, TASK_PAGES, {}, async ({ params }) => {
        const project = await projectOf(params);
        const ids = await itemIds(params, project, { afterId: input.afterId, limit: input.pageSize * input.pages });
        const pages: TaskPageWindow[] = [];
        for (let i = 0; i < ids.length; i += input.pageSize) {
          pages.push({ afterId: i === 0 ? input.afterId : (ids[i - 1] as number), upToId: ids[Math.min(ids.length, i + input.pageSize) - 1] as number });
        }
        return { pages, nextAfterId: ids.length ? (ids[ids.length - 1] as number) : input.afterId, more: ids.length === input.pageSize * input.pages };
      });
    },

    async taskPage(input: TaskPageInput): Promise<TaskPageOutput> {
      return steps.step(input, TASK_PAGES, { progressCategories: 'none' }, async ({ cls, params, ctx }) => {
        const activity = Context.current();
        const project = await projectOf(params);
        const { action, ctx: tctx } = actionFor(input, cls, ctx);
        const items = await pageItems(params, project, input, action, tctx);
        const done = await itemResultsFor(
          db,
          input.runId,
          items.map((t) => t.item),
        );
        const out: TaskPageOutput = { count: items.length, success: 0, failed: 0, skipped: 0, resumed: done.size, attempt: ctx.attempt };
        for (const r of done.values()) out[r.status]++;
        const annotator = defaultAnnotator(input.plugin.code);
        const batch = Math.max(1, Math.floor(cls.writeBatch));
        let results: ItemResult[] = [];
        let writes: { taskId: number; annotations: unknown }[] = [];
        const flush = async (): Promise<void> => {
          if (results.length === 0) return;
          const batchResults = results;
          const batchWrites = writes;
          // Annotations and results of the batch together, or neither.
          await inTransaction(db, async (trx) => {
            if (batchWrites.length)
              await upsertAssignments(
                trx,
                project.id,
                batchWrites.map((w) => ({ taskId: w.taskId, annotator, status: 'completed', annotations: w.annotations })),
              );
            await writeItemResults(trx, input.runId, ctx.attempt, batchResults);
          });
          results = [];
          writes = [];
        };
        const todo = items.filter((i) => !done.has(i.item));
        // Items of a page run `concurrency` at a time (default 1); their outcomes are handled in order.
        const width = Math.max(1, Math.floor(cls.concurrency ?? 1));
        let sinceBeat = 0;
        for (let at = 0; at < todo.length; at += width) {
          if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
          const chunk = todo.slice(at, at + width);
          // A heartbeat crosses into the SDK's core: one per 25 items is plenty (the run context beats on a timer too).
          sinceBeat += chunk.length;
          if (sinceBeat >= 25) {
            activity.heartbeat();
            sinceBeat = 0;
          }
          const settled = await Promise.allSettled(chunk.map((c) => c.run()));
          for (let k = 0; k < chunk.length; k++) {
            const { item, taskId } = chunk[k]!;
            const one = settled[k]!;
            if (one.status === 'rejected') {
              const err: unknown = one.reason;
              if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
              // A service the run needs is down (a deployment without a ready replica): the page fails and is retried, the task is not failed.
              if (isUnavailable(err)) {
                await flush();
                throw err;
              }
              const message = err instanceof Error ? err.message : String(err);
              out.failed++;
              results.push({ item, status: 'failed', data: { error: message } });
              ctx.log('item_failed', { item, error: message });
              ctx.logMessage(`${item} failed: ${message}`, 'ERROR');
              if (results.length >= batch) await flush();
              continue;
            }
            const outcome: TaskOutcome | null | undefined = one.value;
            const status = outcome === null || outcome === undefined ? 'skipped' : (outcome.status ?? 'success');
            const data = outcome?.data ?? {};
            if (outcome?.annotations !== undefined && taskId === undefined) {
              out.failed++;
              results.push({ item, status: 'failed', data: { ...data, error: 'annotations are written to tasks; a data unit has none' } });
              if (results.length >= batch) await flush();
              continue;
            }
            if (outcome?.annotations !== undefined && taskId !== undefined && status !== 'failed') {
              // Checked one by one: a bad document fails its task, not the batch.
              const { problems } = annotationProblems(
                [outcome.annotations],
                project.configuration.classes,
                project.configuration.data_type,
                () => 'annotations',
              );
              if (problems.length) {
                out.failed++;
                results.push({ item, status: 'failed', data: { ...data, error: 'the annotations do not fit the project', problems } });
                ctx.logMessage(`${item} failed: its annotations do not fit the project: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, 'ERROR');
                if (results.length >= batch) await flush();
                continue;
              }
              writes.push({ taskId, annotations: outcome.annotations });
            }
            out[status]++;
            results.push({ item, status, data });
            if (results.length >= batch) await flush();
          }
        }
        await flush();
        return out;
      });
    },

    async taskPagesFinalize(input: StepInput): Promise<TaskPagesSummaryOutput> {
      return steps.step(input, TASK_PAGES, { progressCategories: 'none' }, async ({ cls, ctx }) => {
        const counts = await countItemResults(db, input.runId);
        const total = counts.success + counts.failed + counts.skipped;
        const { action, ctx: tctx } = actionFor(input, cls, ctx);
        const runId = input.runId;
        async function* results(): AsyncGenerator<ItemResult> {
          let after = '';
          for (;;) {
            const page = await listItemResults(db, runId, after, 1000);
            Context.current().heartbeat();
            for (const r of page) yield { item: r.item, status: r.status, data: r.data };
            if (page.length < 1000) return;
            after = (page[page.length - 1] as { item: string }).item;
          }
        }
        const extra = (await action.finish?.({ total, ...counts, results }, tctx)) ?? {};
        return { ...extra, total, ...counts };
      });
    },
  };
}

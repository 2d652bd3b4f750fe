/**
 * The task-page run shape (DESIGN.md section 6: pre_annotation/to_task, data_validation,
 * post_annotation): prepare (the plugin's fatal checks, then count the project's tasks that
 * match `task_filters`) -> plan the next pages by task id -> page activities, a few in flight,
 * each calling the plugin per task and writing its annotations and results -> finalize (the
 * counts from the stored results, the plugin's report). A task that fails is recorded and
 * the run goes on. Pages are idempotent (activities/task-pages.ts), so a page retried on
 * another worker after a lost one skips what it wrote. Long runs continue as new, carrying
 * the cursor and counts. Progress `annotate_task_data` and metrics total / success / failed /
 * stand_by as the seed reports them.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';
import { inWindow } from './window.js';

/** The seed's progress category of the annotation categories' runs. */
export const TASK_PAGES_PROGRESS_CATEGORY = 'annotate_task_data';
/** The metrics category of the task counts. */
export const TASK_PAGES_METRICS_CATEGORY = 'annotate_task_data';
/** Pages in flight at once. */
export const TASK_PAGES_IN_FLIGHT = 4;
/** Pages planned per plan activity. */
export const TASK_PAGES_PER_PLAN = 16;
/** Pages run before the workflow continues as new (bounds history). */
export const TASK_PAGES_PER_RUN = 200;

/** What a continued task-page run carries over. */
export interface TaskPagesCarry {
  total: number;
  pageSize: number;
  afterId: number;
  done: number;
  success: number;
  failed: number;
  skipped: number;
  attempt: number;
  startedAt: string;
}

export interface TaskPagesWorkflowInput extends RunActionInput {
  carry?: TaskPagesCarry;
  /**
   * Overrides of the page budgets (tests): pages per plan, pages before continuing as new, and
   * attempts of a page before the run fails (default DEFAULT_RETRY_POLICY's).
   */
  budget?: { pagesPerPlan?: number; pagesPerRun?: number; pageAttempts?: number };
}

export async function taskPagesWorkflow(input: TaskPagesWorkflowInput): Promise<RunState> {
  const run = trackRun(input, { carry: input.carry, own: { progress: [TASK_PAGES_PROGRESS_CATEGORY], metrics: [TASK_PAGES_METRICS_CATEGORY] } });
  const { state } = run;
  const { taskPagesPlan } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 60)}s`,
    retry: DEFAULT_RETRY_POLICY,
  });
  // Prepare and finalize run plugin hooks: the plugin's timeouts, like a page.
  const { taskPagesPrepare, taskPagesFinalize } = proxyActivities<Activities>(stepOptions(input));
  // A page whose service is down (a deployment without a ready replica) fails and is retried; the policy bounds how often.
  const pageAttempts = input.budget?.pageAttempts;
  const { taskPage } = proxyActivities<Activities>(
    pageAttempts === undefined ? stepOptions(input) : { ...stepOptions(input), retry: { ...DEFAULT_RETRY_POLICY, maximumAttempts: pageAttempts } },
  );

  const base = { runId: workflowInfo().workflowId, plugin: input.plugin, action: input.action, params: input.params };
  const carry: TaskPagesCarry = input.carry ?? {
    total: 0,
    pageSize: 1,
    afterId: 0,
    done: 0,
    success: 0,
    failed: 0,
    skipped: 0,
    attempt: 1,
    startedAt: state.startedAt,
  };
  const pagesPerPlan = Math.max(1, input.budget?.pagesPerPlan ?? TASK_PAGES_PER_PLAN);
  const pagesPerRun = input.budget?.pagesPerRun ?? TASK_PAGES_PER_RUN;

  const showCounts = (): void => {
    state.progress[TASK_PAGES_PROGRESS_CATEGORY] = { current: Math.min(carry.done, carry.total), total: carry.total };
    state.metrics[TASK_PAGES_METRICS_CATEGORY] = {
      total: carry.total,
      success: carry.success,
      failed: carry.failed,
      stand_by: Math.max(0, carry.total - carry.done),
      ...(carry.skipped ? { skipped: carry.skipped } : {}),
    };
    run.publish();
  };
  const recordCounts = async (): Promise<void> => {
    showCounts();
    await run.record();
  };
  const runPage = async (page: { afterId: number; upToId: number }): Promise<void> => {
    const out = await taskPage.executeWithOptions({ summary: `tasks ${page.afterId + 1}..${page.upToId}` }, [{ ...base, ...page }]);
    carry.done += out.count;
    carry.success += out.success;
    carry.failed += out.failed;
    carry.skipped += out.skipped;
    state.attempt = Math.max(state.attempt, out.attempt);
    await recordCounts();
  };

  return runShape(run, async () => {
    if (!input.carry) {
      const prepared = await run.step('count tasks', () => taskPagesPrepare(base));
      carry.total = prepared.total;
      carry.pageSize = prepared.pageSize;
    }
    showCounts();
    let pagesThisRun = 0;
    let more = carry.total > 0;
    while (more) {
      await run.step(`tasks after id ${carry.afterId}`, async () => {
        const plan = await taskPagesPlan({ ...base, afterId: carry.afterId, pageSize: carry.pageSize, pages: pagesPerPlan });
        await inWindow(plan.pages, TASK_PAGES_IN_FLIGHT, runPage);
        pagesThisRun += plan.pages.length;
        carry.afterId = plan.nextAfterId;
        more = plan.more;
      });
      if (more && budgetSpent(pagesThisRun, pagesPerRun)) await continueWithCarry(run, input, carry);
    }
    const summary = await run.step('finalize', () => taskPagesFinalize(base));
    // The stored results are the truth: a page that ran twice counts each task once there.
    const done = summary.success + summary.failed + summary.skipped;
    Object.assign(carry, {
      done,
      success: summary.success,
      failed: summary.failed,
      skipped: summary.skipped,
      total: Math.max(carry.total, done),
    } satisfies Partial<TaskPagesCarry>);
    await recordCounts();
    return summary;
  });
}

/**
 * The export run shape (category `export`): prepare (validate, count, choose the unique
 * export path once) -> plan the next pages by id cursor -> page activities, a few in flight
 * -> finalize (error_file_list.json, manifest.json, aggregate files). Pages are idempotent,
 * so a page retried on another worker after a lost one rewrites the same files. Long exports
 * continue as new, carrying the cursor and counts. The `runState` query and the
 * `reportProgress` signal are those of run-action.ts, so `synapse run status/watch` work.
 */
import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';
import { inWindow } from './window.js';

export const EXPORT_PROGRESS_CATEGORY = 'dataset_conversion';
export const EXPORT_METRICS_CATEGORY = 'data_file';
/** Pages in flight at once. */
export const PAGES_IN_FLIGHT = 4;
/** Pages planned per plan activity. */
export const PAGES_PER_PLAN = 16;
/** Pages run before the workflow continues as new (bounds history). */
export const PAGES_PER_RUN = 200;

/** What a continued export carries over. */
export interface ExportCarry {
  exportPath: string;
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

export interface ExportWorkflowInput extends RunActionInput {
  carry?: ExportCarry;
  /** Overrides of the page budgets (tests): pages per plan and pages before continuing as new. */
  budget?: { pagesPerPlan?: number; pagesPerRun?: number };
}

export async function exportWorkflow(input: ExportWorkflowInput): Promise<RunState> {
  // Progress and file metrics are the workflow's own; only other categories are merged.
  const run = trackRun(input, { carry: input.carry, own: { progress: [EXPORT_PROGRESS_CATEGORY], metrics: [EXPORT_METRICS_CATEGORY] } });
  const { state } = run;
  const { exportPrepare, exportPlan, exportFinalize } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 60)}s`,
    retry: DEFAULT_RETRY_POLICY,
  });
  const { exportPage } = proxyActivities<Activities>(stepOptions(input));

  const base = { runId: workflowInfo().workflowId, plugin: input.plugin, action: input.action, params: input.params };
  const carry: ExportCarry = input.carry ?? {
    exportPath: '',
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
  const pagesPerPlan = Math.max(1, input.budget?.pagesPerPlan ?? PAGES_PER_PLAN);
  const pagesPerRun = input.budget?.pagesPerRun ?? PAGES_PER_RUN;
  const showCounts = (): void => {
    state.progress[EXPORT_PROGRESS_CATEGORY] = { current: Math.min(carry.done, carry.total), total: carry.total };
    state.metrics[EXPORT_METRICS_CATEGORY] = {
      success: carry.success,
      failed: carry.failed,
      stand_by: Math.max(0, carry.total - carry.done),
      ...(carry.skipped ? { skipped: carry.skipped } : {}),
    };
    run.publish();
  };
  /** Shows the counts, and records them as run events too (logs, watch, the gateway's stream). */
  const recordCounts = async (): Promise<void> => {
    showCounts();
    // New in this version of the workflow: runs started before it replay without these events.
    if (patched('export-progress-events')) await run.record();
  };
  /** One page; its slot in the window is held until its counts are recorded. */
  const convertPage = async (afterId: number): Promise<void> => {
    const page = await exportPage.executeWithOptions({ summary: `page after id ${afterId}` }, [
      { ...base, exportPath: carry.exportPath, afterId, pageSize: carry.pageSize },
    ]);
    carry.done += page.count;
    carry.success += page.success;
    carry.failed += page.failed;
    carry.skipped += page.skipped;
    await recordCounts();
  };

  return runShape(run, async () => {
    if (!input.carry) {
      const prepared = await run.step('count items', () => exportPrepare(base));
      Object.assign(carry, { exportPath: prepared.exportPath, total: prepared.total, pageSize: prepared.pageSize } satisfies Partial<ExportCarry>);
    }
    showCounts();
    let pagesThisRun = 0;
    let more = carry.total > 0;
    while (more) {
      await run.step(`convert items after id ${carry.afterId}`, async () => {
        const plan = await exportPlan({ ...base, afterId: carry.afterId, pageSize: carry.pageSize, pages: pagesPerPlan });
        await inWindow(plan.cursors, PAGES_IN_FLIGHT, convertPage);
        pagesThisRun += plan.cursors.length;
        carry.afterId = plan.nextAfterId;
        more = plan.more;
      });
      if (more && budgetSpent(pagesThisRun, pagesPerRun)) await continueWithCarry(run, input, carry);
    }
    const summary = await run.step('finalize', () => exportFinalize({ ...base, exportPath: carry.exportPath }));
    // The parts are the truth: a page that ran twice counts once there.
    const done = summary.success + summary.failed + summary.skipped;
    Object.assign(carry, {
      done,
      success: summary.success,
      failed: summary.failed,
      skipped: summary.skipped,
      total: Math.max(carry.total, done),
    } satisfies Partial<ExportCarry>);
    await recordCounts();
    return summary;
  });
}

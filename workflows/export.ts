/**
 * The export run shape (category `export`): prepare (validate, count, choose the unique
 * export path once) -> plan the next pages by id cursor -> page activities, a few in flight
 * -> finalize (error_file_list.json, manifest.json, aggregate files). Pages are idempotent,
 * so a page retried on another worker after a lost one rewrites the same files. Long exports
 * continue as new, carrying the cursor and counts. The `runState` query and the
 * `reportProgress` signal are those of run-action.ts, so `synapse run status/watch` work.
 */
import { ActivityCancellationType, ContinueAsNew, continueAsNew, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { trackRun } from './run-tracker.js';

export const EXPORT_PROGRESS_CATEGORY = 'dataset_conversion';
export const EXPORT_METRICS_CATEGORY = 'data_file';
/** Pages in flight at once. */
export const PAGES_IN_FLIGHT = 4;
/** Pages planned per plan activity. */
const PAGES_PER_PLAN = 16;
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
  const info = workflowInfo();
  const startedAt = input.carry?.startedAt ?? info.startTime.toISOString();
  const run = trackRun(input, {
    startedAt,
    ...(input.carry ? { attempt: input.carry.attempt } : {}),
    // Progress and file metrics are the workflow's own; only other categories are merged.
    own: { progress: [EXPORT_PROGRESS_CATEGORY], metrics: [EXPORT_METRICS_CATEGORY] },
  });
  const { state, publish } = run;

  const { exportPrepare, exportPlan, exportFinalize } = proxyActivities<typeof activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 60)}s`,
    retry: DEFAULT_RETRY_POLICY,
  });
  const { exportPage } = proxyActivities<typeof activities>({
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  const base = { runId: info.workflowId, plugin: input.plugin, action: input.action, params: input.params };
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
    startedAt,
  };
  const showCounts = (): void => {
    state.progress[EXPORT_PROGRESS_CATEGORY] = { current: Math.min(carry.done, carry.total), total: carry.total };
    state.metrics[EXPORT_METRICS_CATEGORY] = {
      success: carry.success,
      failed: carry.failed,
      stand_by: Math.max(0, carry.total - carry.done),
      ...(carry.skipped ? { skipped: carry.skipped } : {}),
    };
    publish();
  };

  let result: unknown;
  try {
    if (!input.carry) {
      state.step = 'count items';
      publish();
      const prepared = await exportPrepare(base);
      carry.exportPath = prepared.exportPath;
      carry.total = prepared.total;
      carry.pageSize = prepared.pageSize;
    }
    showCounts();
    let pagesThisRun = 0;
    let more = carry.total > 0;
    while (more) {
      state.step = `convert items after id ${carry.afterId}`;
      publish();
      const plan = await exportPlan({ ...base, afterId: carry.afterId, pageSize: carry.pageSize, pages: Math.max(1, input.budget?.pagesPerPlan ?? PAGES_PER_PLAN) });
      // Bounded parallelism: at most PAGES_IN_FLIGHT pages run at once.
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < plan.cursors.length) {
          const afterId = plan.cursors[next++] as number;
          const page = await exportPage.executeWithOptions({ summary: `page after id ${afterId}` }, [
            { ...base, exportPath: carry.exportPath, afterId, pageSize: carry.pageSize },
          ]);
          carry.done += page.count;
          carry.success += page.success;
          carry.failed += page.failed;
          carry.skipped += page.skipped;
          showCounts();
          // Item counts as run events too (logs, watch, the gateway's stream); new in this
          // version of the workflow, so runs started before it replay without them.
          if (patched('export-progress-events')) await run.record();
        }
      };
      await Promise.all(Array.from({ length: Math.min(PAGES_IN_FLIGHT, plan.cursors.length) }, lane));
      pagesThisRun += plan.cursors.length;
      carry.afterId = plan.nextAfterId;
      more = plan.more;
      if (more && (pagesThisRun >= (input.budget?.pagesPerRun ?? PAGES_PER_RUN) || workflowInfo().continueAsNewSuggested)) {
        carry.attempt = state.attempt;
        await continueAsNew<typeof exportWorkflow>({ ...input, carry });
      }
    }
    state.step = 'finalize';
    publish();
    const summary = await exportFinalize({ ...base, exportPath: carry.exportPath });
    // The parts are the truth: a page that ran twice counts once there.
    carry.done = summary.success + summary.failed + summary.skipped;
    carry.success = summary.success;
    carry.failed = summary.failed;
    carry.skipped = summary.skipped;
    carry.total = Math.max(carry.total, carry.done);
    showCounts();
    if (patched('export-progress-events')) await run.record();
    result = summary;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return run.fail(err);
  }
  return run.complete(result);
}

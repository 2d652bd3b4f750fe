/**
 * The export run shape against stub activities (test/workflow-test-env.ts): a fake dataset of
 * items with ids 1..N whose pages the stubs "convert" after a short pause, so the test sees
 * which pages the workflow plans and starts, how many at once, what a continue-as-new carries,
 * and what it records in the run store, in seconds.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStateQuery } from '../../contracts/run-messages.js';
import type { RunState } from '../../contracts/run-state.js';
import { exportWorkflow, PAGES_IN_FLIGHT, type ExportWorkflowInput } from '../../workflows/export.js';
import { executionOfActivity, InFlight, startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

/** Items 1..items in pages of pageSize; every item whose id is a multiple of 7 fails to convert. */
function fakeExport(items: number, pageSize: number, opts: { pageMs?: number; blockPages?: boolean; fillSlots?: number } = {}) {
  const inFlight = new InFlight(opts.fillSlots ? { slots: opts.fillSlots, total: Math.ceil(items / pageSize) } : undefined);
  const pages: { afterId: number; runId: string }[] = [];
  const plans: { afterId: number; pages: number }[] = [];
  const progress: { progress: unknown; metrics: unknown }[] = [];
  const statuses: { status: string; error?: string | undefined }[] = [];
  const cancelledPages: number[] = [];
  const convert = (afterId: number) => {
    const ids = Array.from({ length: Math.max(0, Math.min(pageSize, items - afterId)) }, (_, i) => afterId + 1 + i);
    const failed = ids.filter((id) => id % 7 === 0).length;
    return { count: ids.length, success: ids.length - failed, failed, skipped: 0 };
  };
  const activities: StubActivities = {
    async exportPrepare() {
      return { exportPath: 'exports/fake', total: items, pageSize };
    },
    async exportPlan(input) {
      plans.push({ afterId: input.afterId, pages: input.pages });
      const cursors: number[] = [];
      for (let at = input.afterId; at < items && cursors.length < input.pages; at += input.pageSize) cursors.push(at);
      const nextAfterId = Math.min(items, input.afterId + cursors.length * input.pageSize);
      return { cursors, nextAfterId, more: nextAfterId < items };
    },
    async exportPage(input) {
      const ctx = Context.current();
      pages.push({ afterId: input.afterId, runId: executionOfActivity() });
      return inFlight.run(async () => {
        if (opts.blockPages) {
          try {
            for (;;) {
              ctx.heartbeat();
              await ctx.sleep(50);
            }
          } catch (err) {
            cancelledPages.push(input.afterId);
            throw err;
          }
        }
        await new Promise((r) => setTimeout(r, opts.pageMs ?? 10));
        return convert(input.afterId);
      });
    },
    async exportFinalize(input) {
      // The parts are the truth: each page once, however often it ran.
      const unique = [...new Set(pages.map((p) => p.afterId))].map(convert);
      const sum = (k: 'success' | 'failed' | 'skipped') => unique.reduce((n, p) => n + p[k], 0);
      return { export_path: input.exportPath, total: items, success: sum('success'), failed: sum('failed'), skipped: sum('skipped') };
    },
    async recordRunProgress(input) {
      progress.push({ progress: input.progress, metrics: input.metrics });
    },
    async recordRunStatus(input) {
      statuses.push({ status: input.status, error: input.error });
    },
  };
  return { activities, inFlight, pages, plans, progress, statuses, cancelledPages };
}

function exportInput(budget?: ExportWorkflowInput['budget']): ExportWorkflowInput {
  return { ...stubRunInput('export', { dataset_conversion: { weight: 100 } }), ...(budget ? { budget } : {}) };
}

describe('export workflow (stub activities)', () => {
  let t: WorkflowTestEnv;
  let seq = 0;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  /** Runs an export to its end; returns the final state and how many executions the chain had. */
  async function runExport(fake: ReturnType<typeof fakeExport>, input: ExportWorkflowInput): Promise<{ final: RunState; executions: number }> {
    return t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(exportWorkflow, { workflowId: `export-${Date.now()}-${++seq}`, taskQueue, args: [input] });
      const final = await handle.result();
      return { final, executions: new Set(fake.pages.map((p) => p.runId)).size };
    });
  }

  it(`never has more than PAGES_IN_FLIGHT (${PAGES_IN_FLIGHT}) pages in flight, and fills every slot`, async () => {
    const fake = fakeExport(100, 5, { pageMs: 30, fillSlots: PAGES_IN_FLIGHT });
    const { final } = await runExport(fake, exportInput());
    expect(final.status).toBe('completed');
    expect(fake.pages).toHaveLength(20);
    expect(fake.inFlight.max).toBe(PAGES_IN_FLIGHT);
  });

  it('plans pagesPerPlan pages at a time and continues as new once pagesPerRun pages ran', async () => {
    const fake = fakeExport(100, 5);
    const { final, executions } = await runExport(fake, exportInput({ pagesPerPlan: 2, pagesPerRun: 3 }));
    expect(final.status).toBe('completed');
    // 20 pages, 2 per plan; a run ends after the plan that reaches 3 pages: 4 pages a run.
    expect(fake.plans.map((p) => p.pages)).toEqual(Array(10).fill(2));
    expect(fake.plans.map((p) => p.afterId)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(executions).toBe(5);
    const perRun = new Map<string, number>();
    for (const p of fake.pages) perRun.set(p.runId, (perRun.get(p.runId) ?? 0) + 1);
    expect([...perRun.values()]).toEqual([4, 4, 4, 4, 4]);
  });

  it('carries the cursor and counts over continue-as-new: the result equals a run without one', async () => {
    const straight = fakeExport(103, 5);
    const continued = fakeExport(103, 5);
    const a = await runExport(straight, exportInput());
    const b = await runExport(continued, exportInput({ pagesPerPlan: 1, pagesPerRun: 1 }));
    expect(a.executions).toBe(1);
    expect(b.executions).toBe(21);
    // Every page exactly once, in cursor order.
    expect(continued.pages.map((p) => p.afterId)).toEqual(straight.pages.map((p) => p.afterId).sort((x, y) => x - y));
    expect(new Set(continued.pages.map((p) => p.afterId)).size).toBe(21);
    for (const key of ['status', 'result', 'progress', 'metrics', 'percent', 'attempt'] as const) expect(b.final[key], key).toEqual(a.final[key]);
    expect(b.final.result).toMatchObject({ total: 103, success: 89, failed: 14 });
    expect(b.final.metrics.data_file).toEqual({ success: 89, failed: 14, stand_by: 0 });
    // What the run store saw last is the final count, in both.
    expect(continued.progress.at(-1)).toEqual(straight.progress.at(-1));
    expect(continued.progress.at(-1)).toEqual({
      progress: { dataset_conversion: { current: 103, total: 103 } },
      metrics: { data_file: { success: 89, failed: 14, stand_by: 0 } },
    });
    expect(continued.statuses).toEqual([{ status: 'completed', error: undefined }]);
  });

  it('keeps the start time of the first execution across continue-as-new', async () => {
    const fake = fakeExport(20, 5);
    await t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(exportWorkflow, {
        workflowId: `export-start-${++seq}`,
        taskQueue,
        args: [exportInput({ pagesPerPlan: 1, pagesPerRun: 1 })],
      });
      const final = await handle.result();
      const first = await t.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
      expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
      expect(final.startedAt).toBe(first.startTime.toISOString());
    });
  });

  it('cancelled mid-export: the pages see the cancellation, the run is marked cancelled and recorded', async () => {
    const fake = fakeExport(100, 5, { blockPages: true });
    await t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(exportWorkflow, { workflowId: `export-cancel-${++seq}`, taskQueue, args: [exportInput()] });
      const deadline = Date.now() + 10_000;
      while (fake.inFlight.now < PAGES_IN_FLIGHT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(fake.inFlight.now).toBe(PAGES_IN_FLIGHT);
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      // WAIT_CANCELLATION_COMPLETED: every page in flight saw it before the run ended.
      expect(fake.cancelledPages.sort((x, y) => x - y)).toEqual([0, 5, 10, 15]);
      expect(fake.pages).toHaveLength(PAGES_IN_FLIGHT);
      // Recorded as cancelled; a local activity runs at least once (twice when the server
      // refused the closing workflow task because more page cancellations had arrived).
      expect(fake.statuses.length).toBeGreaterThanOrEqual(1);
      expect(fake.statuses.every((s) => s.status === 'cancelled' && s.error === 'Activity cancelled')).toBe(true);
      const state = await handle.query(runStateQuery);
      expect(state.status).toBe('cancelled');
      expect(state.finishedAt).toBeDefined();
    });
  });
});

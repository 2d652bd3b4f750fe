/**
 * The task-page run shape against stub activities (test/workflow-test-env.ts): a fake project
 * of tasks with ids 1..N (every 7th fails in the plugin), pages the stubs "process" after a
 * short pause, so the test sees which pages the workflow plans and starts, how many at once,
 * what a continue-as-new carries, and the counts it shows and records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import { TASK_PAGES_IN_FLIGHT, taskPagesWorkflow, type TaskPagesWorkflowInput } from '../../workflows/task-pages.js';
import { executionOfActivity, InFlight, startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

function fakeProject(tasks: number, pageSize: number, opts: { pageMs?: number; fillSlots?: number } = {}) {
  const inFlight = new InFlight(opts.fillSlots ? { slots: opts.fillSlots, total: Math.ceil(tasks / pageSize) } : undefined);
  const pages: { afterId: number; upToId: number; runId: string }[] = [];
  const progress: { progress: unknown; metrics: unknown }[] = [];
  const statuses: { status: string; error?: string | undefined }[] = [];
  const process = (afterId: number, upToId: number) => {
    const ids = Array.from({ length: Math.max(0, upToId - afterId) }, (_, i) => afterId + 1 + i);
    const failed = ids.filter((id) => id % 7 === 0).length;
    return { count: ids.length, success: ids.length - failed, failed, skipped: 0, resumed: 0, attempt: 1 };
  };
  const activities: StubActivities = {
    async taskPagesPrepare() {
      return { total: tasks, pageSize };
    },
    async taskPagesPlan(input) {
      const out: { afterId: number; upToId: number }[] = [];
      for (let at = input.afterId; at < tasks && out.length < input.pages; at += input.pageSize)
        out.push({ afterId: at, upToId: Math.min(tasks, at + input.pageSize) });
      const nextAfterId = out.length ? (out[out.length - 1] as { upToId: number }).upToId : input.afterId;
      return { pages: out, nextAfterId, more: nextAfterId < tasks };
    },
    async taskPage(input) {
      pages.push({ afterId: input.afterId, upToId: input.upToId, runId: executionOfActivity() });
      return inFlight.run(async () => {
        await new Promise((r) => setTimeout(r, opts.pageMs ?? 10));
        return process(input.afterId, input.upToId);
      });
    },
    async taskPagesFinalize() {
      // The stored results are the truth: each page once, however often it ran.
      const unique = new Map(pages.map((p) => [p.afterId, process(p.afterId, p.upToId)]));
      const sum = (k: 'success' | 'failed' | 'skipped') => [...unique.values()].reduce((n, p) => n + p[k], 0);
      return { total: tasks, success: sum('success'), failed: sum('failed'), skipped: sum('skipped'), report: 'reports/x.json' };
    },
    async recordRunProgress(input) {
      progress.push({ progress: input.progress, metrics: input.metrics });
    },
    async recordRunStatus(input) {
      statuses.push({ status: input.status, error: input.error });
    },
  };
  return { activities, inFlight, pages, progress, statuses };
}

function input(budget?: TaskPagesWorkflowInput['budget']): TaskPagesWorkflowInput {
  return { ...stubRunInput('to_task', { annotate_task_data: { weight: 100 } }), ...(budget ? { budget } : {}) };
}

describe('task-page workflow (stub activities)', () => {
  let t: WorkflowTestEnv;
  let seq = 0;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  async function run(fake: ReturnType<typeof fakeProject>, i: TaskPagesWorkflowInput): Promise<{ final: RunState; executions: number }> {
    return t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(taskPagesWorkflow, { workflowId: `task-pages-${Date.now()}-${++seq}`, taskQueue, args: [i] });
      const final = await handle.result();
      return { final, executions: new Set(fake.pages.map((p) => p.runId)).size };
    });
  }

  it(`runs every page once, never more than ${TASK_PAGES_IN_FLIGHT} at once, failures counted and the run completed`, async () => {
    const fake = fakeProject(100, 5, { pageMs: 30, fillSlots: TASK_PAGES_IN_FLIGHT });
    const { final } = await run(fake, input());
    expect(final.status).toBe('completed');
    expect(fake.pages).toHaveLength(20);
    expect(new Set(fake.pages.map((p) => p.afterId)).size).toBe(20);
    expect(fake.inFlight.max).toBe(TASK_PAGES_IN_FLIGHT);
    expect(final.result).toEqual({ total: 100, success: 86, failed: 14, skipped: 0, report: 'reports/x.json' });
    expect(final.progress.annotate_task_data).toEqual({ current: 100, total: 100 });
    expect(final.metrics.annotate_task_data).toEqual({ total: 100, success: 86, failed: 14, stand_by: 0 });
    expect(final.percent).toBe(100);
    // The counts are recorded after each page, stand_by going down to 0.
    const standBy = fake.progress.map((p) => (p.metrics as { annotate_task_data: { stand_by: number } }).annotate_task_data.stand_by);
    expect(standBy.length).toBeGreaterThanOrEqual(20);
    expect(standBy.at(-1)).toBe(0);
    expect(Math.max(...standBy)).toBeGreaterThan(0);
    expect(fake.statuses).toEqual([{ status: 'completed', error: undefined }]);
  });

  it('carries the cursor and counts over continue-as-new: the result equals a run without one', async () => {
    const straight = fakeProject(53, 5);
    const continued = fakeProject(53, 5);
    const a = await run(straight, input());
    const b = await run(continued, input({ pagesPerPlan: 1, pagesPerRun: 2 }));
    expect(a.executions).toBe(1);
    expect(b.executions).toBe(6);
    expect(continued.pages.map((p) => p.afterId)).toEqual(straight.pages.map((p) => p.afterId).sort((x, y) => x - y));
    for (const key of ['status', 'result', 'progress', 'metrics', 'percent', 'attempt'] as const) expect(b.final[key], key).toEqual(a.final[key]);
    expect(continued.progress.at(-1)).toEqual(straight.progress.at(-1));
    expect(continued.statuses).toEqual([{ status: 'completed', error: undefined }]);
  });

  it('a project with no matching task completes at once with zero counts', async () => {
    const fake = fakeProject(0, 5);
    const { final } = await run(fake, input());
    expect(final.status).toBe('completed');
    expect(fake.pages).toHaveLength(0);
    expect(final.metrics.annotate_task_data).toEqual({ total: 0, success: 0, failed: 0, stand_by: 0 });
    expect(final.percent).toBe(100);
  });
});

/**
 * The activity that runs a plugin action: find the plugin, validate params, call
 * `start(ctx)` with an ActivityRunContext, and turn what happened into the right kind of
 * Temporal outcome (result, retryable failure, non-retryable failure, cancellation).
 */
import { Context } from '@temporalio/activity';
import type { RunStore } from '../platform/run-store.js';
import { loadRunAction, parseParams } from '../engine/plugin-loader.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { CategoryProgress, MetricValues, ProgressSnapshot, RunStatus } from '../contracts/run-state.js';
import { ActivityRunContext } from './activity-run-context.js';
import { rethrowAsFailure } from './failures.js';

export interface RunActionActivityInput extends RunActionInput {
  runId: string;
}

export interface RunActionOutput {
  result: unknown;
  snapshot: ProgressSnapshot;
  attempt: number;
}

export interface RunActivityDeps {
  store: RunStore;
}

export function createRunActivities({ store }: RunActivityDeps) {
  return {
    async runAction(input: RunActionActivityInput): Promise<RunActionOutput> {
      const activity = Context.current();
      const action = await loadRunAction(input.plugin, input.action).catch(rethrowAsFailure);
      let params: unknown;
      try {
        params = parseParams(action, input.params);
      } catch (err) {
        rethrowAsFailure(err);
      }
      await store.updateRun(input.runId, { status: 'running' });
      const ctx = await ActivityRunContext.create({
        runId: input.runId,
        params,
        activity,
        store,
        progressCategories: action.progressCategories,
      });
      if (activity.info.attempt > 1) {
        ctx.logMessage(`attempt ${activity.info.attempt} starts${ctx.resumeState() === undefined ? '' : ' from the last checkpoint'}`, 'WARNING');
      }
      try {
        const instance = new (action.cls as unknown as new () => { start(c: ActivityRunContext): Promise<unknown> })();
        const result = await instance.start(ctx);
        if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
        return { result: result ?? null, snapshot: ctx.snapshot(), attempt: activity.info.attempt };
      } catch (err) {
        if (activity.cancellationSignal.aborted) {
          ctx.logMessage('run cancelled', 'WARNING');
          throw activity.cancellationSignal.reason;
        }
        ctx.logMessage(`attempt ${activity.info.attempt} failed: ${errorMessage(err)}`, 'ERROR');
        rethrowAsFailure(err);
      } finally {
        await ctx.close();
      }
    },

    /** Mirrors the run's final status into the run store (a local activity). */
    /** A workflow's own progress and metrics (e.g. an export's item counts) as run events. */
    async recordRunProgress(input: { runId: string; attempt: number; progress: Record<string, CategoryProgress>; metrics: Record<string, MetricValues> }): Promise<void> {
      const at = new Date().toISOString();
      await store.appendEvents([
        ...Object.entries(input.progress).map(([category, p]) => ({
          runId: input.runId,
          attempt: input.attempt,
          at,
          data: { kind: 'progress' as const, category, current: p.current, total: p.total },
        })),
        ...Object.entries(input.metrics).map(([category, values]) => ({ runId: input.runId, attempt: input.attempt, at, data: { kind: 'metrics' as const, category, values } })),
      ]);
    },

    async recordRunStatus(input: { runId: string; status: RunStatus; result?: unknown; error?: string }): Promise<void> {
      await store.updateRun(input.runId, {
        status: input.status,
        ...(input.result !== undefined ? { result: input.result } : {}),
        ...(input.error !== undefined ? { error: input.error } : {}),
      });
      await store.appendEvents([
        {
          runId: input.runId,
          attempt: 0,
          at: new Date().toISOString(),
          data: { kind: 'status', status: input.status, ...(input.error ? { message: input.error } : {}) },
        },
      ]);
    },
  };
}



function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The simple run shape's activity, `runAction`: the plugin action's `start(ctx)` with an
 * ActivityRunContext, inside the step harness (step.ts: load, params, running, failures).
 * The context carries `ctx.platform` (sdk/platform-api.ts) as a task-page run's does, so a
 * job reads and writes platform data through the same API.
 * And the two local activities every shape's workflow uses to mirror the run into the run
 * store: `recordRunStatus` and `recordRunProgress`.
 */
import { parseParams } from '../engine/plugin-loader.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { CategoryProgress, MetricValues, ProgressSnapshot, RunStatus } from '../contracts/run-state.js';
import { ANY_ACTION, type ActionInstanceClass } from './action-kinds.js';
import { createPlatformApi, withPlatform } from './platform-api.js';
import type { StepDeps, StepSpec } from './step.js';

export interface RunActionActivityInput extends RunActionInput {
  runId: string;
}

export interface RunActionOutput {
  result: unknown;
  snapshot: ProgressSnapshot;
  attempt: number;
}

/** The simple shape's action: any Action class, params by its own schema. */
const SIMPLE: StepSpec<ActionInstanceClass, unknown> = { kind: ANY_ACTION, params: (raw, { action }) => parseParams(action, raw), host: 'action' };

export function createRunActivities({ store, steps, platform }: Pick<StepDeps, 'store' | 'steps' | 'platform'>) {
  return {
    async runAction(input: RunActionActivityInput): Promise<RunActionOutput> {
      return steps.step(input, SIMPLE, { marksRunning: true, scope: 'run' }, async ({ cls, ctx }) => {
        if (ctx.attempt > 1) {
          ctx.logMessage(`attempt ${ctx.attempt} starts${ctx.resumeState() === undefined ? '' : ' from the last checkpoint'}`, 'WARNING');
        }
        const api = createPlatformApi(platform, { runId: input.runId, attempt: ctx.attempt, pluginCode: input.plugin.code, runs: store });
        const result = await new cls().start(withPlatform(ctx, api));
        // The last progress travels with the result (the workflow merges it): no closing signal,
        // which cost a server call and a workflow task per run (bench/run-overhead.ts).
        const { attempt, ...snapshot } = ctx.takeFinalReport();
        return { result: result ?? null, snapshot, attempt };
      });
    },

    /** A workflow's own progress and metrics (e.g. an export's item counts) as run events. */
    async recordRunProgress(input: {
      runId: string;
      attempt: number;
      progress: Record<string, CategoryProgress>;
      metrics: Record<string, MetricValues>;
    }): Promise<void> {
      const at = new Date().toISOString();
      await store.appendEvents([
        ...Object.entries(input.progress).map(([category, p]) => ({
          runId: input.runId,
          attempt: input.attempt,
          at,
          data: { kind: 'progress' as const, category, current: p.current, total: p.total },
        })),
        ...Object.entries(input.metrics).map(([category, values]) => ({
          runId: input.runId,
          attempt: input.attempt,
          at,
          data: { kind: 'metrics' as const, category, values },
        })),
      ]);
    },

    /** Mirrors the run's final status into the run store (a local activity). */
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

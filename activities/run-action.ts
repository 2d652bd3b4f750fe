/**
 * The simple run shape's activity, `runAction`: the plugin action's `start(ctx)` with an
 * ActivityRunContext, inside the step harness (step.ts: load, params, running, failures).
 * The context carries `ctx.platform` (sdk/platform-api.ts) as a task-page run's does, so a
 * job reads and writes platform data through the same API.
 * Being the whole run, the step also records the run's completion in the run store.
 * And the two local activities every shape's workflow uses to mirror the run into the run
 * store: `recordRunStatus` (the simple shape's only when its step could not) and `recordRunProgress`.
 */
import { parseParams } from '../engine/plugin-loader.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { CategoryProgress, MetricValues, ProgressSnapshot, RunStatus } from '../contracts/run-state.js';
import { ANY_ACTION, type ActionInstanceClass } from './action-kinds.js';
import { createPlatformApi, withPlatform } from './platform-api.js';
import type { StepDeps, StepSpec } from './step.js';
import type { RunStore } from '../platform/run-store.js';

export interface RunActionActivityInput extends RunActionInput {
  runId: string;
}

export interface RunActionOutput {
  result: unknown;
  snapshot: ProgressSnapshot;
  attempt: number;
  /**
   * True when the step itself recorded the run completed in the run store (the status and the
   * result, after its last events), so the workflow ends without its `recordRunStatus` local
   * activity. False (or absent, in histories recorded before it existed) when that write
   * failed: the workflow records it, with its own retries.
   */
  recorded?: boolean;
}

export interface RunStatusRecord {
  runId: string;
  status: RunStatus;
  result?: unknown;
  error?: string;
}

/** The run's final status into the run store: the row and a `status` event (attempt 0, the run's own). */
async function recordStatus(store: RunStore, input: RunStatusRecord): Promise<void> {
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
}

/** The simple shape's action: any Action class, params by its own schema. */
const SIMPLE: StepSpec<ActionInstanceClass, unknown> = { kind: ANY_ACTION, params: (raw, { action }) => parseParams(action, raw), host: 'action' };

export function createRunActivities({ store, steps, platform }: Pick<StepDeps, 'store' | 'steps' | 'platform'>) {
  return {
    async runAction(input: RunActionActivityInput): Promise<RunActionOutput> {
      const output = await steps.step(input, SIMPLE, { marksRunning: true, scope: 'run' }, async ({ cls, ctx }) => {
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
      // The step is the whole run, so its end is the run's: recorded here, after the step's
      // last events (the harness flushed them), the workflow's final task needs no local
      // activity, which cost ~6 ms a run (bench/run-overhead.ts). A failed write must not fail
      // the run (a retry would run the action again): the workflow records it then.
      const recorded = await recordStatus(store, { runId: input.runId, status: 'completed', result: output.result }).then(
        () => true,
        () => false,
      );
      return { ...output, recorded };
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
    recordRunStatus(input: RunStatusRecord): Promise<void> {
      return recordStatus(store, input);
    },
  };
}

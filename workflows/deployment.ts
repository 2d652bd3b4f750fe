/**
 * The deployment run shape (neural_net `deployment`, docs/serving.md): a long-lived run that
 * keeps `desired` replicas alive. Each replica is one long-running serve step
 * (activities/serve.ts `serveReplica`) in its own cancellation scope, on the restapi task
 * queue (the gpu one when the deployment asks for GPUs).
 *
 * - A worker that dies: its replica's heartbeats stop, the heartbeat timeout fires and
 *   Temporal retries the step on another worker (retries without limit: a serve is not a
 *   job that gives up); the new attempt replaces the replica's database row.
 * - A model that fails to load: the step fails without retry; the other replicas are
 *   stopped and the run fails with the reason.
 * - Scale: the `scale` update (validated 1..MAX_REPLICAS) starts the missing slots or
 *   cancels the extra ones and answers once the slots match (scaled-down replicas drained).
 * - Undeploy: cancelling the run cancels every replica; it waits for them to drain and
 *   deregister, then the run is `cancelled`.
 *
 * - Long deployments: every change (a replica ended, a scale) adds events to the history.
 *   After `budget.changesPerRun` changes in one execution (default 500), or when Temporal
 *   suggests it (history size or length), and no scale update is in flight, the replicas are
 *   drained and the run continues as new (continueWithCarry) with the desired replicas, the
 *   failures and the run's attempt and start time; the new execution starts the replicas
 *   again. Callers see 503 + Retry-After for the time the replicas take to load again; scale
 *   updates are refused meanwhile.
 *
 * Metrics category `deployment` (the workflow's own): desired, running, failures.
 */
import {
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { deploymentQuery, MAX_REPLICAS, scaleUpdate, type DeploymentView } from '../contracts/deployment-messages.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import { trackRun, type RunCarry } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';

export const DEPLOYMENT_METRICS_CATEGORY = 'deployment';
/** Changes (replica endings, scales) one execution takes before it continues as new. */
export const CHANGES_PER_RUN = 500;

/** What an execution hands to the next one of a continued deployment. */
export interface DeploymentCarry extends RunCarry {
  failures: number;
}

export interface DeploymentWorkflowInput extends RunActionInput {
  /** Replicas to start with (the params' `replicas`). */
  replicas: number;
  /** Where the replicas run when not the run's own queue (`<prefix>-gpu-restapi` when num_gpus > 0). */
  replicaTaskQueue?: string;
  /** Set by the previous execution when the run continued as new. */
  carry?: DeploymentCarry;
  /** Tests: a smaller budget of changes per execution. */
  budget?: { changesPerRun?: number };
}

interface Slot {
  scope: CancellationScope;
  done: Promise<void>;
  stopping: boolean;
}

export async function deploymentWorkflow(input: DeploymentWorkflowInput): Promise<RunState> {
  const run = trackRun(input, { carry: input.carry, own: { metrics: [DEPLOYMENT_METRICS_CATEGORY] } });
  // Retried without limit (no maximumAttempts): a lost worker must never end a deployment.
  const { maximumAttempts: _bounded, ...unbounded } = DEFAULT_RETRY_POLICY;
  const { serveReplica } = proxyActivities<Activities>({
    ...stepOptions(input),
    retry: unbounded,
    ...(input.replicaTaskQueue ? { taskQueue: input.replicaTaskQueue } : {}),
  });
  const runId = workflowInfo().workflowId;
  let desired = Math.min(MAX_REPLICAS, Math.max(1, input.replicas));
  let failures = input.carry?.failures ?? 0;
  const changesPerRun = input.budget?.changesPerRun ?? CHANGES_PER_RUN;
  let changesThisRun = 0;
  let continuing = false;
  // Deployments started before continue-as-new existed keep running as they were (replay).
  const mayContinue = patched('deployment-continue-as-new');
  let fatal: unknown;
  let changed = true;
  const slots = new Map<number, Slot>();

  const view = (): DeploymentView => ({ desired, running: [...slots.keys()].sort((a, b) => a - b), failures });
  const settled = (): boolean => fatal !== undefined || (slots.size === desired && [...slots.keys()].every((i) => i < desired));
  const show = (): void => {
    run.state.metrics[DEPLOYMENT_METRICS_CATEGORY] = { desired, running: slots.size, failures };
    run.publish();
  };

  setHandler(deploymentQuery, view);
  setHandler(
    scaleUpdate,
    async (replicas) => {
      desired = replicas;
      changed = true;
      await condition(settled);
      return view();
    },
    {
      validator: (replicas) => {
        if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
          throw new Error(`replicas must be a whole number from 1 to ${MAX_REPLICAS}, not ${String(replicas)}`);
        if (run.state.status !== 'running') throw new Error(`the deployment is ${run.state.status}`);
        if (continuing) throw new Error('the deployment is moving to a new history (continue-as-new); try again in a few seconds');
      },
    },
  );

  const start = (replica: number): void => {
    const scope = new CancellationScope();
    const done = scope
      .run(() =>
        serveReplica.executeWithOptions({ summary: `replica ${replica}` }, [
          { runId, plugin: input.plugin, action: input.action, params: input.params, replica, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds },
        ]),
      )
      .then(
        () => {},
        (err: unknown) => {
          if (isCancellation(err)) return;
          failures++;
          fatal ??= err;
        },
      )
      .finally(() => {
        slots.delete(replica);
        changed = true;
      });
    slots.set(replica, { scope, done, stopping: false });
  };

  /** Cancels the slots `which` selects and waits until they ended (drained and deregistered). */
  const stop = async (which: (replica: number) => boolean): Promise<void> => {
    const ending: Promise<void>[] = [];
    for (const [i, slot] of slots) {
      if (!which(i)) continue;
      if (!slot.stopping) slot.scope.cancel();
      slot.stopping = true;
      ending.push(slot.done);
    }
    await CancellationScope.nonCancellable(() => Promise.all(ending));
  };

  return runShape(run, async () => {
    try {
      for (;;) {
        if (fatal !== undefined) {
          await stop(() => true);
          throw fatal;
        }
        for (let i = 0; i < desired; i++) if (!slots.has(i)) start(i);
        for (const [i, slot] of slots) {
          if (i >= desired && !slot.stopping) {
            slot.stopping = true;
            slot.scope.cancel();
          }
        }
        await run.step(`serving ${desired} replica${desired === 1 ? '' : 's'}`, async () => show());
        changed = false;
        changesThisRun++;
        const spent = () => mayContinue && budgetSpent(changesThisRun, changesPerRun) && allHandlersFinished();
        await condition(() => changed || spent());
        if (!changed && spent()) {
          continuing = true;
          await run.step(`continuing as new: draining ${slots.size} replica${slots.size === 1 ? '' : 's'}`, () => stop(() => true));
          // Undeployed while draining: end cancelled, not continued.
          if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('undeployed while continuing as new');
          if (fatal === undefined) {
            const { carry: _previous, ...rest } = input;
            await continueWithCarry<DeploymentCarry, DeploymentWorkflowInput>(
              run,
              { ...rest, replicas: desired },
              { failures, attempt: run.state.attempt, startedAt: run.state.startedAt },
            );
          }
          continuing = false; // a replica failed while draining: the loop fails the run
        }
      }
    } catch (err) {
      // Undeploy: the replicas got the cancellation too; the run ends once they drained.
      if (isCancellation(err)) await stop(() => true);
      throw err;
    }
  });
}

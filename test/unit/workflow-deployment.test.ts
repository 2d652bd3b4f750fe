/**
 * The deployment run shape's continue-as-new (workflows/deployment.ts) against stub serve
 * steps (test/workflow-test-env.ts): with a budget of 3 changes per execution, a deployment
 * scaled 2 -> 3 -> 1 drains its replicas and continues as new with the desired count, the
 * run's start time and attempt; the next execution serves that count, takes further scales,
 * and an undeploy ends it cancelled. Each replica step stops only when cancelled, like the
 * real one.
 */
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentQuery, scaleUpdate } from '../../contracts/deployment-messages.js';
import type { RunStatus } from '../../contracts/run-state.js';
import { deploymentWorkflow, type DeploymentWorkflowInput } from '../../workflows/deployment.js';
import { executionOfActivity, startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

interface Served {
  replica: number;
  execution: string;
  ended: boolean;
}

function fakeReplicas() {
  const served: Served[] = [];
  const statuses: { status: RunStatus; error?: string }[] = [];
  const activities: StubActivities = {
    async serveReplica(input) {
      const entry: Served = { replica: input.replica, execution: executionOfActivity(), ended: false };
      served.push(entry);
      const ctx = Context.current();
      // Serve until cancelled (scale down, continue-as-new, undeploy): heartbeats carry the cancellation.
      const beat = setInterval(() => ctx.heartbeat(), 50);
      try {
        await ctx.cancelled;
      } catch {
        // the cancellation: drain and stop
      } finally {
        clearInterval(beat);
        entry.ended = true;
      }
      return { replica: input.replica, served: 0 };
    },
    async recordRunProgress() {},
    async recordRunStatus(input) {
      statuses.push({ status: input.status, ...(input.error ? { error: input.error } : {}) });
    },
  };
  return { activities, served, statuses };
}

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('deployment workflow (stub replicas)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  it('continues as new after its budget of changes, carrying the replicas, and undeploys from the new execution', async () => {
    const fake = fakeReplicas();
    const input: DeploymentWorkflowInput = {
      ...stubRunInput('neural_net'),
      action: 'deployment',
      method: 'restapi',
      heartbeatTimeoutSeconds: 2,
      replicas: 2,
      budget: { changesPerRun: 3 },
    };
    await t.withWorker(fake.activities, async (taskQueue) => {
      const workflowId = `deployment-${Date.now()}`;
      const first = await t.env.client.workflow.start(deploymentWorkflow, { workflowId, taskQueue, args: [input] });
      const running = (execution: string) => fake.served.filter((s) => s.execution === execution && !s.ended).map((s) => s.replica);
      await until(() => (running(first.firstExecutionRunId).length === 2 ? true : undefined), '2 replicas');
      const started = await first.query(deploymentQuery);
      expect(started).toEqual({ desired: 2, running: [0, 1], failures: 0 });

      // Change 2 and 3: the scales. Then the budget is spent: drain, continue as new with 1 replica.
      expect(await first.executeUpdate(scaleUpdate, { args: [3] })).toMatchObject({ desired: 3, running: [0, 1, 2] });
      expect(await first.executeUpdate(scaleUpdate, { args: [1] })).toMatchObject({ desired: 1, running: [0] });
      const handle = t.env.client.workflow.getHandle(workflowId);
      const next = await until(async () => {
        const { runId } = await handle.describe();
        return runId !== first.firstExecutionRunId ? runId : undefined;
      }, 'the next execution');
      expect(fake.served.filter((s) => s.execution === first.firstExecutionRunId).every((s) => s.ended)).toBe(true);
      await until(() => (running(next).length === 1 ? true : undefined), 'the replica of the next execution');
      expect(running(next)).toEqual([0]);
      expect(await handle.query(deploymentQuery)).toEqual({ desired: 1, running: [0], failures: 0 });
      const firstState = await t.env.client.workflow.getHandle(workflowId, first.firstExecutionRunId).describe();
      expect(firstState.status.name).toBe('CONTINUED_AS_NEW');

      // The new execution scales (one change: its budget is not spent) and undeploys.
      expect(await handle.executeUpdate(scaleUpdate, { args: [2] })).toMatchObject({ desired: 2, running: [0, 1] });
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).runId).toBe(next);
      expect(fake.served.every((s) => s.ended)).toBe(true);
      expect(fake.statuses.at(-1)?.status).toBe('cancelled');
      // Two executions in all, replicas 0,1 then 0,1,2 then 0 (after the continue-as-new) then 1.
      expect(new Set(fake.served.map((s) => s.execution)).size).toBe(2);
    });
  }, 120_000);
});

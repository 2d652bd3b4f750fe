/**
 * The simple run shape's ending (workflows/run-action.ts) against a stub step: a step that
 * recorded the run's completion itself (`recorded: true`, what `runAction` does since its
 * status write moved into the step) ends the workflow without the `recordRunStatus` local
 * activity; a step whose write failed (`recorded: false`) gets it from the workflow, once,
 * with the result; a failed step is recorded failed by the workflow as before.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState, RunStatus } from '../../contracts/run-state.js';
import { runActionWorkflow } from '../../workflows/run-action.js';
import { startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

function stubStep(outcome: { recorded?: boolean; fails?: string }) {
  const statuses: { status: RunStatus; result?: unknown; error?: string }[] = [];
  const activities: StubActivities = {
    async runAction() {
      if (outcome.fails) throw ApplicationFailure.nonRetryable(outcome.fails);
      return {
        result: { checked: 3 },
        snapshot: { progress: { validation: { current: 3, total: 3 } }, metrics: {} },
        attempt: 1,
        ...(outcome.recorded === undefined ? {} : { recorded: outcome.recorded }),
      };
    },
    async recordRunProgress() {},
    async recordRunStatus(input) {
      statuses.push({ status: input.status, ...(input.result !== undefined ? { result: input.result } : {}), ...(input.error ? { error: input.error } : {}) });
    },
  };
  return { activities, statuses };
}

describe('simple run shape: who records the end', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  const run = (activities: StubActivities) =>
    t.withWorker(activities, (taskQueue) =>
      t.env.client.workflow.execute(runActionWorkflow, {
        workflowId: `run-action-${Date.now()}-${Math.random()}`,
        taskQueue,
        args: [{ ...stubRunInput('data_validation', { validation: { weight: 1 } }), action: 'validation' }],
      }),
    );

  it('a step that recorded the completion ends the run with no recordRunStatus', async () => {
    const stub = stubStep({ recorded: true });
    const state: RunState = await run(stub.activities);
    expect(state.status).toBe('completed');
    expect(state.result).toEqual({ checked: 3 });
    expect(state.percent).toBe(100);
    expect(stub.statuses).toEqual([]);
  });

  it('a step whose status write failed (recorded: false) gets it from the workflow, once, with the result', async () => {
    const stub = stubStep({ recorded: false });
    expect((await run(stub.activities)).status).toBe('completed');
    expect(stub.statuses).toEqual([{ status: 'completed', result: { checked: 3 } }]);
  });

  it('a step from before the flag (none in its output) gets it from the workflow too', async () => {
    const stub = stubStep({});
    await run(stub.activities);
    expect(stub.statuses).toEqual([{ status: 'completed', result: { checked: 3 } }]);
  });

  it('a failed step is recorded failed by the workflow', async () => {
    const stub = stubStep({ fails: 'params: count must be a number' });
    await expect(run(stub.activities)).rejects.toThrow(WorkflowFailedError);
    expect(stub.statuses).toEqual([{ status: 'failed', error: 'params: count must be a number' }]);
  });
});

/**
 * The simplest run shape: one heartbeating activity runs the plugin action's `start(ctx)`.
 * The activity checkpoints through heartbeats and the run store, so a retry after a lost
 * worker resumes where the last checkpoint left off. Progress reported by the activity
 * arrives as a signal and is served by the `runState` query and the Web UI's details.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { trackRun } from './run-tracker.js';

export async function runActionWorkflow(input: RunActionInput): Promise<RunState> {
  const run = trackRun(input);
  run.publish();

  const { runAction } = proxyActivities<typeof activities>({
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    // Let the action see the cancellation and stop cleanly before the run is marked cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  let result: unknown;
  try {
    const output = await runAction.executeWithOptions(
      { summary: `${input.plugin.code}@${input.plugin.version} ${input.action}` },
      [{ runId: run.state.runId, ...input }],
    );
    run.merge(output.snapshot);
    run.state.attempt = output.attempt;
    result = output.result;
  } catch (err) {
    return run.fail(err);
  }
  return run.complete(result);
}

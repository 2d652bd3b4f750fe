/**
 * The simplest run shape: one heartbeating activity runs the plugin action's `start(ctx)`.
 * The activity checkpoints through heartbeats and the run store, so a retry after a lost
 * worker resumes where the last checkpoint left off. Progress reported by the activity
 * arrives as a signal and is served by the `runState` query and the Web UI's details.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';

export async function runActionWorkflow(input: RunActionInput): Promise<RunState> {
  const run = trackRun(input);
  run.publish();
  // The action sees a cancellation (ctx.signal) and stops cleanly before the run is marked cancelled.
  const { runAction } = proxyActivities<Activities>(stepOptions(input));

  return runShape(run, async () => {
    const output = await runAction.executeWithOptions({ summary: `${input.plugin.code}@${input.plugin.version} ${input.action}` }, [
      { runId: run.state.runId, ...input },
    ]);
    run.merge(output.snapshot);
    run.state.attempt = output.attempt;
    // The step recorded the completion itself: no local activity at the end (histories from before it lack the flag).
    if (output.recorded) run.statusRecorded();
    return output.result;
  });
}

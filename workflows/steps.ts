/**
 * How a run shape calls its steps. `Activities` is the worker's activity set as the workflow
 * sees it, taken from `createActivities` itself (type only: nothing of activities/ enters the
 * workflow bundle), so a step's input and output types can never drift from its code.
 * `stepOptions` are the options of a step that runs plugin code: bounded by the run's
 * start-to-close seconds, retried on another worker after `heartbeatTimeoutSeconds` of
 * silence, backed off by the one default retry policy, and waiting for the step to see a
 * cancellation (ctx.signal, Python's ctx.cancelled) before the run is marked cancelled.
 */
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { RunActionInput } from '../contracts/run-input.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';

/** Every activity the worker registers, by name. */
export type Activities = ReturnType<typeof createActivities>;

/**
 * Options of a plugin step: `startToCloseTimeout` = `input.startToCloseSeconds` s,
 * `heartbeatTimeout` = `input.heartbeatTimeoutSeconds` s, DEFAULT_RETRY_POLICY,
 * WAIT_CANCELLATION_COMPLETED. Spread it and override a field where a step differs.
 */
export function stepOptions(input: Pick<RunActionInput, 'startToCloseSeconds' | 'heartbeatTimeoutSeconds'>): ActivityOptions {
  return {
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/**
 * "Is anyone going to run this?": a run whose task queue no worker polls stays `running 0%`
 * for ever, saying nothing (issue 17, problem 6). Temporal knows the task queue's recent
 * pollers (DescribeTaskQueue); when a running run's queue has none for workflows or for
 * activities, `run status` and `run watch` say so and what to start.
 */
import type { RunsParts } from './run-read.js';

/** temporal.api.enums.v1.TaskQueueType */
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** A poller seen longer ago than this is a worker that has gone. */
const POLLER_FRESH_MS = 2 * 60_000;

/**
 * Undefined when a worker polls `taskQueue` for both workflow and activity tasks; otherwise
 * one line saying which is missing and how to start a worker. Errors of the call are not
 * thrown (a hint is a hint): undefined.
 */
export async function noWorkerHint(parts: RunsParts, taskQueue: string): Promise<string | undefined> {
  const pollers = async (taskQueueType: number): Promise<number> => {
    const response = await parts.temporal.workflowService.describeTaskQueue({
      namespace: parts.temporal.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    const now = Date.now();
    return (response.pollers ?? []).filter((p) => {
      const seconds = p.lastAccessTime?.seconds;
      const at = seconds == null ? 0 : Number(seconds) * 1000;
      return now - at < POLLER_FRESH_MS;
    }).length;
  };
  try {
    const [workflows, activities] = await Promise.all([pollers(TASK_QUEUE_TYPE_WORKFLOW), pollers(TASK_QUEUE_TYPE_ACTIVITY)]);
    if (workflows > 0 && activities > 0) return undefined;
    const missing =
      workflows === 0 && activities === 0 ? 'no worker polls' : workflows === 0 ? 'no worker polls workflow tasks of' : 'no worker polls activity tasks of';
    return `${missing} task queue "${taskQueue}" on ${parts.settings.temporal.address}: the run waits until one does (start one with \`synapse worker\`, with the same TEMPORAL_ADDRESS and SYNAPSE_TASK_QUEUE_PREFIX)`;
  } catch {
    return undefined;
  }
}

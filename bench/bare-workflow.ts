/**
 * Baseline for the overhead benchmark: the least a Temporal run can be, a workflow that
 * calls one activity returning at once. No queries, signals, local activities or search
 * attributes, so its latency is what Temporal itself costs on this server.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './bare-activities.js';

const { bareActivity } = proxyActivities<BareActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

export async function bareWorkflow(n: number): Promise<number> {
  return bareActivity(n);
}

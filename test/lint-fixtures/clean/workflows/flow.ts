import { proxyActivities, sleep } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type * as activities from '../activities/steps.js';
import type { RunState } from '../contracts/run-state.js';
import { WORKFLOW_TYPES } from '../contracts/run-state.js';
import { label } from './label.js';

const retry: RetryPolicy = { maximumAttempts: 3 };
const { step } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute', retry });

export async function flow(file: string): Promise<string> {
  const state: RunState = await step(file);
  await sleep('1s');
  return label(WORKFLOW_TYPES.flow, state.step);
}

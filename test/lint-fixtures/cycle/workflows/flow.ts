import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/steps.js';

export interface RunState {
  step: number;
}

export async function flow(): Promise<RunState> {
  const { step } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
  return step({ step: 0 });
}

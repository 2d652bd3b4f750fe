import { sleep } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type * as activities from '../activities/index.js';
import type { Stats } from 'node:fs';
import { DONE } from '../contracts/run-state.js';
import { helper } from './sub/helper.js';
export { helper } from './sub/helper.js';
export type { WorkResult } from '../activities/index.js';

export const retry: RetryPolicy = { maximumAttempts: 1 };
export type Activities = typeof activities;

/** Mentions of process.env and setTimeout( here are ignored. */
export async function goodWorkflow(stats: Stats): Promise<string> {
  const label = `process.env ${helper()} ${stats.size}`;
  await sleep('1s');
  return `${label} ${DONE}`;
}

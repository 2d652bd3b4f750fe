/**
 * Activity types, for `proxyActivities<typeof activities>` in workflows. The worker builds
 * the implementations with their dependencies through `createActivities`.
 */
import type { RunStore } from '../platform/run-store.js';
import { createRunActivities } from './run-action.js';

export function createActivities(deps: { store: RunStore }) {
  return { ...createRunActivities(deps) };
}

type Activities = ReturnType<typeof createActivities>;
export declare const runAction: Activities['runAction'];
export declare const recordRunStatus: Activities['recordRunStatus'];

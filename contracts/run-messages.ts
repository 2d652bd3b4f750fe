/**
 * The messages every run workflow answers, defined once so that workflows, activities and
 * clients name them the same way: the `runState` query (the RunState people see) and the
 * `reportProgress` signal (a running step's throttled progress snapshot).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ProgressSnapshot, RunState } from './run-state.js';

/** Sent by a running activity, throttled; later snapshots replace earlier values. */
export interface ProgressReport extends ProgressSnapshot {
  attempt: number;
}

export const runStateQuery = defineQuery<RunState>('runState');
export const reportProgressSignal = defineSignal<[ProgressReport]>('reportProgress');

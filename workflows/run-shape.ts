/**
 * The frame every run shape shares. `runShape(run, body)` runs the shape's steps and ends the
 * run: completed with what `body` returns, failed or cancelled (recorded in the run store) on
 * any other outcome, except a continue-as-new, which passes through untouched because the
 * run goes on in the next execution of the chain. `continueWithCarry` is that continuation:
 * the same input with the shape's carry, whose `attempt` is the run's current one, so
 * `run status` shows the same attempt and start time across the chain. `budgetSpent` is the
 * one rule for when a long run continues: its own budget of steps, or Temporal's suggestion
 * (history size or length).
 */
import { ContinueAsNew, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { RunState } from '../contracts/run-state.js';
import type { RunCarry, RunTracker } from './run-tracker.js';

/**
 * Runs `body` and ends the run with it: `run.complete(result)` (resolving to the final
 * RunState, the workflow's result), `run.fail(err)` (rejecting with `err`), or a
 * ContinueAsNew rethrown as is.
 */
export async function runShape(run: RunTracker, body: () => Promise<unknown>): Promise<RunState> {
  let result: unknown;
  try {
    result = await body();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return run.fail(err);
  }
  return run.complete(result);
}

/**
 * Continues the workflow as new (same workflow type and task queue) with `input` and
 * `carry`, the carry's `attempt` set to `run.state.attempt`. Never resolves: it throws the
 * ContinueAsNew that `runShape` passes on.
 */
export function continueWithCarry<C extends RunCarry, I extends { carry?: C }>(run: RunTracker, input: I, carry: C): Promise<never> {
  return continueAsNew<(input: I) => Promise<RunState>>({ ...input, carry: { ...carry, attempt: run.state.attempt } });
}

/** True when `stepsThisRun` reached `budget` or Temporal suggests continuing as new. */
export function budgetSpent(stepsThisRun: number, budget: number): boolean {
  return stepsThisRun >= budget || workflowInfo().continueAsNewSuggested;
}

import type { RunState } from '../contracts/run-state.js';

/** The author API: `Action<P = any>` lets a plugin extend it without naming its params type. */
export abstract class Action<P = any> {
  abstract start(params: P, state: RunState): Promise<RunState>;
}

import type { RunState } from '../contracts/run-state.js';
import type { Action } from '../sdk/action.js';

export interface Store {
  save(state: RunState, by: Action): Promise<void>;
}

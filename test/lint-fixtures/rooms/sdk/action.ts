// sdk-no-engine, twice: a value from engine/ and a type from platform/.
import { loadPlugin } from '../engine/loader.js';
import type { Store } from '../platform/store.js';
import type { RunState } from '../contracts/state.js';

export abstract class Action {
  abstract start(state: RunState, store: Store): Promise<void>;
  load = loadPlugin;
}

// platform-storage-stay-low: a value from engine/. contracts/ is fine.
import type { RunState } from '../contracts/state.js';
import { loadPlugin } from '../engine/loader.js';

export interface Store {
  save(state: RunState): Promise<void>;
}
export const load = loadPlugin;

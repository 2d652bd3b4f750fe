// A cycle made of types only (the shape issue 11 measured between activities/ and workflows/):
// nothing loads it at run time, but neither file can be read or moved without the other.
import type { RunState } from '../workflows/flow.js';

export async function step(state: RunState): Promise<RunState> {
  return { ...state, step: state.step + 1 };
}

import { readFile } from 'node:fs/promises';
import { runState, type RunState } from '../contracts/run-state.js';

/** Activities do the I/O: Node is fine here. */
export async function step(file: string): Promise<RunState> {
  return runState.parse(JSON.parse(await readFile(file, 'utf8')));
}

import { WORKFLOW_TYPES } from '../contracts/run-state.js';
import type { flow } from '../workflows/flow.js';

/** Clients start workflows by type name; the workflow's signature is a type only. */
export function startArgs(file: string): { type: string; args: Parameters<typeof flow> } {
  return { type: WORKFLOW_TYPES.flow, args: [file] };
}

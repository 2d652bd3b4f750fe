/**
 * The simple run shape: any action no category shape claims runs as `runActionWorkflow`, one
 * activity calling the action's `start(ctx)` (docs/ARCHITECTURE.md "How a run flows"). Its
 * params are the action's own schema (parser `action`, engine/run-params.ts). The registry
 * falls back to it; it is not listed there.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { defineRunShape } from '../run-shape.js';

export const actionShape = defineRunShape({
  name: 'action',
  parser: 'action',
  workflow: WORKFLOW_TYPES.action,
});

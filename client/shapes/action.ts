/**
 * The simple run shape: any action no category shape claims runs as `runActionWorkflow`, one
 * activity calling the action's `start(ctx)` (docs/ARCHITECTURE.md "How a run flows"). Its
 * params are the action's own schema. The registry falls back to it; it is not listed there.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { parseParams } from '../../engine/plugin-loader.js';
import { defineRunShape } from '../run-shape.js';

export const actionShape = defineRunShape({
  name: 'action',
  matches: () => true,
  parseParams,
  workflow: WORKFLOW_TYPES.action,
});

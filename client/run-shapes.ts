/**
 * The run-shape registry: which workflow runs an action, how its params are checked, and
 * the hooks around its start (client/run-shape.ts says what a shape is). The first shape
 * whose `matches` says yes runs the action; an action no shape claims runs as the simple
 * one-activity `runActionWorkflow` (shapes/action.ts).
 *
 * A new run shape (tune, deployment, annotation task pages, ...) is one file under
 * `client/shapes/` exporting a `defineRunShape({...})`, and one entry in RUN_SHAPES below.
 * Nothing else in the client changes: run-start.ts only calls the shape's hooks.
 */
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { RunShape } from './run-shape.js';
import { actionShape } from './shapes/action.js';
import { deploymentShape } from './shapes/deployment.js';
import { exportShape } from './shapes/export.js';
import { modelInferenceShape, modelTestShape, trainShape } from './shapes/train.js';
import { taskPagesShape } from './shapes/task-pages.js';
import { tuneShape } from './shapes/tune.js';
import { uploadShape } from './shapes/upload.js';

/** Category shapes, most specific first. */
export const RUN_SHAPES: readonly RunShape[] = [
  trainShape,
  modelTestShape,
  modelInferenceShape,
  tuneShape,
  deploymentShape,
  exportShape,
  uploadShape,
  taskPagesShape,
];

export function runShapeFor(action: ResolvedAction): RunShape {
  return RUN_SHAPES.find((shape) => shape.matches(action)) ?? actionShape;
}

/** Names of the shapes whose runs resume from a checkpoint (`synapse run resume`), e.g. `train`. */
export function resumableShapeNames(): string[] {
  return RUN_SHAPES.filter((shape) => shape.resumePoint).map((shape) => shape.name);
}

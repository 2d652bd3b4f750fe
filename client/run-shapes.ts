/**
 * The run-shape registry: which workflow runs an action, how its params are checked, and
 * the hooks around its start (client/run-shape.ts says what a shape is). The shape whose
 * parser is the action's (engine/run-params.ts shapeParserOf, applied where the class is)
 * runs it; an action no category shape claims runs as the simple one-activity
 * `runActionWorkflow` (shapes/action.ts).
 *
 * A new run shape (tune, deployment, annotation task pages, ...) is one file under
 * `client/shapes/` exporting a `defineRunShape({...})`, one entry in RUN_SHAPES below, and its
 * parser in engine/run-params.ts. Nothing else in the client changes: run-start.ts only calls
 * the shape's hooks.
 */
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { shapeParserOf, type ActionDescription } from '../engine/run-params.js';
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

/** The shape of a described action (its `shape`), or of an action loaded in this process (from its class). */
export function runShapeFor(action: Pick<ActionDescription, 'shape'> | ResolvedAction): RunShape {
  const parser = 'shape' in action ? action.shape : shapeParserOf(action.plugin.config.category, action.name, action.cls);
  return RUN_SHAPES.find((shape) => shape.parser === parser) ?? actionShape;
}

/** Names of the shapes whose runs resume from a checkpoint (`synapse run resume`), e.g. `train`. */
export function resumableShapeNames(): string[] {
  return RUN_SHAPES.filter((shape) => shape.resumePoint).map((shape) => shape.name);
}

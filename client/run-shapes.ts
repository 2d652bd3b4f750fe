/**
 * Which workflow runs an action (DESIGN.md section 6, "run shapes per category"), and how its
 * params are checked before the run starts. An action whose class is one of the category
 * architectures (BaseExporter, ...) runs as that category's workflow; every other action runs
 * as the one-activity `runActionWorkflow`. The first shape that matches wins.
 */
import { isExporterClass, parseExportParams } from '../sdk/exporter.js';
import { parseParams, type ResolvedAction } from '../engine/plugin-loader.js';
import { isUploaderClass, parseUploadParams } from '../sdk/uploader.js';
import { WORKFLOW_TYPES, type WorkflowType } from '../contracts/run-input.js';
import { TRAIN_SHAPES } from './train-shapes.js';

export interface RunShape {
  /** A name for messages and docs, e.g. `export`. */
  name: string;
  /** Whether this shape runs the action. */
  matches(action: ResolvedAction): boolean;
  /** Checks the raw params once, at the edge; throws InvalidInputError naming every field. */
  parseParams(action: ResolvedAction, raw: unknown): unknown;
  /** The workflow type that runs it; its first argument is a RunActionInput. */
  workflow: WorkflowType;
}

const exportShape: RunShape = {
  name: 'export',
  matches: (action) => action.plugin.config.category === 'export' && isExporterClass(action.cls),
  // The export params of the seed; the plugin's own schema checks extra_params.
  parseParams: (action, raw) =>
    parseExportParams(action.cls as unknown as Parameters<typeof parseExportParams>[0], raw, `invalid params for ${action.plugin.config.code} ${action.name}`),
  workflow: WORKFLOW_TYPES.export,
};

const uploadShape: RunShape = {
  name: 'upload',
  matches: (action) => action.plugin.config.category === 'upload' && isUploaderClass(action.cls),
  // The seed's upload params; relative paths are taken from the caller's directory.
  parseParams: (action, raw) =>
    parseUploadParams(action.cls as unknown as Parameters<typeof parseUploadParams>[0], raw, `invalid params for ${action.plugin.config.code} ${action.name}`, process.cwd()),
  workflow: WORKFLOW_TYPES.upload,
};

const simpleShape: RunShape = {
  name: 'action',
  matches: () => true,
  parseParams,
  workflow: WORKFLOW_TYPES.action,
};

/** Category shapes, most specific first; `simpleShape` is the fallback. */
export const RUN_SHAPES: readonly RunShape[] = [...TRAIN_SHAPES, exportShape, uploadShape];

export function runShapeFor(action: ResolvedAction): RunShape {
  return RUN_SHAPES.find((shape) => shape.matches(action)) ?? simpleShape;
}

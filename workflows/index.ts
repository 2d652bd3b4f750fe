/** Every workflow the worker registers. */
export { runActionWorkflow } from './run-action.js';
export { exportWorkflow } from './export.js';
export { uploadWorkflow } from './upload.js';

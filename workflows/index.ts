/** Every workflow the worker registers. */
export { runActionWorkflow } from './run-action.js';
export { exportWorkflow } from './export.js';
export { trainWorkflow } from './train.js';
export { modelInferenceWorkflow, modelTestWorkflow } from './model-actions.js';
export { uploadWorkflow } from './upload.js';
export { tuneWorkflow } from './tune.js';
export { tuneTrialWorkflow } from './tune-trial.js';
export { taskPagesWorkflow } from './task-pages.js';
export { deploymentWorkflow } from './deployment.js';

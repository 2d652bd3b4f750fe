/**
 * What every run workflow gets as its first argument (run shapes extend it with their own
 * fields: a carry for continue-as-new, a resume point, budgets), and the names clients start
 * workflows by. Clients start a workflow by its type name, never by importing workflow code.
 */
import type { ProgressCategoryDef } from './run-state.js';

export interface RunActionInput {
  plugin: {
    code: string;
    version: string;
    /** Folder the client loaded the plugin from; the worker uses it when it is the same plugin. */
    dir?: string;
  };
  action: string;
  category: string;
  method: string;
  /** Params as checked by the client (the activity parses them again with the action's schema). */
  params: unknown;
  progressCategories: Record<string, ProgressCategoryDef>;
  /** Seconds without a heartbeat after which the step is retried on another worker. */
  heartbeatTimeoutSeconds: number;
  /** Upper bound of one attempt of the step. */
  startToCloseSeconds: number;
}

/** Workflow type names, as registered by workflows/index.ts (a test checks they match). */
export const WORKFLOW_TYPES = {
  action: 'runActionWorkflow',
  export: 'exportWorkflow',
  upload: 'uploadWorkflow',
  train: 'trainWorkflow',
  test: 'modelTestWorkflow',
  inference: 'modelInferenceWorkflow',
  tune: 'tuneWorkflow',
  tuneTrial: 'tuneTrialWorkflow',
  taskPages: 'taskPagesWorkflow',
  deployment: 'deploymentWorkflow',
} as const;
export type WorkflowType = (typeof WORKFLOW_TYPES)[keyof typeof WORKFLOW_TYPES];

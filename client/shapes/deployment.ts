/**
 * The deployment run shape (docs/serving.md): a neural_net `deployment` action whose class is
 * a ServeAction runs as the deployment workflow, a long-lived run keeping `replicas` serve
 * steps alive. Its params are checked with the action's own schema (DeploymentParams, or a
 * plugin's extension of it); replicas go to the gpu restapi queue when `num_gpus > 0`.
 */
import type { DeploymentParams } from '../../contracts/deployment.js';
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { defineRunShape } from '../run-shape.js';
import { taskQueueFor } from '../settings.js';

export const deploymentShape = defineRunShape<DeploymentParams>({
  name: 'deployment',
  // `gradio` is a deployment too: its replicas serve the page the gateway builds (gateway/demo-page.ts).
  // smart_tool `auto_label` too: suggestions served to annotation tools (sdk/auto-label.ts, plugins/auto-label).
  // Which actions, and their params (the action's own schema), are engine/run-params.ts's `deployment` parser.
  parser: 'deployment',
  workflow: WORKFLOW_TYPES.deployment,
  extraInput: ({ params, settings }) => ({
    replicas: params.replicas,
    ...(params.num_gpus > 0 ? { replicaTaskQueue: taskQueueFor({ ...settings, taskQueuePrefix: `${settings.taskQueuePrefix}-gpu` }, 'restapi') } : {}),
  }),
});

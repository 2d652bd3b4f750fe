/**
 * The deployment run shape (docs/serving.md): a neural_net `deployment` action whose class is
 * a ServeAction runs as the deployment workflow, a long-lived run keeping `replicas` serve
 * steps alive. Its params are checked with the action's own schema (DeploymentParams, or a
 * plugin's extension of it); replicas go to the gpu restapi queue when `num_gpus > 0`.
 */
import { DeploymentParams } from '../../contracts/deployment.js';
import { zodProblems } from '../../contracts/problems.js';
import { ParamsError } from '../../contracts/errors.js';
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { isServeActionClass } from '../../sdk/serve.js';
import { defineRunShape } from '../run-shape.js';
import { taskQueueFor } from '../settings.js';

export const deploymentShape = defineRunShape<DeploymentParams>({
  name: 'deployment',
  // `gradio` is a deployment too: its replicas serve the page the gateway builds (gateway/demo-page.ts).
  // smart_tool `auto_label` too: suggestions served to annotation tools (sdk/auto-label.ts, plugins/auto-label).
  matches: (action) =>
    isServeActionClass(action.cls) &&
    ((action.plugin.config.category === 'neural_net' && (action.name === 'deployment' || action.name === 'gradio')) ||
      (action.plugin.config.category === 'smart_tool' && action.name === 'auto_label')),
  parseParams: (action, raw) => {
    const schema = isServeActionClass(action.cls) ? action.cls.params : DeploymentParams;
    const parsed = schema.safeParse(raw ?? {});
    if (!parsed.success) throw new ParamsError(`invalid params for ${action.plugin.config.code} ${action.name}`, zodProblems(parsed.error));
    return parsed.data as DeploymentParams;
  },
  workflow: WORKFLOW_TYPES.deployment,
  extraInput: ({ params, settings }) => ({
    replicas: params.replicas,
    ...(params.num_gpus > 0 ? { replicaTaskQueue: taskQueueFor({ ...settings, taskQueuePrefix: `${settings.taskQueuePrefix}-gpu` }, 'restapi') } : {}),
  }),
});

/**
 * The demo's last step (README, `synapse demo`): deploy the model the demo just trained with
 * train-image-classifier's `deployment` action (1 replica: a warm Python process on the demo's
 * worker), send it one generated image the model never saw, print the answer next to the
 * image's true shape, and undeploy. It shows the same path `synapse plugin run deployment`
 * and `synapse predict` take (docs/serving.md), without a gateway.
 */
import type { RunsClient } from '../client/runs.js';
import type { TrainResult } from '../contracts/train.js';

/** How long the replica may take to start (Python process, torch import, model load). */
const READY_TIMEOUT_MS = 120_000;

/** Returns 0, or 1 when the deployment did not come up or did not answer. */
export async function demoServe(runs: RunsClient, trainRunId: string, say: (line: string) => void): Promise<number> {
  const [{ Deployments }, { renderItem, sampleItem }] = await Promise.all([import('../client/deployments.js'), import('../platform/generate.js')]);
  const trained = await runs.state(trainRunId);
  const model = (trained.result as TrainResult | undefined)?.model.id;
  if (model === undefined) {
    say(`run ${trainRunId} registered no model: nothing to deploy`);
    return 1;
  }
  const deployments = new Deployments(runs);
  const { runId: id } = await runs.start({ plugin: 'train-image-classifier', action: 'deployment', params: { replicas: 1, model } });
  say(`deployment ${id} of model ${model} started (synapse deployment status ${id})`);
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const status = await deployments.status(id);
      if (status.ready > 0) break;
      if ((status.status !== 'pending' && status.status !== 'running') || Date.now() > deadline) {
        say(`the deployment did not become ready: ${status.status}${status.error ? `: ${status.error}` : ''}`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Seed 99: not the seed of the demo's dataset, so an image the model never saw.
    const item = sampleItem(99, 0, 'demo-serve');
    const answer = await deployments.predict(id, { image: renderItem(item).toString('base64') });
    say(`predict (a ${item.color} ${item.className}): ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.status === 200 ? 0 : 1;
  } finally {
    await deployments.stop(id);
    say(`deployment ${id} stopped`);
    await deployments.close();
  }
}

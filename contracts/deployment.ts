/**
 * The deployment run shape's contract (docs/serving.md), shared by the workflow, its serve
 * activity and the clients: the params every deployment takes, the replica statuses;
 * the `scale` update and `deployment` query live in deployment-messages.ts (no zod: the
 * workflow bundle imports them). A deployment is a
 * long-lived run: N replicas, each a long-running serve activity answering HTTP on its
 * worker; cancelling the run undeploys it.
 */
import { z } from 'zod';
import { MAX_REPLICAS } from './deployment-messages.js';

export { MAX_REPLICAS, deploymentQuery, scaleUpdate, type DeploymentView } from './deployment-messages.js';

/** The params of every deployment action (a plugin's own schema may extend them). */
export const DeploymentParams = z.strictObject({
  replicas: z.number().int().min(1).max(MAX_REPLICAS).default(1).describe('replicas kept alive (scale later with `synapse deployment scale`)'),
  model: z.number().int().positive().optional().describe('a registered model id the replicas load (trainer plugins)'),
  num_gpus: z.number().min(0).default(0).describe('> 0: replicas run on the gpu task queue (<prefix>-gpu-restapi)'),
});
export type DeploymentParams = z.output<typeof DeploymentParams>;

/** A replica's life in the database (table deployment_replicas). */
export const REPLICA_STATUSES = ['starting', 'ready', 'draining', 'failed'] as const;
export type ReplicaStatus = (typeof REPLICA_STATUSES)[number];

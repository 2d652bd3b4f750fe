/**
 * The deployment run shape's contract (docs/serving.md), shared by the workflow, its serve
 * activity and the clients: the params every deployment takes, the `scale` update that
 * changes its replica count, and what a replica reports about itself. A deployment is a
 * long-lived run: N replicas, each a long-running serve activity answering HTTP on its
 * worker; cancelling the run undeploys it.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';

/** Most replicas one deployment keeps. */
export const MAX_REPLICAS = 64;

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

/** What the deployment workflow's `deployment` query answers. */
export interface DeploymentView {
  /** Replicas wanted now. */
  desired: number;
  /** Replica slots with a serve activity in flight (starting, ready or being retried). */
  running: number[];
  /** Serve attempts that ended in a failure the workflow saw (a worker lost: heartbeat timeout retries are Temporal's and not counted). */
  failures: number;
}

/** Sets the replica count (1..MAX_REPLICAS); answers the view after the change. */
export const scaleUpdate = defineUpdate<DeploymentView, [number]>('scale');
export const deploymentQuery = defineQuery<DeploymentView>('deployment');

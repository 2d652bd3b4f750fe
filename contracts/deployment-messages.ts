/**
 * The messages of the deployment workflow, defined once for the workflow and its clients:
 * the `scale` update (sets the replica count, answers the view once the slots match) and the
 * `deployment` query. Kept apart from contracts/deployment.ts so the workflow bundle does not
 * take zod along.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** Most replicas one deployment keeps. */
export const MAX_REPLICAS = 64;

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

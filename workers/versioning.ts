/**
 * Safe deploys of new workflow code: Temporal worker deployment versions (issue 16 item 5).
 *
 * A workflow's history can only be replayed by the workflow code that wrote it. Without
 * versioning, a worker started with changed workflow code picks up any run's next workflow task
 * and fails it with a non-determinism error. With it, each worker says "I am build B of
 * deployment D"; every run is PINNED to the version it started on, so its workflow tasks and its
 * steps go only to workers of that version, while new runs start on the deployment's CURRENT
 * version. Old workers keep serving their runs until those drain, then stop.
 *
 * The build id defaults to the workflow bundle's hash (workers/worker.ts cachedWorkflowBundle):
 * it changes exactly when the workflow code does, so two machines on the same code are one
 * version, and an edit to workflows/ or contracts/ is a new one. docs/production.md has the
 * deploy procedure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { InvalidInputError } from '../contracts/errors.js';

/** How a worker joins a worker deployment. */
export interface WorkerDeployment {
  /** The deployment's name, the same for every version (e.g. `synapse`). */
  name: string;
  /** This worker's version within it; default: the workflow bundle's hash. */
  buildId?: string;
  /**
   * Make this version the deployment's current one once the worker polls: new runs start on it,
   * runs pinned to older versions stay there. Off: an operator promotes it (`temporal worker
   * deployment set-current-version`).
   */
  makeCurrent?: boolean;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$/;

/** Checks a deployment's name and build id (Temporal joins them with a dot, so names hold none). */
export function parseWorkerDeployment(deployment: WorkerDeployment): WorkerDeployment {
  const problems = [];
  if (!NAME.test(deployment.name) || deployment.name.includes('.'))
    problems.push({ path: 'worker-deployment', message: 'must be 1-255 letters, digits, "-" or "_"' });
  if (deployment.buildId !== undefined && !NAME.test(deployment.buildId))
    problems.push({ path: 'build-id', message: 'must be 1-255 letters, digits, ".", "-" or "_"' });
  if (problems.length) throw new InvalidInputError('invalid option', problems);
  return deployment;
}

/** The Worker.create options of a versioned worker: every run pinned to the version it started on. */
export function deploymentOptions(deployment: WorkerDeployment, bundleHash: string): WorkerDeploymentOptions {
  return {
    version: { deploymentName: deployment.name, buildId: deployment.buildId ?? bundleHash },
    useWorkerVersioning: true,
    defaultVersioningBehavior: 'PINNED',
  };
}

/**
 * Sets `buildId` as the deployment's current version. The server knows a version only once one
 * of its workers has polled, so this retries (every 500 ms, up to `timeoutMs`) while it answers
 * that the version does not exist yet. Throws the server's error after that.
 */
export async function makeVersionCurrent(client: Client, deploymentName: string, buildId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: client.options.namespace,
        deploymentName,
        buildId,
        identity: client.options.identity,
      });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

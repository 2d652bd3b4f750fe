/**
 * A replica of a deployment (workflows/deployment.ts): one long-running, heartbeating step
 * that loads the plugin's ServeAction and its model once, answers HTTP on 127.0.0.1 (port 0:
 * the system picks a free one) of the worker hosting it, and registers itself in the
 * platform database (platform/repositories/deployments.ts) so the gateway can route to it.
 *
 * Its life: `starting` (loading) -> `ready` (listening; refreshed every second with its load)
 * -> `draining` (cancelled: scale down or undeploy; answers what is in flight, takes no more)
 * -> row removed. A model that fails to load leaves the row `failed` with the reason and
 * fails the step without retries (the deployment fails and shows why). A worker that dies
 * leaves a row that goes stale; the heartbeat timeout hands the replica to another worker,
 * whose attempt replaces the row.
 *
 * HTTP of a replica (the gateway is its only client): activities/serve-http.ts, the same
 * server `plugin run --debug` serves with: `POST /predict` (or `POST /<action>`, the
 * seed-style path) -> predict's value, 400 naming each invalid field, 503 while not ready;
 * `GET /health`; `GET /schema`. Every answer carries `X-Synapse-Replica: <slot>` and
 * `X-Synapse-Replica-Status`.
 */
import { hostname } from 'node:os';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { DeploymentParams, ReplicaStatus } from '../contracts/deployment.js';
import { registerReplica, removeReplica, touchReplica } from '../platform/repositories/deployments.js';
import { isServeActionClass, type ServeAction, type ServeActionClass } from '../sdk/serve.js';
import type { ActionKind } from './action-kinds.js';
import type { LogLevel } from '../sdk/run-context.js';
import type { StepInput, StepSpec } from './step.js';
import type { TrainingDeps } from './train.js';
import { isPythonServeClass } from '../engine/python-serve.js';
import { pythonServeHost } from './serve-python.js';
import { createServeHttp } from './serve-http.js';
import { PythonRuntimeError } from './python-runtime.js';
import { createPlatformApi } from './platform-api.js';

/** A ServeAction subclass as the plugin exports it (concrete). */
type ServeClass = Omit<ServeActionClass, 'prototype'> & (new () => ServeAction);

const SERVE_ACTION: ActionKind<ServeClass> = {
  needs: 'a ServeAction (a deployment run needs one)',
  is: (cls: unknown): cls is ServeClass => isServeActionClass(cls),
};

const SERVE: StepSpec<ServeClass, DeploymentParams> = {
  kind: SERVE_ACTION,
  params: (raw, { cls, subject }) => {
    const parsed = cls.params.safeParse(raw ?? {});
    if (!parsed.success) throw new ParamsError(subject, zodProblems(parsed.error));
    return parsed.data as DeploymentParams;
  },
};

/** How often a ready replica refreshes its row (load, sign of life). */
export const REPLICA_REFRESH_MS = 1000;
/** Every this many requests, one is logged as a `predict` run event (sampled request log). */
const LOG_EVERY = 100;

export interface ServeReplicaInput extends StepInput {
  /** The replica slot (0..replicas-1). */
  replica: number;
  heartbeatTimeoutSeconds: number;
}

export interface ServeReplicaOutput {
  replica: number;
  served: number;
}

export function createServeActivities({ platform, store, steps, data, dataDir }: TrainingDeps) {
  const { db } = platform;
  return {
    /** Hosts one replica until cancelled (see the file header). */
    async serveReplica(input: ServeReplicaInput): Promise<ServeReplicaOutput> {
      return steps.step(input, SERVE, { marksRunning: true, progressCategories: 'none' }, async ({ action, cls, params, ctx }) => {
        const deploymentId = input.runId;
        const slot = input.replica;
        const worker = `${hostname()}:${process.pid}`;
        const register = (status: ReplicaStatus, address: string | null, error: string | null = null) =>
          registerReplica(db, { deploymentId, replica: slot, status, address, worker, attempt: ctx.attempt, error });

        await register('starting', null);
        const modelBytes = async () => (params.model === undefined ? null : data.modelBytes(await data.modelFor(action, params.model, 'model')));
        // Python code (engine/python-serve.ts) is hosted in a warm Python process of this replica.
        const python = isPythonServeClass(cls) ? pythonServeHost(cls.python, action, dataDir, ctx, slot) : undefined;
        const instance = python ? { predict: (body: unknown) => python.predict(body) } : new cls();
        try {
          if (python) await python.load(modelBytes, ctx.signal);
          else
            await (instance as ServeAction).load({
              params,
              pluginDir: action.plugin.dir,
              modelBytes,
              logMessage: (m: string, l?: LogLevel) => ctx.logMessage(`replica ${slot}: ${m}`, l),
              signal: ctx.signal,
              platform: createPlatformApi(platform, { runId: deploymentId, attempt: ctx.attempt, pluginCode: input.plugin.code, runs: store }),
            });
        } catch (err) {
          python?.close();
          const reason = err instanceof Error ? err.message : String(err);
          await register('failed', null, reason);
          throw new NonRetriableError(`replica ${slot}: the model failed to load: ${reason}`);
        }

        const http = createServeHttp({
          action,
          slot,
          input: cls.input,
          predict: (body) => instance.predict(body),
          onPredicted: (served, ms) => {
            if (served === 1 || served % LOG_EVERY === 0) ctx.log('predict', { replica: slot, served, ms: Math.round(ms * 10) / 10 });
          },
        });
        const address = await http.listen(0, '127.0.0.1');
        http.status = 'ready';
        await register('ready', address);
        ctx.log('replica_ready', { replica: slot, address, worker });
        ctx.logMessage(`replica ${slot} ready on ${address} (worker ${worker}, attempt ${ctx.attempt})`);
        // A gradio run is a demo: say where its page is (gateway/demo-page.ts; the gateway's address is not known here).
        if (action.name === 'gradio' && slot === 0) ctx.logMessage(`demo page: <gateway>/v1/deployments/${deploymentId}/demo`);

        // Ready until cancelled (or, for Python code, until its process dies); the row says so every second.
        let crashed: string | undefined;
        await new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            touchReplica(db, deploymentId, slot, { inFlight: http.inFlight, served: http.served }).catch((err: unknown) =>
              ctx.logMessage(`replica ${slot}: refresh failed: ${String(err)}`, 'WARNING'),
            );
          }, REPLICA_REFRESH_MS);
          const stop = () => {
            clearInterval(timer);
            resolve();
          };
          if (ctx.signal.aborted) stop();
          else ctx.signal.addEventListener('abort', stop, { once: true });
          void python?.exited.then((why) => {
            crashed = why;
            stop();
          });
        });

        // Draining: no new requests, the ones in flight finish, then the row goes.
        http.status = 'draining';
        await touchReplica(db, deploymentId, slot, { inFlight: http.inFlight, served: http.served, status: 'draining' }).catch(() => {});
        await http.close();
        python?.close();
        await removeReplica(db, deploymentId, slot, worker);
        // A retryable failure: Temporal starts the replica again (a fresh Python process).
        if (crashed !== undefined) throw new PythonRuntimeError(`replica ${slot}: ${crashed}`);
        ctx.logMessage(`replica ${slot} stopped after ${http.served} predictions`);
        return { replica: slot, served: http.served };
      });
    },
  };
}

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
 * Where the plugin's code runs (issue 18: never in the worker):
 * - TypeScript: in plugin hosts (activities/plugin-host.ts), through the serve host runners
 *   (activities/plugin-host-run-serve.ts). The step's host describes the schemas and loads the
 *   model (`serve-load`); requests run `serve-predict` there (the body checked with `static
 *   input`, the answer with `static output`, both in the host). Requests that overlap take
 *   another host of the replica, up to SERVE_HOSTS_PER_REPLICA (SYNAPSE_SERVE_HOSTS_PER_REPLICA,
 *   default 2), each loading the model lazily on its first request; past that they queue in
 *   arrival order. A host that crashes or passes a limit (or a predict past
 *   PREDICT_TIMEOUT_MS) fails that request (500 naming what happened) and leaves the replica:
 *   the next request gets a fresh host. The worker, the replica and other replicas go on.
 *   The replica holds its hosts for its life; they are killed when it stops.
 * - Python: a warm Python process of the replica (activities/serve-python.ts) with the
 *   plugin's scrubbed environment.
 *
 * HTTP of a replica (the gateway is its only client): activities/serve-http.ts, the same
 * server `plugin run --debug` serves with: `POST /predict` (or `POST /<action>`, the
 * seed-style path) -> predict's value, 400 naming each invalid field, 503 while not ready;
 * `GET /health`; `GET /schema`. Every answer carries `X-Synapse-Replica: <slot>` and
 * `X-Synapse-Replica-Status`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { DeploymentParams, ReplicaStatus } from '../contracts/deployment.js';
import { registerReplica, removeReplica, touchReplica } from '../platform/repositories/deployments.js';
import { isServeActionClass, type ServeAction, type ServeActionClass } from '../sdk/serve.js';
import type { ActionKind } from './action-kinds.js';
import type { StepInput, StepSpec } from './step.js';
import type { TrainingDeps } from './train.js';
import { isPythonServeClass } from '../engine/python-serve.js';
import { pythonServeHost } from './serve-python.js';
import { createServeHttp } from './serve-http.js';
import { PythonRuntimeError } from './python-runtime.js';
import { createPlatformApi } from './platform-api.js';
import type { ActivityRunContext } from './activity-run-context.js';
import { loadHostedAction, type HostLease, type HostRun } from './plugin-host-step.js';
import { PluginHostError } from './plugin-host.js';
import { declaredEnvs } from './plugin-host-env.js';
import { scrubError, withEnvSecrets } from './secret-scrub.js';
import { SERVE_MODEL_TARGET, type ServeModelTarget, type ServePredictAnswer } from './plugin-host-run-serve.js';
import type { ServeSchemas } from '../engine/serve-schemas.js';
import type { PlatformApi } from '../sdk/platform-api.js';
import type { RunContext } from '../sdk/run-context.js';

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
  // TypeScript code loads in a plugin host, its params parsed there with the class's schema (as above).
  host: 'action',
};

/**
 * Most plugin hosts one replica of TypeScript code runs at once (overlapping requests beyond
 * it queue): SYNAPSE_SERVE_HOSTS_PER_REPLICA, default 2 (bench/README.md, serving section).
 * Each host holds its own copy of the model.
 */
export function serveHostsPerReplica(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.SYNAPSE_SERVE_HOSTS_PER_REPLICA);
  return Number.isInteger(value) && value >= 1 && value <= 64 ? value : 2;
}
/** How long one prediction of TypeScript code may take before its host is stopped (the gateway gives up after 30 s). */
export const PREDICT_TIMEOUT_MS = 60_000;
/** How long a stopping replica waits for the requests in flight before their hosts are stopped. */
export const DRAIN_MS = 10_000;

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
      return steps.step(input, SERVE, { marksRunning: true, progressCategories: 'none' }, async ({ action, cls, params, ctx, host, secrets }) => {
        const deploymentId = input.runId;
        const slot = input.replica;
        const worker = `${hostname()}:${process.pid}`;
        const register = (status: ReplicaStatus, address: string | null, error: string | null = null) =>
          registerReplica(db, { deploymentId, replica: slot, status, address, worker, attempt: ctx.attempt, error });

        await register('starting', null);
        const modelBytes = async () => (params.model === undefined ? null : data.modelBytes(await data.modelFor(action, params.model, 'model')));
        const api = createPlatformApi(platform, { runId: deploymentId, attempt: ctx.attempt, pluginCode: input.plugin.code, runs: store });
        // Python code (engine/python-serve.ts) is hosted in a warm Python process of this replica;
        // TypeScript code in plugin hosts (see the file header).
        const python = isPythonServeClass(cls) ? pythonServeHost(cls.python, action, dataDir, ctx, slot) : undefined;
        if (!python && !host)
          throw new NonRetriableError(`${input.plugin.code} ${input.action}: ${cls.name} is neither Python code nor loaded in a plugin host`);
        const hosts = python
          ? undefined
          : new ReplicaHosts({
              key: randomUUID(),
              first: host!,
              ctx: replicaContext(ctx, slot, api),
              model: { bytes: modelBytes },
              max: serveHostsPerReplica(),
              secrets: withEnvSecrets(secrets ?? [], declaredEnvs(action.plugin)),
              start: async () => {
                const hosted = await loadHostedAction(input.plugin, input.action, 'action', input.params, undefined, input.runId);
                if (!hosted) throw new NonRetriableError(`${input.plugin.code} ${input.action} did not load in a plugin host`);
                ctx.log('plugin_host', { pid: hosted.lease.host.pid, replica: slot });
                return { run: hosted.host, lease: hosted.lease };
              },
            });
        let schemas: ServeSchemas | undefined;
        try {
          if (python) await python.load(modelBytes, ctx.signal);
          else schemas = await hosts!.load(ctx.signal);
        } catch (err) {
          python?.close();
          hosts?.close();
          const reason = err instanceof Error ? err.message : String(err);
          await register('failed', null, reason);
          throw new NonRetriableError(`replica ${slot}: the model failed to load: ${reason}`);
        }

        const http = createServeHttp({
          action,
          slot,
          // TypeScript code: the body is checked in the plugin host, and the schemas came from it.
          ...(python ? { input: cls.input } : {}),
          ...(schemas ? { schemas } : {}),
          predict: (body) => (python ? python.predict(body) : hosts!.predict(body)),
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

        // Draining: no new requests, the ones in flight finish (TypeScript code: for DRAIN_MS at
        // most, then their hosts are stopped), then the row goes.
        http.status = 'draining';
        await touchReplica(db, deploymentId, slot, { inFlight: http.inFlight, served: http.served, status: 'draining' }).catch(() => {});
        const drained = http.close();
        if (hosts) {
          await Promise.race([drained, sleep(DRAIN_MS, undefined, { ref: false })]);
          hosts.close();
        }
        await drained;
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

/** The replica's run context for its host calls: reports go to the step's, with its `ctx.platform`. */
function replicaContext(
  ctx: ActivityRunContext<DeploymentParams>,
  slot: number,
  platform: PlatformApi,
): RunContext<DeploymentParams> & { platform: PlatformApi } {
  return {
    runId: ctx.runId,
    params: ctx.params,
    envs: ctx.envs,
    signal: ctx.signal,
    attempt: ctx.attempt,
    logMessage: (message, level) => ctx.logMessage(`replica ${slot}: ${message}`, level),
    log: (event, data) => ctx.log(event, data),
    // A replica reports no progress or metrics and keeps no checkpoints.
    setProgress: () => {},
    setMetrics: () => {},
    checkpoint: () => Promise.reject(new NonRetriableError('a served action keeps no checkpoints')),
    resumeState: () => undefined,
    platform,
  };
}

/** A plugin host of a replica: the step's own (no lease here: the step releases it) or one the replica started. */
interface Member {
  run: HostRun;
  lease?: HostLease;
}

export interface ReplicaHostsOptions {
  /** Names the replica's instance in its hosts (plugin-host-run-serve.ts). */
  key: string;
  /** The step's host (the action was described in it). */
  first: HostRun;
  ctx: RunContext & { platform: PlatformApi };
  model: ServeModelTarget;
  /** Most hosts at once. */
  max: number;
  /** Values never sent in an answer (the params' secrets, the declared envs). */
  secrets: string[];
  /** Another host of the plugin, described (the model not loaded yet). */
  start(): Promise<Member>;
}

/**
 * The plugin hosts of one replica of TypeScript code: one call per host at a time; a request
 * takes an idle host, else starts one (up to `max`; it loads the model on its first request),
 * else waits in arrival order. A host that fails a request (PluginHostError, or stopped at
 * PREDICT_TIMEOUT_MS) leaves the replica and is killed; the next request gets a fresh one.
 */
class ReplicaHosts {
  private readonly idle: Member[] = [];
  private readonly members = new Set<Member>();
  private readonly waiting: { resolve(member: Member): void; reject(err: unknown): void }[] = [];
  private starting = 0;
  private readonly stop = new AbortController();

  constructor(private readonly options: ReplicaHostsOptions) {
    const first: Member = { run: options.first };
    this.members.add(first);
    this.idle.push(first);
  }

  private get targets(): Record<string, object> {
    return { [SERVE_MODEL_TARGET]: this.options.model };
  }

  /** The schemas from the step's host, then the model loaded there; rejects with the load's error. */
  async load(signal: AbortSignal): Promise<ServeSchemas> {
    const { first, ctx, key } = this.options;
    const schemas = await first.run<ServeSchemas>('serve-describe', [], { ctx, signal });
    const { loadMs } = await first.run<{ loadMs: number | null }>('serve-load', [key], { ctx, targets: this.targets, signal });
    if (loadMs !== null) ctx.log('serve_loaded', { pid: first.pid, ms: Math.round(loadMs) });
    return schemas;
  }

  /** One prediction in a host of the replica; rejects with the plugin's error, or an Error naming the host's failure. */
  async predict(body: unknown): Promise<unknown> {
    const member = await this.take();
    const { ctx, key } = this.options;
    const timeout = AbortSignal.timeout(PREDICT_TIMEOUT_MS);
    const signal = AbortSignal.any([this.stop.signal, timeout]);
    let healthy = false;
    try {
      const answer = await member.run.run<ServePredictAnswer>('serve-predict', [key, body], { ctx, targets: this.targets, signal });
      healthy = true;
      if (answer.loadedMs !== null) ctx.log('serve_loaded', { pid: member.run.pid, ms: Math.round(answer.loadedMs), lazily: true });
      return answer.value;
    } catch (err) {
      if (!(err instanceof PluginHostError) && !signal.aborted) {
        healthy = true;
        throw err;
      }
      const what = timeout.aborted
        ? `predict took longer than ${PREDICT_TIMEOUT_MS / 1000} s: its plugin host was stopped`
        : this.stop.signal.aborted
          ? 'the replica stopped while this request ran: its plugin host was stopped'
          : `${err instanceof Error ? err.message : String(err)}`;
      ctx.logMessage(`a request failed in its plugin host (pid ${member.run.pid}): ${what}; the next request gets a fresh host`, 'WARNING');
      throw scrubError(new Error(`${what} (the replica's next request gets a fresh plugin host)`), this.options.secrets);
    } finally {
      this.give(member, healthy);
    }
  }

  /** Stops the replica's hosts: calls in flight are cancelled (their hosts killed after the cancel grace), the hosts it started are killed. */
  close(): void {
    this.stop.abort(new Error('the replica stopped'));
    for (const w of this.waiting.splice(0)) w.reject(new Error('the replica is stopping'));
    for (const member of this.members) member.lease?.release(false);
    this.members.clear();
    this.idle.length = 0;
  }

  private take(): Promise<Member> {
    if (this.stop.signal.aborted) return Promise.reject(new Error('the replica is stopping'));
    const member = this.idle.pop();
    if (member) return Promise.resolve(member);
    return new Promise<Member>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.pump();
    });
  }

  private give(member: Member, healthy: boolean): void {
    if (!this.members.has(member)) return;
    if (!healthy) {
      this.members.delete(member);
      member.lease?.release(false);
      this.pump();
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(member);
    else this.idle.push(member);
  }

  /** Starts hosts for the waiting requests, up to `max`. */
  private pump(): void {
    while (this.waiting.length > 0 && this.members.size + this.starting < this.options.max) {
      const waiter = this.waiting.shift()!;
      this.starting++;
      this.options.start().then(
        (member) => {
          this.starting--;
          if (this.stop.signal.aborted) {
            member.lease?.release(false);
            waiter.reject(new Error('the replica is stopping'));
            return;
          }
          this.members.add(member);
          waiter.resolve(member);
        },
        (err: unknown) => {
          this.starting--;
          waiter.reject(scrubError(new Error(`no plugin host for this request: ${err instanceof Error ? err.message : String(err)}`), this.options.secrets));
          this.pump();
        },
      );
    }
  }
}

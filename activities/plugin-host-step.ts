/**
 * The step harness's side of plugin hosts (step.ts): a step whose spec says how its params are
 * parsed in a host loads its action there instead of importing plugin code into the worker.
 * The host answers with a description of the class (its name and statics, checked there
 * with the engine's own loader) and the parsed params; the step gets a stand-in class built
 * from that description whose methods run in the host, so the shape's code (`new cls().start(ctx)`)
 * is the same wherever the plugin's code runs.
 *
 * Python actions load as before (no TypeScript of the plugin is imported for them).
 */
import path from 'node:path';
import os from 'node:os';
import { NotFoundError } from '../contracts/errors.js';
import { findPlugin, type Plugin, type ResolvedAction } from '../engine/plugin-loader.js';
import { Action, type ActionClass } from '../sdk/action.js';
import type { Method } from '../sdk/categories.js';
import type { RunContext } from '../sdk/run-context.js';
import { pluginBundle } from './plugin-host-bundle.js';
import { declaredEnvs, pluginHostEnv } from './plugin-host-env.js';
import { errorFromHost } from './plugin-host-errors.js';
import { acquirePluginHost, PluginHostError, releasePluginHost, type HostCall, type HostSink, type PluginHost } from './plugin-host.js';
import type { HostClassKind, HostDescription, HostMethod, HostParamsParser } from './plugin-host-protocol.js';
import { BaseExporter } from '../sdk/exporter.js';
import { BaseUploader } from '../sdk/uploader.js';
import { TrainAction } from '../sdk/trainer.js';
import { ServeAction } from '../sdk/serve.js';
import { taskPagesStandIn } from './plugin-host-task-pages.js';

/** Where the hosts' bundles are written (one file per plugin version and worker process). */
export const PLUGIN_HOST_BUNDLE_DIR = path.join(os.tmpdir(), 'synapse-plugin-hosts');

/** A host held by a step: given back (or killed) when the step ends. */
export interface HostLease {
  host: PluginHost;
  /** `healthy`: the step ended without a host failure, so the host may serve the next step. */
  release(healthy: boolean): void;
}

/** Options of a host runner call. */
export interface HostRunOptions {
  /** The step's run context (reports, checkpoints, `ctx.platform`); without one the runner's reports are dropped. */
  ctx?: RunContext;
  /** Worker objects the runner may call by name (HostSink.targets): storages, dataset files, outputs. */
  targets?: Record<string, object>;
  /** Cancels the call (its ctx.signal in the host); defaults to `ctx.signal`. */
  signal?: AbortSignal;
  /**
   * Absolute folders the runner's host may read (a trainer's dataset cache folder): the call
   * runs in a host of the plugin started with them (warm per folder set), never the step's own.
   */
  readDirs?: readonly string[];
}

/** The plugin host of a step, for shapes that drive the class's hooks in it (plugin-host-runner.ts). */
export interface HostRun {
  /**
   * Runs host runner `runner` (plugin-host-runners.ts) with `args` in the step's host, or, while
   * that host is busy with another call of the step, in another host of the plugin.
   * Rejects with the runner's error (mapped to the worker's classes), or PluginHostError.
   */
  run<T = unknown>(runner: string, args: unknown[], options?: HostRunOptions): Promise<T>;
  /** The host's pid (its first host). */
  readonly pid: number | undefined;
}

export interface HostedAction {
  action: ResolvedAction;
  params: unknown;
  /** The values of the params' secret fields. */
  secrets: string[];
  lease: HostLease;
  host: HostRun;
}

/** The run's plugin folder: the client's when it holds the same code@version, else by code@version (as loadRunAction). */
async function findRunPlugin(ref: { code: string; version: string; dir?: string }): Promise<Plugin> {
  if (ref.dir) {
    try {
      const candidate = await findPlugin(ref.dir);
      if (candidate.config.code === ref.code && candidate.config.version === ref.version) return candidate;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return findPlugin(`${ref.code}@${ref.version}`);
}

/** The step's run context as the host's reports land in it. */
function sinkOf(ctx: RunContext): HostSink {
  // `ctx.platform` (sdk/platform-api.ts) when the shape gave the step one.
  const platform = (ctx as { platform?: object }).platform;
  return {
    logMessage: (m, l) => ctx.logMessage(m, l),
    log: (e, d) => ctx.log(e, d),
    setProgress: (c, t, cat) => ctx.setProgress(c, t, cat),
    setMetrics: (v, cat) => ctx.setMetrics(v, cat),
    checkpoint: (state) => ctx.checkpoint(state),
    ...(platform ? { platform } : {}),
  };
}

/** Ignores what a host prints while it loads an action. */
const LOAD_SINK: HostSink = {
  logMessage: () => {},
  log: () => {},
  setProgress: () => {},
  setMetrics: () => {},
  checkpoint: () => Promise.reject(new Error('no checkpoint while an action loads')),
};

/** The SDK base of each kind a host describes: a stand-in extends the same one, so the shapes' kind checks hold. */
const BASES: Record<HostClassKind, abstract new () => Action> = {
  action: Action,
  exporter: BaseExporter,
  uploader: BaseUploader,
  trainer: TrainAction,
  serve: ServeAction,
};

/**
 * A class standing in for the plugin's: the SDK base and primitive statics of the description,
 * and `start(ctx)` running in `host` with the step's run context. Its other methods are the
 * base's (never the plugin's overrides): shapes other than the simple one drive the plugin's
 * hooks through HostRun.run, not through an instance of this class.
 */
function standIn(description: HostDescription, run: (ctx: RunContext) => Promise<unknown>): ActionClass {
  const Base = BASES[description.kind] as unknown as new () => Action;
  class Hosted extends Base {
    async start(ctx: RunContext): Promise<unknown> {
      return run(ctx);
    }
  }
  Object.defineProperty(Hosted, 'name', { value: description.className });
  for (const [key, value] of Object.entries(description.statics)) {
    Object.defineProperty(Hosted, key, { value, writable: true, configurable: true, enumerable: true });
  }
  Object.assign(Hosted, {
    action: description.action ?? undefined,
    category: description.category ?? undefined,
    method: description.method,
    progressCategories: description.progressCategories,
    metricsCategories: description.metricsCategories,
  });
  return Hosted as unknown as ActionClass;
}

/**
 * Loads `actionName` of the run's plugin in a plugin host and parses `rawParams` there.
 * Undefined when the action is Python code (it loads in the worker, importing no plugin code).
 * Throws NotFoundError (no such plugin or action), ConfigError, ParamsError, NonRetriableError
 * (the plugin does not build) or PluginHostError (the host failed while loading).
 */
export async function loadHostedAction(
  ref: { code: string; version: string; dir?: string },
  actionName: string,
  parser: HostParamsParser,
  rawParams: unknown,
  onStart?: (pid: number) => void,
  runId = '',
): Promise<HostedAction | undefined> {
  const plugin = await findRunPlugin(ref);
  // Own properties only: an action named `constructor` or `__proto__` is not one.
  const config = Object.hasOwn(plugin.config.actions, actionName) ? plugin.config.actions[actionName] : undefined;
  if (!config) {
    throw new NotFoundError(`plugin ${plugin.config.code} has no action "${actionName}" (it has: ${Object.keys(plugin.config.actions).join(', ')})`);
  }
  if ((config.runtime ?? plugin.config.runtime) === 'python') return undefined;
  const bundle = await pluginBundle(plugin, PLUGIN_HOST_BUNDLE_DIR);
  const env = pluginHostEnv(plugin);
  const host = await acquirePluginHost(bundle, env, errorFromHost, onStart);
  const lease: HostLease = { host, release: (healthy) => releasePluginHost(host, healthy) };
  let description: HostDescription;
  try {
    description = await host.call<HostDescription>({ type: 'describe', action: actionName, params: rawParams, parser }, { sink: LOAD_SINK });
  } catch (err) {
    // A refused action or params leave a healthy host; a crash while loading does not.
    lease.release(host.alive && !host.retired);
    throw err;
  }
  const declared = declaredEnvs(plugin);
  /**
   * One call of the step in a host: the step's own, or another host of the plugin for this
   * call only, released healthy or not after it, while the step's host is busy with another
   * call (a task page's items `concurrency` at a time) or when the call needs folders the
   * step's host may not read (`readDirs`).
   */
  const callIn = async <T>(
    message: HostCall,
    sink: HostSink,
    signal: AbortSignal | undefined,
    onStartExtra: (pid: number) => void,
    readDirs: readonly string[] = [],
  ): Promise<T> => {
    const extra = host.busy || readDirs.length > 0 ? await acquirePluginHost(bundle, env, errorFromHost, onStartExtra, readDirs) : undefined;
    let healthy = false;
    try {
      const value = await (extra ?? host).call<T>(message, { sink, ...(signal ? { signal } : {}) });
      healthy = true;
      return value;
    } catch (err) {
      healthy = !(err instanceof PluginHostError) && !signal?.aborted;
      throw err;
    } finally {
      if (extra) releasePluginHost(extra, healthy);
    }
  };
  /** One method of the action (`start`, a task page's hooks) with the step's run context. */
  const invoke = (method: HostMethod, args: unknown[], ctx: RunContext, results?: HostSink['results']): Promise<unknown> =>
    callIn(
      {
        type: 'invoke',
        action: actionName,
        method,
        args,
        parser,
        params: rawParams,
        ctx: { runId: ctx.runId, attempt: ctx.attempt, resume: ctx.resumeState(), envs: declared },
        platform: 'platform' in ctx,
      },
      { ...sinkOf(ctx), ...(results ? { results } : {}) },
      ctx.signal,
      (pid) => ctx.log('plugin_host', { pid }),
    );
  /** A host runner (plugin-host-runners.ts) with the shape's args, targets and folders. */
  const runIn = <T>(runner: string, args: unknown[], options: HostRunOptions = {}): Promise<T> => {
    const { ctx } = options;
    const readDirs = options.readDirs ?? [];
    return callIn<T>(
      {
        type: 'run',
        action: actionName,
        runner,
        args,
        parser,
        params: rawParams,
        ctx: ctx
          ? { runId: ctx.runId, attempt: ctx.attempt, resume: ctx.resumeState(), envs: declared }
          : { runId, attempt: 1, resume: undefined, envs: declared },
        platform: ctx !== undefined && 'platform' in ctx,
      },
      { ...(ctx ? sinkOf(ctx) : LOAD_SINK), ...(options.targets ? { targets: options.targets } : {}) },
      options.signal ?? ctx?.signal,
      (pid) => ctx?.log('plugin_host', { pid, ...(readDirs.length ? { readDirs } : {}) }),
      readDirs,
    );
  };
  const cls = description.taskPages ? taskPagesStandIn(description, invoke) : standIn(description, (ctx) => invoke('start', [], ctx));
  const action: ResolvedAction = {
    plugin,
    name: actionName,
    config,
    cls,
    method: description.method as Method,
    progressCategories: description.progressCategories,
  };
  return { action, params: description.params, secrets: description.secrets, lease, host: { run: runIn, pid: host.pid } };
}

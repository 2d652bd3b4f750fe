/**
 * The serve shape's host runners (see plugin-host-runner.ts): a TypeScript ServeAction's
 * `load` and `predict` run here, inside a plugin host, never in the worker (issue 18). The
 * replica (activities/serve.ts) keeps what plugin code must not have: the HTTP server, the
 * database row, the storages holding the model file; the host gets the model's bytes and
 * `ctx.platform` by asking the worker (targets and ctx calls).
 *
 * A replica names itself with a key (random per replica attempt). `serve-load` makes the
 * class's instance and calls `load` once per host and key, keeping it in this process's
 * memory; `serve-predict` checks the body with the class's `static input` (a ParamsError
 * naming each field: the replica answers 400), calls `predict`, checks its value with
 * `static output` and returns it. A host that has not loaded the key yet (a second host the
 * replica started for overlapping requests, or a fresh one after a crash) loads it lazily on
 * its first `serve-predict`. `serve-describe` answers the input / output JSON Schemas
 * (engine/serve-schemas.ts, zod's toJSONSchema run here with the plugin's own zod schemas);
 * `serve-unload` aborts the instance's `signal` and forgets it.
 *
 * What `load` keeps of its ServeContext (auto_label keeps `platform` for predict) must work
 * after `load` returned: the context's `platform`, `modelBytes` and `logMessage` go through
 * the call running now in this host (a host runs one call at a time), not the load's.
 */
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import { serveSchemas, type ServeSchemas } from '../engine/serve-schemas.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { PlatformApi } from '../sdk/platform-api.js';
import type { LogLevel } from '../sdk/run-context.js';
import { isServeActionClass, type ServeAction, type ServeActionClass, type ServeContext } from '../sdk/serve.js';
import type { HostRunner, HostRunnerCall } from './plugin-host-runner.js';

/** The worker object a replica offers its host calls under SERVE_MODEL_TARGET. */
export interface ServeModelTarget {
  /** The registered model's file (model.bin of its archive), or null when the params name no model. */
  bytes(): Promise<Uint8Array | null>;
}
export const SERVE_MODEL_TARGET = 'model';

/** What `serve-predict` resolves with: predict's value, and how long a lazy load took in this call (ms), else null. */
export interface ServePredictAnswer {
  value: unknown;
  loadedMs: number | null;
}

interface Served {
  instance: ServeAction;
  stop: AbortController;
}

/** The replicas loaded in this host, by key. */
const served = new Map<string, Promise<Served>>();
/** The call running in this host now (one at a time): what a kept ServeContext reaches the worker through. */
let current: HostRunnerCall | undefined;

function now(): HostRunnerCall {
  if (!current) throw new Error('the served action used its ServeContext while no request of its replica was running');
  return current;
}

/** A ServeAction subclass as the plugin exports it (concrete: the loader found it named in config.yaml). */
type ServeClass = Omit<ServeActionClass, 'prototype'> & (new () => ServeAction);

function serveClass(action: ResolvedAction): ServeClass {
  const cls: unknown = action.cls;
  if (!isServeActionClass(cls)) throw new NonRetriableError(`${action.cls.name} is not a ServeAction (a deployment run needs one)`);
  return cls as unknown as ServeClass;
}

function keyOf(args: unknown[]): string {
  const key = args[0];
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) throw new Error('a serve runner needs the replica key (a string) as its first argument');
  return key;
}

/** `ctx.platform` of the call running now, method by method. */
const platform = new Proxy({} as PlatformApi, {
  get: (_target, method) =>
    typeof method === 'string' && method !== 'then'
      ? (...args: unknown[]) => {
          const api = (now().ctx as { platform?: Record<string, (...a: unknown[]) => Promise<unknown>> }).platform;
          if (!api) throw new Error('this replica has no ctx.platform');
          const fn = api[method];
          if (typeof fn !== 'function') throw new Error(`ctx.platform has no method "${method}"`);
          return fn(...args);
        }
      : undefined,
});

/** The replica `key`'s instance in this host: loaded by this call when it is not yet. */
async function loaded(call: HostRunnerCall, key: string): Promise<{ served: Served; loadedMs: number | null }> {
  const existing = served.get(key);
  if (existing) return { served: await existing, loadedMs: null };
  const cls = serveClass(call.action);
  const started = performance.now();
  const loading = (async (): Promise<Served> => {
    const instance = new cls();
    const stop = new AbortController();
    const ctx: ServeContext = {
      params: call.params as ServeContext['params'],
      pluginDir: call.action.plugin.dir,
      modelBytes: async () => {
        const bytes = await now().remote<ServeModelTarget>(SERVE_MODEL_TARGET).bytes();
        return bytes === null ? null : Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
      // Between requests there is no call to report to: the message is dropped.
      logMessage: (message: string, level?: LogLevel) => current?.ctx.logMessage(message, level),
      signal: stop.signal,
      platform,
    };
    await instance.load(ctx);
    return { instance, stop };
  })();
  served.set(key, loading);
  // A load that failed is tried again by the next call (a fresh host after a crash, say).
  loading.catch(() => served.delete(key));
  return { served: await loading, loadedMs: performance.now() - started };
}

/** Runs `fn` as the host's current call. */
async function asCurrent<T>(call: HostRunnerCall, fn: () => Promise<T>): Promise<T> {
  current = call;
  try {
    return await fn();
  } finally {
    if (current === call) current = undefined;
  }
}

export const SERVE_RUNNERS: Record<string, HostRunner> = {
  /** -> ServeSchemas: the JSON Schemas of the request body and of the answer. */
  'serve-describe': ({ action }): Promise<ServeSchemas> => {
    serveClass(action);
    return Promise.resolve(serveSchemas(action));
  },

  /** [key] -> { loadMs }: the instance made and `load` called, once per host and key. */
  'serve-load': (call) =>
    asCurrent(call, async () => {
      const { loadedMs } = await loaded(call, keyOf(call.args));
      return { loadMs: loadedMs };
    }),

  /** [key, body] -> ServePredictAnswer; ParamsError naming each field of a body that fails `static input`. */
  'serve-predict': (call) =>
    asCurrent(call, async (): Promise<ServePredictAnswer> => {
      const key = keyOf(call.args);
      const cls = serveClass(call.action);
      const parsed = cls.input.safeParse(call.args[1]);
      if (!parsed.success) throw new ParamsError('the body fails the input schema', zodProblems(parsed.error));
      const { served: replica, loadedMs } = await loaded(call, key);
      const value: unknown = await replica.instance.predict(parsed.data);
      const checked = cls.output.safeParse(value);
      if (!checked.success) {
        const problems = zodProblems(checked.error)
          .map((p) => `${p.path || '(root)'}: ${p.message}`)
          .join('; ');
        throw new Error(`${cls.name}.predict answered a value that fails its output schema: ${problems}`);
      }
      return { value, loadedMs };
    }),

  /** [key]: the instance's ServeContext.signal aborted, and the instance forgotten. */
  'serve-unload': async ({ args }) => {
    const key = keyOf(args);
    const entry = served.get(key);
    served.delete(key);
    const replica = await entry?.catch(() => undefined);
    replica?.stop.abort(new Error('the replica stopped'));
    return null;
  },
};

/**
 * The plugin host's side: the code that runs in the child process a worker starts for one
 * plugin version (activities/plugin-host.ts), bundled together with that plugin's modules
 * (activities/plugin-host-bundle.ts). TypeScript plugin code runs here and only here, under
 * Node's permission model (no file reads outside the bundle and the plugin folder, no writes,
 * no child processes, no workers), with a scrubbed environment and a heap limit.
 *
 * It answers the worker's messages (plugin-host-protocol.ts): `describe` loads an action with
 * the engine's own checks (engine/plugin-loader.ts) and parses the params with the step's
 * parser (the class's schema, or a run shape's: engine/run-params.ts); with parser `shape` or
 * `class` it answers what a client's run start needs instead (the run shape the class runs as,
 * the params parsed by it, secret fields, a served action's schemas: plugin-host-describe.ts,
 * so that the gateway never imports plugin code); `invoke` runs a method of a fresh instance with a RunContext whose reporting and
 * checkpoints are messages back to the worker, the only process that heartbeats, writes run
 * events and holds credentials. An error thrown outside any call (from a timer, an unhandled
 * rejection) is reported as `fatal` and ends the process: the worker fails the running step.
 * What the permission model refuses is reported naming the refusal and the rule, not retried
 * (plugin-host-errors.ts refusalMessage), a module refused while loading too.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPlugin, loadAction, parseParams, type Plugin, type ResolvedAction } from '../engine/plugin-loader.js';
import { setPluginModuleSource } from '../engine/plugin-import.js';
import type { LogLevel, RunContext } from '../sdk/run-context.js';
import { redactParams } from '../sdk/secret.js';
import { parseTaskPagesParams } from '../engine/task-page-params.js';
import { parseShapeParams, runFactsOf, shapeParserOf } from '../engine/run-params.js';
import { isTaskPagesClass, type TaskPagesClass } from '../sdk/task-pages.js';
import type { ItemResult } from '../sdk/platform-api.js';
import type { MetricValues } from '../contracts/run-state.js';
import { isExporterClass } from '../sdk/exporter.js';
import { isUploaderClass } from '../sdk/uploader.js';
import { isTrainerClass } from '../sdk/trainer.js';
import { isServeActionClass } from '../sdk/serve.js';
import { hostRunner } from './plugin-host-runners.js';
import { parseTrainerParams } from './plugin-host-run-train.js';
import type { Remote } from './plugin-host-runner.js';
import {
  FATAL_EXIT_CODE,
  TASK_PAGE_HOOKS,
  type FromHost,
  type HostCtxInit,
  type HostClassKind,
  type HostDescription,
  type HostParamsParser,
  type HostStatics,
  type ToHost,
} from './plugin-host-protocol.js';
import { describeError, errorFromHost, refusalMessage, refusalOf } from './plugin-host-errors.js';
import { pluginLocation } from '../engine/plugin-code-location.js';
import { NonRetriableError } from '../contracts/errors.js';

/** The plugin's modules, by file URL, as the bundle's entry hands them over. */
export type BundledModules = Record<string, () => Promise<Record<string, unknown>>>;

function send(message: FromHost): void {
  try {
    process.send?.(message);
  } catch {
    // Not cloneable (a function in a log's data, say): sent as JSON instead, what JSON keeps.
    process.send?.(JSON.parse(JSON.stringify(message)) as FromHost);
  }
}

/** Whether something set an enumerable property on Object.prototype (prototype pollution). */
function polluted(): boolean {
  for (const key in {}) if (key) return true;
  return false;
}

/** What a ctx call asks the worker for. */
type CtxCall =
  | { op: 'checkpoint'; state: unknown }
  | { op: 'platform'; method: string; args: unknown[] }
  | { op: 'results'; after: string }
  | { op: 'call'; target: string; method: string; args: unknown[] };

/** The SDK base a class extends, as the worker's stand-in will (HOST_CLASS_KINDS). */
function kindOf(cls: unknown): HostClassKind {
  if (isExporterClass(cls)) return 'exporter';
  if (isUploaderClass(cls)) return 'uploader';
  if (isTrainerClass(cls)) return 'trainer';
  if (isServeActionClass(cls)) return 'serve';
  return 'action';
}

/** The class's static fields with primitive values, own and inherited (the subclass's win). */
function staticsOf(cls: unknown): HostStatics {
  const statics: HostStatics = {};
  for (let c = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    for (const key of Object.getOwnPropertyNames(c)) {
      if (key === 'length' || key === 'name' || key === 'prototype' || Object.hasOwn(statics, key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(c, key);
      const value: unknown = descriptor && 'value' in descriptor ? descriptor.value : undefined;
      if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') statics[key] = value;
    }
  }
  return statics;
}

/** A task-page class's statics and hooks, as `describe` reports them. */
function taskPagesOf(cls: unknown): HostDescription['taskPages'] {
  if (!isTaskPagesClass(cls)) return undefined;
  const c = cls as TaskPagesClass;
  const proto = c.prototype as unknown as Record<string, unknown>;
  return {
    source: c.source,
    pageSize: c.pageSize,
    writeBatch: c.writeBatch,
    ...(c.concurrency !== undefined ? { concurrency: c.concurrency } : {}),
    hooks: TASK_PAGE_HOOKS.filter((h) => typeof proto[h] === 'function'),
  };
}

/** A run context whose calls are messages to the worker's ActivityRunContext. */
class HostRunContext<P> implements RunContext<P> {
  readonly runId: string;
  readonly attempt: number;
  readonly envs: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  private resume: unknown;

  /** `ctx.platform` (sdk/platform-api.ts) when the step has one: each method runs in the worker. */
  readonly platform?: Record<string, (...args: unknown[]) => Promise<unknown>>;

  constructor(
    private readonly id: number,
    readonly params: P,
    init: HostCtxInit,
    signal: AbortSignal,
    private readonly ask: (call: CtxCall) => Promise<unknown>,
    platform: boolean,
  ) {
    this.runId = init.runId;
    this.attempt = init.attempt;
    this.envs = Object.freeze({ ...init.envs });
    this.resume = init.resume;
    this.signal = signal;
    if (platform) {
      this.platform = new Proxy({} as Record<string, (...args: unknown[]) => Promise<unknown>>, {
        get: (_target, method) => (typeof method === 'string' && method !== 'then' ? (...args: unknown[]) => ask({ op: 'platform', method, args }) : undefined),
      });
    }
  }

  logMessage(message: string, level: LogLevel = 'INFO'): void {
    send({ type: 'log-message', id: this.id, message: String(message), level });
  }

  log(event: string, data: Record<string, unknown> = {}): void {
    send({ type: 'log', id: this.id, event: String(event), data });
  }

  setProgress(current: number, total: number, category?: string): void {
    if (!Number.isFinite(current) || !Number.isFinite(total) || current < 0 || total < 0) {
      throw new RangeError(`setProgress(${current}, ${total}): current and total must be finite and >= 0`);
    }
    send({ type: 'progress', id: this.id, current, total, ...(category !== undefined ? { category } : {}) });
  }

  setMetrics(values: MetricValues, category: string): void {
    send({ type: 'metrics', id: this.id, values, category });
  }

  async checkpoint(state: unknown): Promise<void> {
    const copy = structuredClone(state);
    await this.ask({ op: 'checkpoint', state: copy });
    this.resume = copy;
  }

  resumeState<T = unknown>(): T | undefined {
    return structuredClone(this.resume) as T | undefined;
  }
}

/**
 * Runs the host: serves the worker's messages until the IPC channel closes.
 * `pluginDir` is the plugin folder (its config.yaml is read here, through the permission model).
 */
export function runPluginHost(pluginDir: string, modules: BundledModules): void {
  setPluginModuleSource(async (url) => {
    const load = modules[url];
    if (!load) throw new Error(`${url} is not part of this plugin host's bundle`);
    try {
      return await load();
    } catch (err) {
      // A module refused at load time (a file outside its folder read at top level) says so and
      // is not retried: with a frame in the plugin, the loader's ConfigError (HTTP 400 in the
      // gateway) names its file:line; without one, a NonRetriableError.
      const refused = refusalMessage(err);
      if (refused === undefined) throw err;
      const stack = (refusalOf(err)?.error as { stack?: unknown } | undefined)?.stack;
      const location = pluginLocation(typeof stack === 'string' ? stack : undefined, pluginDir);
      if (!location) {
        const file = path.relative(path.resolve(pluginDir), fileURLToPath(url)).split(path.sep).join('/');
        throw new NonRetriableError(`${file} does not load: ${refused}`);
      }
      const plain = new Error(refused);
      plain.stack = [`Error: ${refused}`, ...(stack as string).split('\n').filter((line) => /^\s+at /.test(line))].join('\n');
      throw plain;
    }
  });

  const fatal = (err: unknown) => {
    send({ type: 'fatal', error: describeError(err) });
    // Give the message a moment to leave, then end: the process state is not to be trusted.
    setTimeout(() => process.exit(FATAL_EXIT_CODE), 50);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  process.on('disconnect', () => process.exit(0));

  let plugin: Promise<Plugin> | undefined;
  const actions = new Map<string, Promise<ResolvedAction>>();
  const load = (name: string): Promise<ResolvedAction> => {
    plugin ??= findPlugin(path.resolve(pluginDir));
    let action = actions.get(name);
    if (!action) {
      action = plugin.then((p) => loadAction(p, name));
      action.catch(() => actions.delete(name));
      actions.set(name, action);
    }
    return action;
  };

  const running = new Map<number, AbortController>();
  const asked = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextSeq = 1;

  /** The params as the parser reads them, and what plugin code sees as ctx.params. */
  const parse = (action: ResolvedAction, raw: unknown, parser: HostParamsParser | undefined, baseDir?: string): { parsed: unknown; own: unknown } => {
    if (parser === 'task-pages') {
      const parsed = parseTaskPagesParams(action, raw, `invalid params for ${action.plugin.config.code} ${action.name}`);
      return { parsed, own: parsed.params };
    }
    if (parser === 'train' || parser === 'model-test' || parser === 'model-inference') {
      const parsed = parseTrainerParams(parser, action.cls, raw, `invalid params for ${action.plugin.config.code} ${action.name}`);
      return { parsed, own: parsed };
    }
    if (parser === 'export' || parser === 'upload' || parser === 'tune' || parser === 'deployment' || parser === 'shape') {
      // A run shape's parser (engine/run-params.ts); `shape`: the one the class runs as.
      const shape = parser === 'shape' ? shapeParserOf(action.plugin.config.category, action.name, action.cls) : parser;
      const parsed = parseShapeParams(action, shape, raw, baseDir !== undefined ? { baseDir } : {});
      return { parsed, own: parsed };
    }
    if (parser === 'class') return { parsed: null, own: raw };
    const parsed = parseParams(action, raw);
    return { parsed, own: parsed };
  };
  // A page's hooks come one item at a time with the same params: parsed once per action and params.
  let lastParsed: { key: string; own: unknown } | undefined;
  const ownParams = (action: ResolvedAction, raw: unknown, parser: HostParamsParser | undefined): unknown => {
    const key = `${action.name}\0${parser ?? 'action'}\0${JSON.stringify(raw)}`;
    if (lastParsed?.key !== key) lastParsed = { key, own: parse(action, raw, parser).own };
    return lastParsed.own;
  };

  /** The class half of a description (the same for every parser). */
  const describeClass = (action: ResolvedAction) => ({
    className: action.cls.name,
    kind: kindOf(action.cls),
    statics: staticsOf(action.cls),
    action: action.cls.action ?? null,
    category: action.cls.category ?? null,
    method: action.method,
    progressCategories: action.progressCategories,
    metricsCategories: action.cls.metricsCategories,
  });

  async function describe(message: Extract<ToHost, { type: 'describe' }>): Promise<HostDescription> {
    const action = await load(message.action);
    const cls = action.cls;
    const taskPages = taskPagesOf(cls);
    if (message.parser === 'shape' || message.parser === 'class') {
      // A client's run start (plugin-host-describe.ts): the shape, its parse, secrets and served schemas.
      const run = runFactsOf(action, {
        parse: message.parser === 'shape',
        params: message.params,
        ...(message.baseDir !== undefined ? { baseDir: message.baseDir } : {}),
      });
      return { ...describeClass(action), params: run.params ?? null, secrets: redactParams(cls.params, message.params).secrets, run };
    }
    return {
      className: cls.name,
      kind: kindOf(cls),
      statics: staticsOf(cls),
      action: cls.action ?? null,
      category: cls.category ?? null,
      method: action.method,
      progressCategories: action.progressCategories,
      metricsCategories: cls.metricsCategories,
      // Not a task-page class: the worker's kind check refuses it (by kind, before any params problem).
      params: message.parser === 'task-pages' && !taskPages ? null : parse(action, message.params, message.parser).parsed,
      secrets: redactParams(cls.params, message.params).secrets,
      ...(taskPages ? { taskPages } : {}),
    };
  }

  /** A call's ctx-calls to the worker: each resolves with the worker's answer. */
  const asker =
    (id: number) =>
    (call: CtxCall): Promise<unknown> =>
      new Promise<unknown>((resolve, reject) => {
        const seq = nextSeq++;
        asked.set(seq, { resolve, reject });
        send({ type: 'ctx-call', id, seq, ...call });
      });

  async function run(message: Extract<ToHost, { type: 'run' }>): Promise<unknown> {
    const runner = hostRunner(message.runner);
    if (!runner) throw new Error(`this plugin host has no runner "${message.runner}"`);
    const action = await load(message.action);
    const params = ownParams(action, message.params, message.parser);
    const abort = new AbortController();
    running.set(message.id, abort);
    try {
      const ask = asker(message.id);
      const ctx = new HostRunContext(message.id, params, message.ctx, abort.signal, ask, message.platform);
      const remote = <T extends object>(target: string): Remote<T> =>
        new Proxy({} as Remote<T>, {
          get: (_object, method) =>
            typeof method === 'string' && method !== 'then' ? (...args: unknown[]) => ask({ op: 'call', target, method, args }) : undefined,
        });
      return (await runner({ action, params, ctx, args: message.args, remote })) ?? null;
    } finally {
      running.delete(message.id);
    }
  }

  async function invoke(message: Extract<ToHost, { type: 'invoke' }>): Promise<unknown> {
    const action = await load(message.action);
    const params = ownParams(action, message.params, message.parser);
    const abort = new AbortController();
    running.set(message.id, abort);
    try {
      const ask = asker(message.id);
      const ctx = new HostRunContext(message.id, params, message.ctx, abort.signal, ask, message.platform);
      // The class is concrete: the loader found it exported and named in config.yaml.
      const instance = new (action.cls as unknown as new () => Record<string, unknown>)();
      const method = instance[message.method];
      if (typeof method !== 'function') throw new Error(`${action.cls.name} has no method ${message.method}()`);
      const args = message.args ?? [];
      if (message.method === 'finish') {
        // The summary's results() reads the run's item results from the worker, a page at a time.
        const counts = args[0] as { total: number; success: number; failed: number; skipped: number };
        const results = async function* (): AsyncGenerator<ItemResult> {
          for (let after = ''; ;) {
            const page = (await ask({ op: 'results', after })) as { items: ItemResult[]; next: string | null };
            yield* page.items;
            if (page.next === null) return;
            after = page.next;
          }
        };
        return ((await (method as (s: unknown, c: RunContext) => Promise<unknown>).call(instance, { ...counts, results }, ctx)) ?? null) as unknown;
      }
      const value: unknown = await (method as (...a: unknown[]) => Promise<unknown>).call(instance, ...args, ctx);
      return value ?? null;
    } finally {
      running.delete(message.id);
    }
  }

  const answer = (id: number, work: Promise<unknown>) => {
    const retireIfPolluted = () => {
      if (polluted()) fatal(new Error('Object.prototype was modified (prototype pollution): this plugin host is retired'));
    };
    work.then(
      (value) => {
        send({ type: 'result', id, value });
        retireIfPolluted();
      },
      (err: unknown) => {
        send({ type: 'error', id, error: describeError(err) });
        retireIfPolluted();
      },
    );
  };

  process.on('message', (raw: unknown) => {
    const message = raw as ToHost;
    switch (message.type) {
      case 'describe':
        answer(message.id, describe(message));
        break;
      case 'invoke':
        answer(message.id, invoke(message));
        break;
      case 'run':
        answer(message.id, run(message));
        break;
      case 'cancel':
        running.get(message.id)?.abort(new Error('the step was cancelled'));
        break;
      case 'ctx-reply': {
        const waiting = asked.get(message.seq);
        asked.delete(message.seq);
        if (message.ok) waiting?.resolve(message.value);
        else waiting?.reject(errorFromHost(message.error));
        break;
      }
    }
  });
  send({ type: 'ready', pid: process.pid });
}

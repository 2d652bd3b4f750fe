/**
 * The messages between a worker and a plugin host (activities/plugin-host.ts spawns the host,
 * activities/plugin-host-main.ts is its entry). They travel over Node's IPC channel with the
 * `advanced` serialization (structured clone: Buffers, Dates and Maps survive).
 *
 * The host runs code the worker's operators did not write, so what it sends is untrusted
 * input: the worker parses every message with the zod schemas below and kills a host whose
 * message does not match (a protocol violation), exactly as it would a crashed one.
 */
import { z } from 'zod';
import type { LogLevel } from '../sdk/run-context.js';
import { SHAPE_PARSERS } from '../engine/run-params.js';

/** Exit code of a host that ended itself after a fatal error (a throw outside any call). */
export const FATAL_EXIT_CODE = 70;

/** The run-context data a host's ctx starts from (the rest of ctx is calls back to the worker). */
export interface HostCtxInit {
  runId: string;
  attempt: number;
  /** The run's latest checkpoint state (what `ctx.resumeState()` returns until the next checkpoint). */
  resume: unknown;
  /** The variables the plugin declares in config.yaml `envs`, with their values on this worker. */
  envs: Record<string, string>;
}

/**
 * Which parser the host applies to a step's raw params (the parser lives with the class):
 * `action` the class's schema (parseParams), `task-pages` the task-page run's
 * (engine/task-page-params.ts: the class's schema, then the project and filters); `train`,
 * `model-test`, `model-inference` a trainer step's (plugin-host-run-train.ts parseTrainerParams).
 */
export type HostParamsParser = 'action' | 'task-pages' | 'train' | 'model-test' | 'model-inference' | HostShapeParser;

/**
 * The run shapes' parsers a client's describe uses (engine/run-params.ts, plugin-host-describe.ts):
 * `export`, `upload`, `tune`, `deployment` that shape's parser; `shape` the parser of the shape
 * the class runs as (chosen in the host from the class), with the run facts in the description;
 * `class` no params parsed (`params` null), the run facts only (served actions' schemas).
 */
export type HostShapeParser = 'export' | 'upload' | 'tune' | 'deployment' | 'shape' | 'class';

/** The hooks of a task-page action (sdk/task-pages.ts TaskPageHooks) a host may be asked to run. */
export const TASK_PAGE_HOOKS = ['prepare', 'processTask', 'processDataUnit', 'processGroundTruth', 'finish'] as const;
export type TaskPageHook = (typeof TASK_PAGE_HOOKS)[number];

/** The methods of an action a host runs: a job's `start(ctx)`, or a task-page hook. */
export type HostMethod = 'start' | TaskPageHook;

/** worker -> host */
export type ToHost =
  /** Loads the action (config.yaml checks, class checks) and parses the params. */
  | { type: 'describe'; id: number; action: string; params: unknown; parser: HostParamsParser; baseDir?: string }
  /**
   * Calls `method` on a fresh instance of the action's class with `args` then the run context
   * (`start(ctx)`, `processTask(task, ctx)`; `finish` gets the run's counts and builds its
   * summary's results() from `results` calls); `parser` reads the params as `describe` did.
   */
  | {
      type: 'invoke';
      id: number;
      action: string;
      method: HostMethod;
      args?: unknown[];
      parser?: HostParamsParser;
      params: unknown;
      ctx: HostCtxInit;
      platform: boolean;
    }
  /**
   * Runs a host runner (plugin-host-runners.ts) for a run shape whose steps drive the class's
   * hooks themselves (export pages, upload, training, serving): the runner gets the loaded
   * action, the parsed params, a run context, `args`, and proxies of the worker objects the
   * call offers as `targets` (their methods answered by `ctx-call` op `call`).
   */
  | {
      type: 'run';
      id: number;
      action: string;
      runner: string;
      args: unknown[];
      parser?: HostParamsParser;
      params: unknown;
      ctx: HostCtxInit;
      platform: boolean;
    }
  /** Fires the call's `ctx.signal` (the step was cancelled). */
  | { type: 'cancel'; id: number }
  /** The answer to a `ctx-call` of the host. */
  | { type: 'ctx-reply'; seq: number; ok: true; value: unknown }
  | { type: 'ctx-reply'; seq: number; ok: false; error: HostError };

const LOG_LEVEL = z.enum(['DEBUG', 'INFO', 'WARNING', 'ERROR']) satisfies z.ZodType<LogLevel>;
const PROGRESS_CATEGORY = z.strictObject({ weight: z.number(), label: z.string().max(500).optional() });
const METRIC_VALUES = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));

/** Which SDK base a described class extends (the worker's stand-in extends the same one, so the shapes' kind checks hold). */
export const HOST_CLASS_KINDS = ['action', 'exporter', 'uploader', 'trainer', 'serve'] as const;
export type HostClassKind = (typeof HOST_CLASS_KINDS)[number];

/** A class's static fields with a string, number, boolean or null value (own and inherited: pageSize, itemConcurrency, ...). */
export const HostStatics = z.record(z.string().max(200), z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]));
export type HostStatics = z.infer<typeof HostStatics>;

/** What `describe` answers: the class as the step harness checks it, and the parsed params. */
export const HostDescription = z.strictObject({
  className: z.string().max(500),
  kind: z.enum(HOST_CLASS_KINDS),
  statics: HostStatics,
  action: z.string().max(200).nullable(),
  category: z.string().max(200).nullable(),
  method: z.string().max(50),
  progressCategories: z.record(z.string().max(200), PROGRESS_CATEGORY),
  metricsCategories: z.record(z.string().max(200), z.strictObject({ label: z.string().max(500).optional() })),
  params: z.unknown(),
  /** The values of the params' secret fields (sdk/secret.ts), to scrub from the run's events. */
  secrets: z.array(z.string().max(64 * 1024)).max(1000),
  /** Parsers `shape` and `class`: what a client's run start needs (engine/run-params.ts RunFacts). */
  run: z
    .strictObject({
      shape: z.enum(SHAPE_PARSERS),
      secretFields: z.array(z.string().max(2000)).max(1000),
      serve: z.strictObject({ input: z.record(z.string(), z.unknown()), output: z.record(z.string(), z.unknown()) }).optional(),
      /** Parser `class`: the params' JSON Schema (a plugin's description, GET /v1/plugins/{code}), or why zod could not write one. */
      paramsSchema: z.record(z.string(), z.unknown()).optional(),
      paramsSchemaError: z.string().max(4000).optional(),
      params: z.unknown().optional(),
      redactedParams: z.unknown().optional(),
    })
    .optional(),
  /** A task-page action's statics (sdk/task-pages.ts TaskPagesClass) and the hooks its class has. */
  taskPages: z
    .strictObject({
      source: z.enum(['tasks', 'data_units', 'ground_truth']),
      pageSize: z.number().finite(),
      writeBatch: z.number().finite(),
      concurrency: z.number().finite().optional(),
      hooks: z.array(z.enum(TASK_PAGE_HOOKS)).max(TASK_PAGE_HOOKS.length),
    })
    .optional(),
});
export type HostDescription = z.infer<typeof HostDescription>;

/** An error as the host reports it: the SDK / contracts class name when it is one of ours. */
export const HostError = z.strictObject({
  name: z.string().max(200),
  message: z.string().max(64 * 1024),
  stack: z
    .string()
    .max(64 * 1024)
    .optional(),
  /** ParamsError / ConfigError problems. */
  problems: z.array(z.strictObject({ path: z.string().max(2000), message: z.string().max(4000), location: z.string().max(2000).optional() })).optional(),
  /** InvalidInputError's subject (the message is built from it and the problems). */
  subject: z.string().max(4000).optional(),
});
export type HostError = z.infer<typeof HostError>;

/** host -> worker */
export const FromHost = z.union([
  z.strictObject({ type: z.literal('ready'), pid: z.number().int() }),
  z.strictObject({ type: z.literal('result'), id: z.number().int(), value: z.unknown() }),
  z.strictObject({ type: z.literal('error'), id: z.number().int(), error: HostError }),
  z.strictObject({ type: z.literal('log-message'), id: z.number().int(), message: z.string().max(1024 * 1024), level: LOG_LEVEL }),
  z.strictObject({ type: z.literal('log'), id: z.number().int(), event: z.string().max(1000), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({
    type: z.literal('progress'),
    id: z.number().int(),
    current: z.number(),
    total: z.number(),
    category: z.string().max(200).optional(),
  }),
  z.strictObject({ type: z.literal('metrics'), id: z.number().int(), values: METRIC_VALUES, category: z.string().max(200) }),
  /** A call that needs the worker's answer (a checkpoint is durable when it is answered). */
  z.strictObject({ type: z.literal('ctx-call'), id: z.number().int(), seq: z.number().int(), op: z.literal('checkpoint'), state: z.unknown() }),
  /** A page of a task-page run's item results after `after` (its `finish` summary's results()). */
  z.strictObject({ type: z.literal('ctx-call'), id: z.number().int(), seq: z.number().int(), op: z.literal('results'), after: z.string().max(10_000) }),
  /** A method of the step's `ctx.platform` (sdk/platform-api.ts), run by the worker. */
  z.strictObject({
    type: z.literal('ctx-call'),
    id: z.number().int(),
    seq: z.number().int(),
    op: z.literal('platform'),
    method: z.string().max(200),
    args: z.array(z.unknown()).max(100),
  }),
  /** A method of a worker object the `run` call offered under `target` (its own function properties only). */
  z.strictObject({
    type: z.literal('ctx-call'),
    id: z.number().int(),
    seq: z.number().int(),
    op: z.literal('call'),
    target: z.string().max(200),
    method: z.string().max(200),
    args: z.array(z.unknown()).max(1000),
  }),
  /** An error the host caught outside any call (a timer's throw, an unhandled rejection): the host exits after it. */
  z.strictObject({ type: z.literal('fatal'), error: HostError }),
]);
export type FromHost = z.infer<typeof FromHost>;

/**
 * What a task-page item hook returns (sdk/task-pages.ts TaskOutcome), or null / undefined for
 * skipped: checked in the worker, a result that does not match fails its item naming why.
 */
export const HostTaskOutcome = z
  .strictObject({
    status: z.enum(['success', 'failed', 'skipped']).optional(),
    annotations: z.unknown().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .nullable()
  .optional();

/** What a task-page action's `finish` returns: fields joining the run's result, or nothing. */
export const HostFinishResult = z.record(z.string(), z.unknown()).nullable().optional();

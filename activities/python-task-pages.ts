/**
 * The hooks of a Python task-page action (engine/python-task-pages.ts), run in the plugin's
 * warm Python process (python-runtime.ts: one process per interpreter and plugin folder,
 * kept between steps like a trainer's). activities/task-pages.ts uses this object in place of
 * a TypeScript instance, so paging, batching, per-item results and retries are the same code
 * for both languages.
 *
 * Each hook is one `task_page` call (runtimes/python/synapse_task_pages.py). While it runs,
 * the plugin's `ctx.platform` requests come back here and are answered by the step's
 * PlatformApi (the same calls, filters and idempotent writes as TypeScript plugins get).
 * Outcomes: an item hook's own exception fails that item (the process stays warm); a crash
 * or hang of the process, or Python's `Unavailable`, is an UnavailableError: the page fails
 * and Temporal retries it with a fresh process, skipping the items already on record.
 */
import { NonRetriableError, UnavailableError } from '../contracts/errors.js';
import type { PythonTaskPagesClass } from '../engine/python-task-pages.js';
import type { ItemResult, PlatformApi } from '../sdk/platform-api.js';
import type { TaskOutcome, TaskPageHooks, TaskPagesSummary, TaskRunContext } from '../sdk/task-pages.js';
import { pythonProcessEnv } from './plugin-host-env.js';
import { acquirePython, ensurePythonEnv, PythonRuntimeError, releasePython, type PythonSink } from './python-runtime.js';

/** Seconds a Python hook may go without a sign of life (no line on fd 3) before it is killed as hung. */
const DEFAULT_SILENCE_S = 120;

/** What a `task_page` call of an item hook answers. */
type ItemAnswer = { outcome: TaskOutcome | null } | { raised: string; traceback?: string } | { unavailable: string };

function sinkOf(ctx: TaskRunContext<unknown>): PythonSink {
  return {
    logMessage: (m, l) => ctx.logMessage(m, l),
    log: (e, d) => ctx.log(e, d),
    setProgress: (c, t, cat) => ctx.setProgress(c, t, cat),
    setMetrics: (v, cat) => ctx.setMetrics(v, cat),
  };
}

/** A record from Python: a JSON object, or InvalidInputError-worthy. */
function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new TypeError(`${what} must be a dict, got ${JSON.stringify(value)}`);
}

/**
 * The platform calls Python may make, by the TypeScript method name; arguments as
 * runtimes/python/synapse_task_pages.py's Platform sends them. Bytes travel as base64.
 * `runResults` is the finish summary's results(), a page of 1000 at a time.
 */
function platformCalls(api: PlatformApi, results: (after: string) => Promise<{ items: ItemResult[]; next: string | null }>) {
  const calls: Record<string, (args: unknown[]) => Promise<unknown>> = {
    getProject: ([ref]) => api.getProject(ref as number | string),
    listTasks: ([project, filter, page]) => api.listTasks(project as number | string, filter as never, page as never),
    listAssignments: ([project, filter, page]) => api.listAssignments(project as number | string, filter as never, page as never),
    listDataUnits: ([collection, filter, page]) => api.listDataUnits(collection as number | string, filter as never, page as never),
    assignmentsOf: async ([ids]) => Object.fromEntries(await api.assignmentsOf(ids as number[])),
    fileExists: ([file]) => api.fileExists(asRecord(file, 'file') as never),
    readFile: async ([file]) => (await api.readFile(asRecord(file, 'file') as never)).toString('base64'),
    writeFile: ([storage, key, body]) => api.writeFile(storage as number | string, String(key), Buffer.from(String(asRecord(body, 'body').base64), 'base64')),
    writeAnnotations: ([project, items, options]) => api.writeAnnotations(project as number | string, items as never, (options ?? {}) as never),
    createTasks: ([project, ids]) => api.createTasks(project as number | string, ids as number[]),
    writeGroundTruth: ([project, dataset, version, items]) =>
      api.writeGroundTruth(project as number | string, String(dataset), String(version), items as never),
    writeResults: ([items]) => api.writeResults(items as never),
    getDeployment: ([id]) => api.getDeployment(String(id)),
    predict: ([deployment, body, options]) => api.predict(String(deployment), body, (options ?? {}) as never),
    runResults: ([after]) => results(typeof after === 'string' ? after : ''),
  };
  return async (method: string, args: unknown[]): Promise<unknown> => {
    const call = Object.hasOwn(calls, method) ? calls[method] : undefined;
    if (!call) throw new NonRetriableError(`ctx.platform has no method ${JSON.stringify(method)}`);
    return call(args);
  };
}

export interface PythonTaskPagesOptions {
  /** The worker's data folder (the plugin's Python environment is made under it). */
  dataDir: string;
  /** Seconds without a sign of life before a hook's process is killed as hung (config.yaml heartbeat_timeout). */
  silenceSeconds?: number;
}

/**
 * The hooks of `cls` for one step: each call takes the plugin's warm Python process (or
 * starts one), runs the hook there and gives the process back.
 */
export function pythonTaskPageHooks(cls: PythonTaskPagesClass, options: PythonTaskPagesOptions): TaskPageHooks {
  const { plugin, module, className, base } = cls.python;
  const silenceLimitMs = Math.max(5, options.silenceSeconds ?? DEFAULT_SILENCE_S) * 1000;

  async function call(hook: string, ctx: TaskRunContext<unknown>, extra: Record<string, unknown>, summary?: TaskPagesSummary): Promise<unknown> {
    const python = await ensurePythonEnv(plugin, options.dataDir, (line) => ctx.logMessage(line, 'DEBUG'));
    const proc = await acquirePython(
      python,
      plugin.dir,
      // Never the worker's database URL, storage keys or tokens (issue 18).
      pythonProcessEnv(plugin),
      (pid) => {
        ctx.logMessage(`python runtime pid ${pid} started (${python})`);
        ctx.log('python_started', { pid });
      },
    ).catch((err: unknown) => {
      throw err instanceof PythonRuntimeError ? new UnavailableError(`${className}: ${err.message}`) : err;
    });
    // summary.results() in Python reads pages in order; a new results() (after '') starts over.
    let iterator: AsyncIterator<ItemResult> | undefined;
    const results = async (after: string): Promise<{ items: ItemResult[]; next: string | null }> => {
      if (after === '' || !iterator) iterator = summary?.results()[Symbol.asyncIterator]();
      const items: ItemResult[] = [];
      while (iterator && items.length < 1000) {
        const next = await iterator.next();
        if (next.done) return { items, next: null };
        items.push(next.value);
      }
      return { items, next: iterator ? 'more' : null };
    };
    let healthy = false;
    try {
      const value = await proc.call<unknown>(
        'task_page',
        { module, class_name: className, base, hook, run_id: ctx.runId, params: ctx.params, attempt: ctx.attempt, ...extra },
        { sink: sinkOf(ctx), signal: ctx.signal, silenceLimitMs, onPlatform: platformCalls(ctx.platform, results) },
      );
      healthy = true;
      return value;
    } catch (err) {
      healthy = proc.alive && !(err instanceof PythonRuntimeError);
      // A crash, a hang or a line off the protocol: the page is retried with a fresh process.
      if (err instanceof PythonRuntimeError) throw new UnavailableError(`${className} ${hook}: ${err.message}`);
      throw err;
    } finally {
      releasePython(proc, healthy);
    }
  }

  async function item(hook: string, value: unknown, ctx: TaskRunContext<unknown>): Promise<TaskOutcome | null> {
    const answer = (await call(hook, ctx, { item: value })) as ItemAnswer;
    if ('unavailable' in answer) throw new UnavailableError(answer.unavailable);
    if ('raised' in answer) {
      if (answer.traceback) ctx.logMessage(answer.traceback.trimEnd(), 'DEBUG');
      throw new Error(answer.raised);
    }
    return answer.outcome;
  }

  const hooks: TaskPageHooks = {
    async prepare(ctx) {
      await call('prepare', ctx, {});
    },
    async finish(summary, ctx) {
      const counts = { total: summary.total, success: summary.success, failed: summary.failed, skipped: summary.skipped };
      const extra = await call('finish', ctx, { summary: counts }, summary);
      return extra === null || extra === undefined ? undefined : asRecord(extra, `${className}.finish()`);
    },
  };
  if (base === 'PreAnnotationUnitPages') hooks.processDataUnit = (unit, ctx) => item('process_data_unit', unit, ctx);
  else hooks.processTask = (task, ctx) => item('process_task', task, ctx);
  return hooks;
}

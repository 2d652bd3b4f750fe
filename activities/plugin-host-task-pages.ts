/**
 * A task-page action (sdk/task-pages.ts) whose TypeScript runs in a plugin host: the class the
 * task-page steps (activities/task-pages.ts) get in place of the plugin's. Its statics are the
 * ones the host described (source, page size, write batch, concurrency) and its prototype has
 * exactly the hooks the plugin's class has, each running in the host with the step's
 * `ctx.platform` answered by the worker. So the paging, batching, per-item results and
 * retries are the same code as for a class loaded in the worker.
 *
 * What a hook returns comes from plugin code in another process: it is checked here
 * (HostTaskOutcome, HostFinishResult) and a result that does not match is that item's (or
 * finish's) error, naming what is wrong. A hook's own throw is its item's failure as before;
 * a host that crashes or passes a limit throws PluginHostError, which fails the page.
 */
import { zodProblems } from '../contracts/problems.js';
import { Action, type ActionClass } from '../sdk/action.js';
import type { RunContext } from '../sdk/run-context.js';
import type { TaskOutcome, TaskPagesSummary, TaskRunContext } from '../sdk/task-pages.js';
import type { ItemResult } from '../sdk/platform-api.js';
import type { HostSink } from './plugin-host.js';
import { HostFinishResult, HostTaskOutcome, type HostDescription, type HostMethod } from './plugin-host-protocol.js';

/** Runs one method of the action in a host: `args` then the run context; `results` answers a finish's summary. */
export type HostHookCall = (method: HostMethod, args: unknown[], ctx: RunContext, results?: HostSink['results']) => Promise<unknown>;

/** A checked value, or an Error naming the hook and each problem. */
function checked<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } },
  value: unknown,
  what: string,
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error)
    .map((p) => `${p.path || '(the value)'}: ${p.message}`)
    .join('; ');
  throw new Error(`${what} returned what a task-page hook may not: ${problems}`);
}

/**
 * The results() of a finish summary, as pages for the host's `results` calls (cursor: the count
 * already sent). `after` '' starts over (results() called again reads from the first item, as
 * in the worker); any other cursor must be where the last page ended (one reading at a time).
 */
function resultPages(summary: TaskPagesSummary): NonNullable<HostSink['results']> {
  let iterator: AsyncIterator<ItemResult> | undefined;
  let sent = 0;
  return async (after) => {
    if (after === '') {
      iterator = summary.results()[Symbol.asyncIterator]();
      sent = 0;
    } else if (!iterator || after !== String(sent)) {
      throw new Error(`results() is read one pass at a time (asked after ${JSON.stringify(after)}, ${sent} sent)`);
    }
    const items: ItemResult[] = [];
    while (items.length < 1000) {
      const next = await iterator.next();
      if (next.done) {
        iterator = undefined;
        return { items, next: null };
      }
      items.push(next.value);
    }
    sent += items.length;
    return { items, next: String(sent) };
  };
}

/**
 * The stand-in class of a task-page action the host described (`description.taskPages` set):
 * abstract hooks of sdk/task-pages.ts become methods calling `call` for the hooks the plugin has.
 */
export function taskPagesStandIn(description: HostDescription, call: HostHookCall): ActionClass {
  const info = description.taskPages!;
  const name = description.className;
  class HostedTaskPages extends Action {
    start(): Promise<unknown> {
      return Promise.reject(new Error(`${name} runs as task pages on a worker (the task-page run shape), not through start()`));
    }
  }
  const proto = HostedTaskPages.prototype as unknown as Record<string, unknown>;
  const item = (hook: 'processTask' | 'processDataUnit' | 'processGroundTruth') =>
    async function (value: unknown, ctx: TaskRunContext<unknown>): Promise<TaskOutcome | null | undefined> {
      return checked(HostTaskOutcome, await call(hook, [value], ctx), `${name}.${hook}()`) as TaskOutcome | null | undefined;
    };
  for (const hook of info.hooks) {
    if (hook === 'prepare')
      proto.prepare = async (ctx: TaskRunContext<unknown>): Promise<void> => {
        await call('prepare', [], ctx);
      };
    else if (hook === 'finish')
      proto.finish = async (summary: TaskPagesSummary, ctx: TaskRunContext<unknown>): Promise<Record<string, unknown> | void> => {
        const counts = { total: summary.total, success: summary.success, failed: summary.failed, skipped: summary.skipped };
        const value = checked(HostFinishResult, await call('finish', [counts], ctx, resultPages(summary)), `${name}.finish()`);
        return value ?? undefined;
      };
    else proto[hook] = item(hook);
  }
  Object.defineProperty(HostedTaskPages, 'name', { value: name });
  Object.assign(HostedTaskPages, {
    action: description.action ?? undefined,
    category: description.category ?? undefined,
    method: description.method,
    progressCategories: description.progressCategories,
    metricsCategories: description.metricsCategories,
    taskPages: true,
    source: info.source,
    pageSize: info.pageSize,
    writeBatch: info.writeBatch,
    ...(info.concurrency !== undefined ? { concurrency: info.concurrency } : {}),
  });
  return HostedTaskPages as unknown as ActionClass;
}

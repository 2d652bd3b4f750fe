/**
 * The one way a step (an activity of a run) starts and ends. Every run shape's steps do the
 * same around their own work:
 *
 * 1. load the run's action from its plugin (the client's folder when it holds the same
 *    code@version, else by code@version),
 * 2. check that its class is the kind the shape runs (action-kinds.ts),
 * 3. parse the params with that kind's schema (ParamsError lists every problem),
 * 4. mark the run running, when the step is the run's first (written as the action starts,
 *    finished before the step ends),
 * 5. open the ActivityRunContext that heartbeats and writes the run's events, from the run's
 *    checkpoint, read while 1-3 happen (`step`; a bookkeeping step that writes nothing to the
 *    run's log uses `bareStep`),
 * 6. turn what happened into the Temporal outcome: the result; the cancellation as it is
 *    (logged); our permanent errors as non-retryable failures and anything else as a
 *    retryable one (failures.ts), logged with the attempt.
 *
 * A spec that names a `host` parser runs the plugin's TypeScript in a plugin host process
 * (plugin-host-step.ts): steps 1-3 happen there and the class the step gets stands in for the
 * plugin's, its methods running in the host. A host that fails (crash, limit) fails the step
 * with a retryable PluginHostError, and without retry from attempt `maxCrashAttempts` on.
 */
import { Context } from '@temporalio/activity';
import type { RunActionInput } from '../contracts/run-input.js';
import { loadRunAction, type ResolvedAction } from '../engine/plugin-loader.js';
import { NonRetriableError } from '../contracts/errors.js';
import type { RunStore } from '../platform/run-store.js';
import type { ActionKind } from './action-kinds.js';
import type { PlatformAccess } from './platform-access.js';
import { ActivityRunContext, HEARTBEAT_INTERVAL_MS } from './activity-run-context.js';
import { asFailure, asPluginBug, rethrowAsFailure } from './failures.js';
import { loadHostedAction, type HostLease, type HostRun } from './plugin-host-step.js';
import { declaredEnvs } from './plugin-host-env.js';
import { PluginHostError, pluginHostLimits } from './plugin-host.js';
import type { HostParamsParser } from './plugin-host-protocol.js';
import { scrubbingStore, scrubError, withEnvSecrets } from './secret-scrub.js';
import { redactParams } from '../sdk/secret.js';

/** What every step's input carries: the run, its plugin and action, the params as the client sent them. */
export interface StepInput extends Pick<RunActionInput, 'plugin' | 'action' | 'params'> {
  runId: string;
}

/** What a step runs: the kind of class, and how its params are read. */
export interface StepSpec<C, P> {
  kind: ActionKind<C>;
  /**
   * The params as this kind reads them (the class's own schema, or a shape's fixed one).
   * Throws ParamsError; `subject` is its message ("invalid params for <code> <action>").
   */
  params: (raw: unknown, loaded: { action: ResolvedAction; cls: C; subject: string }) => P;
  /**
   * Runs the action's TypeScript in a plugin host, its params parsed there by this parser
   * (which must be `params`' equivalent: `action` is parseParams with the class's schema).
   */
  host?: HostParamsParser;
}

/** A step's action: resolved, its class checked, its params parsed. */
export interface LoadedStep<C, P> {
  action: ResolvedAction;
  cls: C;
  params: P;
  /** The values of the params' secret fields, when a plugin host found them (it has the schema). */
  secrets?: string[];
  /**
   * The plugin host the action loaded in (specs with `host`, TypeScript actions): shapes that
   * drive the class's hooks run them there with `host.run(runner, ...)` (plugin-host-runner.ts).
   * Undefined for Python actions and specs without `host`.
   */
  host?: HostRun;
}

export interface StepOptions {
  /** The run's first step (or a step that may be): marks the run running in the run store. */
  marksRunning?: boolean;
  /**
   * The context's progress categories: the action's own (default), or none for shapes that
   * count their own progress in the workflow (export, upload).
   */
  progressCategories?: 'action' | 'none';
  /**
   * `run` when the step is the whole run (the simple shape): its log says "run cancelled"
   * and "attempt N failed"; a step of a longer run says "step cancelled" and names itself.
   */
  scope?: 'run' | 'step';
}

export interface StepRunner {
  /** A step that reports to the run (logs, progress, metrics, checkpoints) through `ctx`. */
  step<C, P, T>(
    input: StepInput,
    spec: StepSpec<C, P>,
    options: StepOptions,
    fn: (step: LoadedStep<C, P> & { ctx: ActivityRunContext<P> }) => Promise<T>,
  ): Promise<T>;
  /** A bookkeeping step with no run context (planning, counting, finalizing files). */
  bareStep<C, P, T>(input: StepInput, spec: StepSpec<C, P>, options: Pick<StepOptions, 'marksRunning'>, fn: (step: LoadedStep<C, P>) => Promise<T>): Promise<T>;
}

/** What the activity factories get, built once per worker process (activities/index.ts). */
export interface ActivityDeps {
  /** Runs, their events and checkpoints. */
  store: RunStore;
  /** The platform database and the storages (the same database pool as the store). */
  platform: PlatformAccess;
  /** The worker's data dir (upload plans, dataset cache, Python environments, scratch). */
  dataDir: string;
}

/** The factories' deps and the step runner over their store. */
export interface StepDeps extends ActivityDeps {
  steps: StepRunner;
}

export function stepRunner(store: RunStore): StepRunner {
  /** Loads, checks and parses a step's action; our errors become Temporal failures. */
  async function load<C, P>(input: StepInput, spec: StepSpec<C, P>): Promise<LoadedStep<C, P> & { lease?: HostLease }> {
    return asFailure(async () => {
      const hosted = spec.host ? await loadHostedAction(input.plugin, input.action, spec.host, input.params, undefined, input.runId) : undefined;
      if (hosted) {
        const { action, lease } = hosted;
        if (!spec.kind.is(action.cls)) {
          lease.release(true);
          throw new NonRetriableError(`${input.plugin.code} ${input.action}: ${action.cls.name} is not ${spec.kind.needs}`);
        }
        // Parsed in the host by the parser the spec names for its `params`.
        return { action, cls: action.cls, params: hosted.params as P, secrets: hosted.secrets, lease, host: hosted.host };
      }
      const action = await loadRunAction(input.plugin, input.action);
      const cls = action.cls;
      if (!spec.kind.is(cls)) throw new NonRetriableError(`${input.plugin.code} ${input.action}: ${cls.name} is not ${spec.kind.needs}`);
      const params = spec.params(input.params, { action, cls, subject: `invalid params for ${input.plugin.code} ${input.action}` });
      return { action, cls, params };
    });
  }

  return {
    async step(input, spec, options, fn) {
      const activity = Context.current();
      // Until the run context heartbeats: loading may build a plugin host's bundle and start it.
      const stopBeating = keepAlive(activity);
      let lease: HostLease | undefined;
      // The checkpoint read goes to the store while the action loads (a plugin host's describe
      // is a round trip to another process). The running mark waits for the load (an action
      // that cannot load never shows as running), then is written while the action starts; the
      // step ends only after it, so no later status write can overtake it.
      const checkpoint = settled(store.latestCheckpoint(input.runId));
      let marked: (() => Promise<void>) | undefined;
      const { loaded, secrets, ctx } = await (async () => {
        const { lease: held, ...loaded } = await load(input, spec);
        lease = held;
        // Values of the action's secret params never reach the run's events or its error.
        const secrets = withEnvSecrets(loaded.secrets ?? redactParams(loaded.action.cls.params, input.params).secrets, declaredEnvs(loaded.action.plugin));
        const contextOptions = {
          runId: input.runId,
          params: loaded.params,
          activity,
          store: scrubbingStore(store, secrets),
          progressCategories: options.progressCategories === 'none' ? {} : loaded.action.progressCategories,
          envs: declaredEnvs(loaded.action.plugin),
        };
        return { loaded, secrets, ctx: new ActivityRunContext(contextOptions, await checkpoint()) };
      })()
        .catch((err: unknown) => {
          // Loading released the host itself when it failed; a failure after it leaves the host healthy.
          lease?.release(true);
          throw err;
        })
        .finally(stopBeating);
      const { attempt, activityType } = activity.info;
      let hostFailed = false;
      if (lease) ctx.log('plugin_host', { pid: lease.host.pid });
      if (options.marksRunning) marked = settled(store.updateRun(input.runId, { status: 'running' }));
      try {
        const value = await fn({ ...loaded, ctx });
        // A run store that refused the mark fails the step, as it would have before the action.
        await marked?.();
        if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
        return value;
      } catch (err) {
        hostFailed = err instanceof PluginHostError;
        if (activity.cancellationSignal.aborted) {
          ctx.logMessage(`${options.scope ?? 'step'} cancelled`, 'WARNING');
          throw activity.cancellationSignal.reason;
        }
        // A bug in plugin code (a TypeError, ...) is not retried, and says where (failures.ts).
        const scrubbed = scrubError(asPluginBug(notRetriedPast(err, attempt), loaded.action.plugin.dir), secrets);
        const message = scrubbed instanceof Error ? scrubbed.message : String(scrubbed);
        ctx.logMessage(options.scope === 'run' ? `attempt ${attempt} failed: ${message}` : `attempt ${attempt} of ${activityType} failed: ${message}`, 'ERROR');
        return rethrowAsFailure(scrubbed);
      } finally {
        await marked?.().catch(() => {});
        await ctx.close();
        lease?.release(!hostFailed && !activity.cancellationSignal.aborted);
      }
    },

    async bareStep(input, spec, options, fn) {
      const stopBeating = keepAlive(Context.current());
      const { lease, ...loaded } = await load(input, spec).finally(stopBeating);
      const secrets = withEnvSecrets(loaded.secrets ?? redactParams(loaded.action.cls.params, input.params).secrets, declaredEnvs(loaded.action.plugin));
      let hostFailed = false;
      return asFailure(async () => {
        try {
          if (options.marksRunning) await store.updateRun(input.runId, { status: 'running' });
          return await fn(loaded);
        } catch (err) {
          hostFailed = err instanceof PluginHostError;
          throw scrubError(asPluginBug(notRetriedPast(err, Context.current().info.attempt), loaded.action.plugin.dir), secrets);
        } finally {
          lease?.release(!hostFailed);
        }
      });
    },
  };
}

/**
 * A promise started now and awaited later: `settled(p)()` gives its value or throws its error
 * when called, and a rejection before then is not an unhandled one (the step may fail to load
 * first, and never ask).
 */
function settled<T>(promise: Promise<T>): () => Promise<T> {
  const outcome = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return async () => {
    const o = await outcome;
    if (!o.ok) throw o.error;
    return o.value;
  };
}

/** A host failure on attempt `maxCrashAttempts` or later: not retried again, with the reason. */
function notRetriedPast(err: unknown, attempt: number): unknown {
  const { maxCrashAttempts } = pluginHostLimits();
  if (!(err instanceof PluginHostError) || attempt < maxCrashAttempts) return err;
  return new NonRetriableError(`${err.message} (attempt ${attempt}: a plugin host failed ${attempt} times, not retried)`);
}

/**
 * Heartbeats every second (with the details the attempt started with, so a checkpoint in them
 * is kept) until the returned function is called: a step's heartbeat timeout runs from its
 * start, and loading its action may take seconds on a busy machine. None when loading takes
 * less than a second (most steps: no heartbeat call to the server for them).
 */
function keepAlive(activity: Context): () => void {
  const timer = setInterval(() => activity.heartbeat(activity.info.heartbeatDetails), HEARTBEAT_INTERVAL_MS);
  return () => clearInterval(timer);
}

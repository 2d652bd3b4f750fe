/**
 * Starting runs and resuming them. Everything that can be checked is checked
 * before anything is created (plugin, action, params, the shape's preflight, the run id), then
 * the run store gets its row and Temporal its workflow. What differs per category comes from
 * the action's run shape (client/run-shapes.ts) through its hooks; nothing here names a category.
 *
 * The action's class is never needed here: a describer (engine/run-params.ts ActionDescriber)
 * loads it, picks its run shape, parses the params with that shape's parser and answers a
 * description the shape's hooks work from. Which describer is the caller's choice
 * (RunsClient.describer): the gateway's loads the class in a plugin host
 * (activities/plugin-host-describe.ts), so that no plugin module's top level ever runs in the
 * gateway; the default, for the CLI, loads it in this process (`describeInProcess`): the code is
 * the developer's own, as with `--debug`, and a host's start (a bundle build, a process) would
 * slow every `plugin run` (bench/cli-startup.ts). Python actions load in-process either way
 * (their loader imports no plugin code).
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, NotFoundError } from '../contracts/errors.js';
import { assertParamsWithinLimits, ownValue } from '../contracts/input-limits.js';
import type { RunActionInput } from '../contracts/run-input.js';
import { TERMINAL_STATUSES } from '../contracts/run-state.js';
import { findPlugin, type Plugin } from '../engine/plugin-loader.js';
import { describeInProcess, type ActionDescriber, type ActionDescription, type DescribeRequest } from '../engine/run-params.js';
import { newRunId, RUN_ID_PATTERN } from './ids.js';
import {
  describeRun,
  errorChainMessage,
  reconcileRunningRuns,
  reconcileStoreStatus,
  runState,
  statusOf,
  wrapTemporalError,
  type RunsParts,
} from './run-read.js';
import { resumeParams, startedRunInput, storedParams } from './run-secrets.js';
import type { ExtraInputContext, ResumePoint, RunShape } from './run-shape.js';
import { resumableShapeNames, runShapeFor } from './run-shapes.js';
import { SA_ACTION, SA_CATEGORY, SA_METHOD, SA_PLUGIN_CODE, SA_PLUGIN_VERSION } from './search-attributes.js';
import { runUiUrl, taskQueueFor } from './settings.js';

export interface StartRunRequest {
  /** Plugin code, `code@version`, or a folder path. */
  plugin: string;
  action: string;
  params?: unknown;
  /** Run id (`--job-id`); generated when absent. */
  runId?: string;
  /** Overrides the action's heartbeat timeout (seconds). */
  heartbeatTimeoutSeconds?: number;
  /** Start after an earlier run's checkpoint (`resumeRun()` sets it); only shapes with a `resumePoint` hook take one. */
  resume?: ResumePoint;
  /** Local folders the run may read (run-shape.ts StartEdge): the gateway sets them; absent for the CLI. */
  localRoots?: readonly string[];
}

export interface StartedRun {
  runId: string;
  plugin: { code: string; version: string };
  action: string;
  uiUrl?: string;
}

export interface ResumedRun extends StartedRun {
  resumedFrom: { runId: string; epoch: number };
}

/** Seconds an attempt of a step may take at most, per method (heartbeats catch lost workers sooner). */
const START_TO_CLOSE_SECONDS: Record<string, number> = { job: 7 * 24 * 3600, task: 3600, restapi: 365 * 24 * 3600 };

/**
 * Validates everything it can before anything starts, then starts the run's workflow.
 * Errors: NotFoundError (plugin, action; exit 3), ConfigError, ParamsError / InvalidInputError
 * (params, params over INPUT_LIMITS, preflight, run id, a resume the shape does not take; exit 2),
 * UnavailableError (Temporal; exit 4).
 */
export async function startRun(parts: RunsParts, req: StartRunRequest, describer: ActionDescriber = describeInProcess): Promise<StartedRun> {
  const plugin = await findPlugin(req.plugin);
  assertActionExists(plugin, req.action);
  return startAction(parts, await describeWithParams(describer, plugin, req.action, req.params, req.localRoots), req);
}

/** An unknown action is a NotFoundError before its params are looked at (as the loader says it). */
function assertActionExists(plugin: Plugin, actionName: string): void {
  if (!ownValue(plugin.config.actions, actionName)) {
    throw new NotFoundError(`plugin ${plugin.config.code} has no action "${actionName}" (it has: ${Object.keys(plugin.config.actions).join(', ')})`);
  }
}

/**
 * The action described with its params parsed by its shape's parser. Size and depth first
 * (contracts/input-limits.ts): before any schema walks the value or it crosses to a plugin
 * host, and before a run row or a workflow exists (a 5 MB value left a pending row for 45 s).
 * A local caller's relative upload paths are taken from its folder; the gateway's never.
 */
function describeWithParams(
  describer: ActionDescriber,
  plugin: Plugin,
  actionName: string,
  params: unknown,
  localRoots: readonly string[] | undefined,
): Promise<ActionDescription> {
  assertParamsWithinLimits(params);
  const request: DescribeRequest = { parse: true, params, ...(localRoots === undefined ? { baseDir: process.cwd() } : {}) };
  return describer.describe(plugin, actionName, request);
}

/**
 * `synapse run resume`: a new run of an ended (cancelled, failed, terminated, timed out) run's
 * plugin, action and params, starting where its shape's `resumePoint` says (train runs: after
 * the last finished epoch). A running or completed run, or one whose shape does not resume,
 * is an InvalidInputError.
 */
export async function resumeRun(
  parts: RunsParts,
  runId: string,
  options: { runId?: string; heartbeatTimeoutSeconds?: number } = {},
  describer: ActionDescriber = describeInProcess,
): Promise<ResumedRun> {
  let status = statusOf(await describeRun(parts, runId));
  if (status === 'running' && TERMINAL_STATUSES.includes((await runState(parts, runId)).status)) {
    // Just cancelled or failed: the run says so (its query) a moment before its workflow
    // closes, while it records its status on the way out. Wait for the close, not refuse.
    await Promise.race([
      parts.temporal.workflow
        .getHandle(runId)
        .result()
        .catch(() => {}),
      sleep(10_000, undefined, { ref: false }),
    ]);
    status = statusOf(await describeRun(parts, runId));
  }
  if (status === 'running') {
    throw new InvalidInputError('cannot resume', [
      { path: 'run', message: `run ${runId} is running; cancel it first (\`synapse run cancel ${runId}\`), then resume it` },
    ]);
  }
  if (status === 'completed') {
    throw new InvalidInputError('cannot resume', [{ path: 'run', message: `run ${runId} completed: there is nothing left to resume; ${resumableWords()}` }]);
  }
  // Terminated or timed out: its workflow could not record that it ended.
  await reconcileStoreStatus(parts.store, runId, status);
  const record = await parts.store.getRun(runId);
  if (!record) throw new NotFoundError(`run ${runId} is not in the run store of ${parts.settings.dataDir}`);
  const plugin = await findRunPlugin(parts, runId, record.pluginCode, record.pluginVersion);
  // The class first (its shape, its secret fields), then the params the run had, parsed again.
  const facts = await describer.describe(plugin, record.action, { parse: false });
  const shape = runShapeFor(facts);
  if (!shape.resumePoint) throw notResumable(shape);
  const point = await shape.resumePoint({
    run: record,
    store: parts.store,
    startedFrom: async () => ((await startedRunInput(parts, runId)) as { resume?: ResumePoint } | undefined)?.resume,
  });
  const params = await resumeParams(parts, runId, facts, record.params);
  const action = await describeWithParams(describer, plugin, record.action, params, undefined);
  const started = await startAction(parts, action, {
    plugin: plugin.dir,
    action: record.action,
    params,
    resume: point,
    ...(options.runId !== undefined ? { runId: options.runId } : {}),
    ...(options.heartbeatTimeoutSeconds !== undefined ? { heartbeatTimeoutSeconds: options.heartbeatTimeoutSeconds } : {}),
  });
  return { ...started, resumedFrom: { runId, epoch: point.epoch } };
}

/**
 * The plugin an ended run ran: `code@version` from the plugins path or the releases, else the
 * folder the run was started from (`run --plugin ./folder`), as its workflow input names it.
 */
async function findRunPlugin(parts: RunsParts, runId: string, code: string, version: string): Promise<Plugin> {
  try {
    return await findPlugin(`${code}@${version}`);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    const dir = await startedPluginDir(parts, runId);
    if (!dir || !existsSync(dir)) throw err;
    const plugin = await findPlugin(dir);
    if (plugin.config.code !== code || plugin.config.version !== version) {
      throw new NotFoundError(`run ${runId} ran ${code}@${version} from ${dir}, which now holds ${plugin.config.code}@${plugin.config.version}`);
    }
    return plugin;
  }
}

/** The plugin folder in the workflow input of the run's latest execution, if any. */
async function startedPluginDir(parts: RunsParts, runId: string): Promise<string | undefined> {
  const dir = (await startedRunInput(parts, runId))?.plugin?.dir;
  return typeof dir === 'string' ? dir : undefined;
}

/**
 * What the shape's workflow gets besides the RunActionInput (its `extraInput` hook), after
 * checking that a resume point goes only to a shape that resumes.
 */
export function workflowExtras(shape: RunShape, ctx: ExtraInputContext<unknown, ResumePoint>): Record<string, unknown> {
  if (ctx.resume && !shape.resumePoint) throw notResumable(shape);
  return shape.extraInput?.(ctx) ?? {};
}

/** What resumes, for a person who asked to resume something that does not: "only cancelled, failed, ... train and tune runs resume". */
function resumableWords(): string {
  const names = resumableShapeNames();
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0];
  return list ? `only a cancelled, failed, terminated or timed-out ${list} run resumes, from its last checkpoint` : 'no run resumes from a checkpoint';
}

function notResumable(shape: RunShape): InvalidInputError {
  const names = resumableShapeNames();
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0];
  const which = list ? `only ${list} runs resume from a checkpoint` : 'no run resumes from a checkpoint';
  return new InvalidInputError('cannot resume', [{ path: 'run', message: `${which}; this is a ${shape.name} run` }]);
}

/** Starts the described action (its params parsed by its shape's parser, describeWithParams). */
async function startAction(parts: RunsParts, action: ActionDescription, req: StartRunRequest): Promise<StartedRun> {
  const { settings, store } = parts;
  const shape = runShapeFor(action);
  const edge = req.localRoots ? { localRoots: req.localRoots } : {};
  const params = shape.checkParams ? shape.checkParams(action, action.params, edge) : action.params;
  // Model names are unique among running train and tune runs: rows of runs that ended
  // without recording it (terminated, timed out) must not hold a name.
  if (action.plugin.config.category === 'neural_net') await reconcileRunningRuns(parts, { category: 'neural_net' });
  await shape.preflight?.({ action, params, settings, store });
  if (req.runId !== undefined && !RUN_ID_PATTERN.test(req.runId)) {
    throw new InvalidInputError('invalid run id', [{ path: 'job-id', message: 'use 1-200 letters, digits, ".", "_" or "-", starting with a letter or digit' }]);
  }
  const extras = workflowExtras(shape, { action, params, settings, ...(req.resume ? { resume: req.resume } : {}) });
  const { plugin } = action;
  const { code, version, category } = plugin.config;
  const runId = req.runId ?? newRunId(code, req.action);
  const input: RunActionInput = {
    plugin: { code, version, dir: plugin.dir },
    action: req.action,
    category,
    method: action.method,
    params,
    progressCategories: action.progressCategories,
    heartbeatTimeoutSeconds: req.heartbeatTimeoutSeconds ?? action.config.heartbeat_timeout ?? 30,
    startToCloseSeconds: START_TO_CLOSE_SECONDS[action.method] ?? 3600,
  };
  const now = new Date().toISOString();
  await store.createRun({
    id: runId,
    pluginCode: code,
    pluginVersion: version,
    action: req.action,
    category,
    method: action.method,
    status: 'pending',
    // Secret fields as "[secret]" (client/run-secrets.ts); the workflow input has the values, encrypted.
    params: storedParams(action, params, settings),
    createdAt: now,
    updatedAt: now,
  });
  try {
    await parts.temporal.workflow.start(shape.workflow, {
      workflowId: runId,
      // A run id names one run forever: its events and checkpoints are keyed by it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // The plugin's resource class (config.yaml `resource_class`, an action's own first): only its workers take the run.
      taskQueue: taskQueueFor(settings, action.method, action.config.resource_class ?? plugin.config.resource_class),
      args: [{ ...input, ...extras }],
      typedSearchAttributes: [
        { key: SA_PLUGIN_CODE, value: code },
        { key: SA_PLUGIN_VERSION, value: version },
        { key: SA_ACTION, value: req.action },
        { key: SA_CATEGORY, value: category },
        { key: SA_METHOD, value: action.method },
      ],
      memo: { progressCategories: action.progressCategories },
      staticSummary: `${code}@${version} · ${req.action}`,
      staticDetails: `Plugin **${plugin.config.name}** (${category}), action \`${req.action}\` run as a ${action.method}.`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new InvalidInputError('cannot start the run', [{ path: 'job-id', message: `run id "${runId}" is already in use` }]);
    }
    // No workflow, so no run: the `pending` row would stay in every list for ever. Not after a
    // deadline, though: the server may have started the workflow before the answer was lost.
    if (!/DEADLINE_EXCEEDED/i.test(errorChainMessage(err))) await store.deletePendingRun(runId).catch(() => false);
    throw wrapTemporalError(settings, err);
  }
  const uiUrl = runUiUrl(settings, runId);
  return { runId, plugin: { code, version }, action: req.action, ...(uiUrl ? { uiUrl } : {}) };
}

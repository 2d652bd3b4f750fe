/**
 * Describing actions in plugin hosts, for processes that must never import plugin code: the
 * gateway (it holds the token database and the platform database; a hostile module's top
 * level, `process.exit`, a busy loop, prototype pollution, would run in it on a
 * `POST /v1/runs` or a `GET /openapi.json`). The host loads the action with the engine's own
 * checks, picks the run shape its class runs as, parses the params with that shape's parser,
 * and answers the run facts (engine/run-params.ts); the client's run shapes work from them.
 * Without params (`class`) it also answers the params' JSON Schema, what `GET /v1/plugins/{code}`
 * shows (engine/plugin-describe.ts), cached with the rest of the class's answer.
 *
 * Python actions are described in this process (their loader reads config.yaml and checks a
 * file, it imports no plugin code), as the worker does.
 *
 * A host that fails while describing (exits, crashes, passes a limit, takes longer than
 * SYNAPSE_PLUGIN_DESCRIBE_SECONDS, 30 by default) is a ConfigError naming the plugin, the
 * action and what the host did: the caller's process stays as it was.
 */
import { ConfigError, InvalidInputError, NotFoundError, SynapseError, UnavailableError } from '../contracts/errors.js';
import { ownValue } from '../contracts/input-limits.js';
import { describeInProcess, type ActionDescriber, type ActionDescription, type DescribeRequest } from '../engine/run-params.js';
import type { Plugin } from '../engine/plugin-loader.js';
import type { Method } from '../sdk/categories.js';
import { pluginBundle, type PluginBundle } from './plugin-host-bundle.js';
import { pluginHostEnv } from './plugin-host-env.js';
import { errorFromHost } from './plugin-host-errors.js';
import { PLUGIN_HOST_BUNDLE_DIR } from './plugin-host-step.js';
import { acquirePluginHost, PluginHostError, releasePluginHost, type HostSink } from './plugin-host.js';
import type { HostDescription } from './plugin-host-protocol.js';

/** What a host prints or reports while it describes goes nowhere (no run to log it to). */
const DROP: HostSink = {
  logMessage: () => {},
  log: () => {},
  setProgress: () => {},
  setMetrics: () => {},
  checkpoint: () => Promise.reject(new Error('no checkpoint while an action is described')),
};

/** How long one describe may take in its host, ms (SYNAPSE_PLUGIN_DESCRIBE_SECONDS, default 30). */
function describeTimeoutMs(): number {
  const seconds = Number(process.env.SYNAPSE_PLUGIN_DESCRIBE_SECONDS);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 30) * 1000;
}

/**
 * Descriptions without params (`parse: false`: served schemas, the shape of a resumed run),
 * per plugin bundle key (code@version and a hash of its folder's files) and action: an edited
 * plugin gets a new key. Bounded: the oldest goes first.
 */
const classDescriptions = new Map<string, HostDescription>();
const MAX_CACHED = 500;

/**
 * Describes without params that failed (the module throws or exits while it loads, a limit),
 * by the same key, until `until`: a broken plugin's `GET /v1/plugins/{code}` or
 * `/openapi.json` starts at most one host per plugin version and action a minute, not one per
 * request. For a while only: the failure may have been the machine's (out of memory, no
 * process slots), not the plugin's; an edited plugin gets a new key at once.
 */
const classFailures = new Map<string, { error: unknown; until: number }>();
/** How long a failed describe without params is answered from memory, ms. */
export const DESCRIBE_FAILURE_TTL_MS = 60_000;

/** The error a failed host call is, for a client: bad input naming the plugin, never a crash of the caller. */
function describeError(plugin: Plugin, actionName: string, err: unknown): Error {
  const subject = `plugin ${plugin.config.code}: action ${actionName} does not load`;
  if (err instanceof InvalidInputError || err instanceof NotFoundError || err instanceof UnavailableError) return err;
  if (err instanceof PluginHostError) return new ConfigError(subject, [{ path: 'plugin', message: `its plugin host failed while loading it: ${err.message}` }]);
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new ConfigError(subject, [
      { path: 'plugin', message: `its plugin host took longer than ${describeTimeoutMs() / 1000} s to load it (SYNAPSE_PLUGIN_DESCRIBE_SECONDS): killed` },
    ]);
  }
  if (err instanceof SynapseError || err instanceof Error) return new ConfigError(subject, [{ path: 'plugin', message: err.message }]);
  return new ConfigError(subject, [{ path: 'plugin', message: String(err) }]);
}

/** A host failure in a host that served an earlier call (not one started for this call). */
class WarmHostFailure extends Error {
  constructor(readonly error: PluginHostError) {
    super(error.message);
  }
}

/** One describe call in a host of the bundle (a warm one when there is one). */
async function describeOnce(plugin: Plugin, bundle: PluginBundle, actionName: string, request: DescribeRequest): Promise<HostDescription> {
  let started = false;
  const host = await acquirePluginHost(bundle, pluginHostEnv(plugin), errorFromHost, () => (started = true));
  let healthy = false;
  try {
    const description = await host.call<HostDescription>(
      {
        type: 'describe',
        action: actionName,
        params: request.parse ? request.params : null,
        parser: request.parse ? 'shape' : 'class',
        ...(request.baseDir !== undefined ? { baseDir: request.baseDir } : {}),
      },
      { sink: DROP, signal: AbortSignal.timeout(describeTimeoutMs()) },
    );
    healthy = true;
    return description;
  } catch (err) {
    // A refused action or params leave a healthy host; a crash or a timeout does not.
    healthy = !(err instanceof PluginHostError) && !(err instanceof Error && err.name === 'TimeoutError');
    if (err instanceof PluginHostError && !started) throw new WarmHostFailure(err);
    throw err;
  } finally {
    releasePluginHost(host, healthy && host.alive && !host.retired);
  }
}

/**
 * Describes `actionName` of `plugin` in a plugin host (see the file header). Throws
 * NotFoundError (no such action), ConfigError (it does not load, or its host failed: the
 * message says how) and, with `request.parse`, ParamsError naming every field.
 */
export async function describeInPluginHost(plugin: Plugin, actionName: string, request: DescribeRequest): Promise<ActionDescription> {
  const config = ownValue(plugin.config.actions, actionName);
  if (!config) {
    throw new NotFoundError(`plugin ${plugin.config.code} has no action "${actionName}" (it has: ${Object.keys(plugin.config.actions).join(', ')})`);
  }
  if ((config.runtime ?? plugin.config.runtime) === 'python') return describeInProcess.describe(plugin, actionName, request);
  let description: HostDescription;
  try {
    const bundle = await pluginBundle(plugin, PLUGIN_HOST_BUNDLE_DIR);
    const cacheKey = `${bundle.key}\0${actionName}`;
    const cached = request.parse ? undefined : classDescriptions.get(cacheKey);
    const failed = request.parse ? undefined : classFailures.get(cacheKey);
    if (failed && failed.until > Date.now()) throw failed.error;
    if (cached) description = cached;
    else {
      // A warm host may be on its way out (a plugin that pollutes prototypes retires its host
      // right after answering): a failure there is retried once, in another host.
      try {
        description = await describeOnce(plugin, bundle, actionName, request);
      } catch (err) {
        if (!(err instanceof WarmHostFailure)) throw rememberFailure(request.parse ? undefined : cacheKey, err);
        description = await describeOnce(plugin, bundle, actionName, request).catch((again: unknown) => {
          throw rememberFailure(request.parse ? undefined : cacheKey, again instanceof WarmHostFailure ? again.error : again);
        });
      }
      classFailures.delete(cacheKey);
      if (!request.parse) {
        if (classDescriptions.size >= MAX_CACHED) classDescriptions.delete(classDescriptions.keys().next().value as string);
        classDescriptions.set(cacheKey, description);
      }
    }
  } catch (err) {
    throw describeError(plugin, actionName, err);
  }
  const run = description.run;
  if (!run) throw describeError(plugin, actionName, new Error('its plugin host answered without the run facts'));
  return {
    plugin,
    name: actionName,
    config,
    method: description.method as Method,
    progressCategories: description.progressCategories,
    className: description.className,
    kind: description.kind,
    shape: run.shape,
    secretFields: run.secretFields,
    ...(run.serve ? { serve: run.serve } : {}),
    ...(request.parse ? { params: run.params, redactedParams: run.redactedParams } : {}),
    ...(run.paramsSchema ? { paramsSchema: run.paramsSchema } : {}),
    ...(run.paramsSchemaError !== undefined ? { paramsSchemaError: run.paramsSchemaError } : {}),
  };
}

/**
 * Keeps a describe-without-params failure for DESCRIBE_FAILURE_TTL_MS (key undefined: a describe
 * with params, whose failure may be the params'), and returns it to be thrown.
 */
function rememberFailure(key: string | undefined, error: unknown): unknown {
  if (key !== undefined) {
    if (classFailures.size >= MAX_CACHED) classFailures.delete(classFailures.keys().next().value as string);
    classFailures.set(key, { error, until: Date.now() + DESCRIBE_FAILURE_TTL_MS });
  }
  return error;
}

/** The gateway's describer: every TypeScript action in a plugin host. */
export const describeInPluginHosts: ActionDescriber = { describe: describeInPluginHost };

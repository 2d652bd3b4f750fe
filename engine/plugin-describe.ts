/**
 * What a plugin offers, in one answer: `synapse plugin describe <code[@version]>` and
 * `GET /v1/plugins/{code}` show the same. A person choosing params should not have to read
 * the plugin's TypeScript: each action's method, params as JSON Schema (as a caller sends
 * them: defaults optional) and progress categories; the plugin's environment (runtime,
 * package manager, data type, tasks, the env variables it reads, its resource class); where it was found (a folder, or a published release
 * extracted into the data dir's cache); and every published release of its code.
 *
 * Where the classes load is the caller's choice: the CLI imports them in its own process (the
 * developer's own code); the gateway passes a describer that loads each in a plugin host
 * (activities/plugin-host-describe.ts), so that no plugin module ever runs in it, and an
 * action whose host fails is listed with why (`error`) and without its schema.
 */
import { InvalidInputError, formatProblem } from '../contracts/errors.js';
import type { Db } from '../platform/repositories/common.js';
import { compareVersions } from '../platform/repositories/summaries.js';
import { listPluginReleases } from '../platform/repositories/models.js';
import type { Category, Method, Runtime } from '../sdk/categories.js';
import { findPlugin, loadAction, type Plugin } from './plugin-loader.js';
import { releaseCacheDir } from './plugin-releases.js';
import { paramsJsonSchema, type ActionDescriber } from './run-params.js';

export { paramsJsonSchema };

export interface ActionDescription {
  method: Method;
  description?: string;
  runtime: Runtime;
  /** Seconds without a heartbeat before a job step is retried elsewhere, when config.yaml sets it. */
  heartbeatTimeout?: number;
  /** JSON Schema of the params; `{}` when the action cannot be loaded. */
  paramsSchema: Record<string, unknown>;
  progressCategories: Record<string, { weight: number; label?: string }>;
  /** Why the action cannot be loaded (its first line), when it cannot. */
  error?: string;
}

export interface PluginDescription {
  code: string;
  name: string;
  version: string;
  category: Category;
  description?: string;
  /** `folder`: a plugin folder (built in, SYNAPSE_PLUGIN_PATH, or a path); `release`: a published release. */
  source: 'folder' | 'release';
  environment: {
    runtime: Runtime;
    packageManager?: string;
    packageManagerOptions?: string[];
    dataType?: string;
    tasks?: string[];
    /** The environment variables its code may read (config.yaml `envs`; their values come from the worker). */
    envs?: string[];
    /** The workers its runs go to (config.yaml `resource_class`, default cpu). */
    resourceClass?: string;
  };
  actions: Record<string, ActionDescription>;
  /** Published releases of this code, newest version first (empty without a platform database). */
  releases: { version: string; checksum: string; createdAt: string }[];
}

/** Options of a plugin's description. */
export interface DescribeOptions {
  /** Lists the plugin's published releases. */
  db?: Db;
  /** Tells a release's cache folder from a plugin folder. */
  dataDir?: string;
  /**
   * Loads each action's class and writes its params' JSON Schema (a `parse: false` describe's
   * `paramsSchema`). Absent: this process loads them (engine/plugin-loader.ts loadAction).
   */
  describer?: ActionDescriber;
}

/** An action's params schema and progress categories, from its class wherever it loads; throws why it cannot load. */
async function classFacts(
  plugin: Plugin,
  name: string,
  describer: ActionDescriber | undefined,
): Promise<Pick<ActionDescription, 'paramsSchema' | 'progressCategories'>> {
  if (!describer) {
    const resolved = await loadAction(plugin, name);
    return { paramsSchema: paramsJsonSchema(resolved.cls.params), progressCategories: resolved.progressCategories };
  }
  const described = await describer.describe(plugin, name, { parse: false });
  if (!described.paramsSchema)
    throw new Error(described.paramsSchemaError ?? `plugin ${plugin.config.code}: action ${name}: its describer wrote no params schema`);
  return { paramsSchema: described.paramsSchema, progressCategories: described.progressCategories };
}

/**
 * Why an action cannot load, in one line: an engine error's first line, as the CLI always
 * showed; an InvalidInputError's subject with its problems (a plugin host's crash is a problem
 * of a describer's ConfigError: "... does not load: plugin: its plugin host failed ...").
 */
function reasonOf(err: unknown): string {
  if (err instanceof InvalidInputError && err.problems.length > 0) return `${err.subject}: ${err.problems.map(formatProblem).join('; ')}`.split('\n')[0] ?? '';
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

/** Describes a loaded plugin (see DescribeOptions). NotFoundError / ConfigError only from listing releases; a broken action is listed with its `error`. */
export async function describeLoadedPlugin(plugin: Plugin, opts: DescribeOptions = {}): Promise<PluginDescription> {
  const { config } = plugin;
  const actions: Record<string, ActionDescription> = {};
  for (const [name, action] of Object.entries(config.actions)) {
    const base = {
      method: action.method,
      ...(action.description ? { description: action.description } : {}),
      runtime: action.runtime ?? config.runtime,
      ...(action.heartbeat_timeout !== undefined ? { heartbeatTimeout: action.heartbeat_timeout } : {}),
    };
    try {
      actions[name] = { ...base, ...(await classFacts(plugin, name, opts.describer)) };
    } catch (err) {
      // A broken action is still listed, with why it cannot run.
      actions[name] = { ...base, paramsSchema: {}, progressCategories: {}, error: reasonOf(err) };
    }
  }
  const releases = opts.db ? await listPluginReleases(opts.db, config.code) : [];
  const fromRelease = opts.dataDir !== undefined && plugin.dir === releaseCacheDir(opts.dataDir, config.code, config.version);
  return {
    code: config.code,
    name: config.name,
    version: config.version,
    category: config.category,
    ...(config.description ? { description: config.description } : {}),
    source: fromRelease ? 'release' : 'folder',
    environment: {
      runtime: config.runtime,
      ...(config.package_manager ? { packageManager: config.package_manager } : {}),
      ...(config.package_manager_options?.length ? { packageManagerOptions: config.package_manager_options } : {}),
      ...(config.data_type ? { dataType: config.data_type } : {}),
      ...(config.tasks?.length ? { tasks: config.tasks } : {}),
      ...(config.envs?.length ? { envs: config.envs } : {}),
      ...(config.resource_class ? { resourceClass: config.resource_class } : {}),
    },
    actions,
    releases: releases.sort((a, b) => compareVersions(b.version, a.version)).map((r) => ({ version: r.version, checksum: r.checksum, createdAt: r.createdAt })),
  };
}

/**
 * Finds `ref` (code, code@version or a folder; a published release when the process enabled
 * them with `useReleases`) and describes it. NotFoundError (exit 3, HTTP 404) for an unknown
 * plugin; a config.yaml that does not parse is a ConfigError (exit 2, HTTP 400).
 */
export async function describePlugin(ref: string, opts: DescribeOptions = {}): Promise<PluginDescription> {
  return describeLoadedPlugin(await findPlugin(ref), opts);
}

/**
 * What a plugin offers, in one answer: `synapse plugin describe <code[@version]>` and
 * `GET /v1/plugins/{code}` show the same. A person choosing params should not have to read
 * the plugin's TypeScript: each action's method, params as JSON Schema (as a caller sends
 * them: defaults optional) and progress categories; the plugin's environment (runtime,
 * package manager, data type, tasks, the env variables it reads, its resource class); where it was found (a folder, or a published release
 * extracted into the data dir's cache); and every published release of its code.
 */
import { z } from 'zod';
import type { Db } from '../platform/repositories/common.js';
import { compareVersions } from '../platform/repositories/summaries.js';
import { listPluginReleases } from '../platform/repositories/models.js';
import type { Category, Method, Runtime } from '../sdk/categories.js';
import { findPlugin, loadAction, type Plugin } from './plugin-loader.js';
import { releaseCacheDir } from './plugin-releases.js';

/** JSON Schema of an action's params as a caller sends them (defaults optional). */
export function paramsJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

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

/** Describes a loaded plugin; `db` lists its releases, `dataDir` tells a release's cache from a folder. */
export async function describeLoadedPlugin(plugin: Plugin, opts: { db?: Db; dataDir?: string } = {}): Promise<PluginDescription> {
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
      const resolved = await loadAction(plugin, name);
      actions[name] = { ...base, paramsSchema: paramsJsonSchema(resolved.cls.params), progressCategories: resolved.progressCategories };
    } catch (err) {
      // A broken action is still listed, with why it cannot run.
      actions[name] = { ...base, paramsSchema: {}, progressCategories: {}, error: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) };
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
export async function describePlugin(ref: string, opts: { db?: Db; dataDir?: string } = {}): Promise<PluginDescription> {
  return describeLoadedPlugin(await findPlugin(ref), opts);
}

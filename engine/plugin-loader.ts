/**
 * Finding a plugin folder, reading its config.yaml and resolving an action's entrypoint
 * to its class. TypeScript plugin code is imported directly: the `synapse` process runs
 * with a TypeScript loader (tsx) and maps `@synapse/sdk` to this SDK, so plugins need no
 * build step and share the engine's classes. Python plugin code (`runtime: python`) is not
 * imported: its action resolves to a PythonTrainer that the engine runs in a Python process,
 * with the hyperparameters schema its config.yaml declares (`actions.<name>.hyperparameters`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isActionClass, type ActionClass } from '../sdk/action.js';
import type { Method } from '../sdk/categories.js';
import { parsePluginConfig, type ActionConfig, type PluginConfig } from '../sdk/config.js';
import { zodProblems } from '../contracts/problems.js';
import { ConfigError, NotFoundError, ParamsError } from '../contracts/errors.js';
import { INPUT_LIMITS, ownValue } from '../contracts/input-limits.js';
import { hasOwnTrainParams, hyperparametersFromJsonSchema, isTrainerClass, PythonTrainer, trainParamsSchema } from '../sdk/trainer.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';
import { ensurePluginDeps } from './plugin-deps.js';
import { importPluginModule, pluginModulesAreBundled } from './plugin-import.js';
import { PythonServeAction } from './python-serve.js';
import { isPythonTaskPagesCategory, loadPythonTaskPagesClass } from './python-task-pages.js';
import { codeLoadError } from './plugin-check.js';
import { cachedPluginConfig } from './plugin-config-cache.js';

/** The folder holding the built-in plugins of this project. */
export const BUILTIN_PLUGINS_DIR = path.resolve(import.meta.dirname, '..', 'plugins');

/**
 * Reads and checks a plugin's config.yaml; ConfigError names each problem with file:line:column.
 * A file over INPUT_LIMITS.configYamlBytes is refused before it is read (ConfigError naming it).
 */
export async function readPluginConfig(file: string): Promise<PluginConfig> {
  const { size } = await stat(file);
  if (size > INPUT_LIMITS.configYamlBytes) {
    throw new ConfigError(`${file} is too large`, [
      { path: '', location: file, message: `${size} bytes, over the config.yaml size limit of ${INPUT_LIMITS.configYamlBytes} bytes` },
    ]);
  }
  return parsePluginConfig(await readFile(file, 'utf8'), file);
}

export interface Plugin {
  dir: string;
  config: PluginConfig;
}

/** An action resolved to its class, with the metadata the engine needs to run it. */
export interface ResolvedAction {
  plugin: Plugin;
  name: string;
  config: ActionConfig;
  cls: ActionClass;
  method: Method;
  progressCategories: Record<string, ProgressCategoryDef>;
}

/**
 * Finds a plugin by folder path, or by `code` / `code@version` in the search folders
 * (built-ins first, then each folder of `SYNAPSE_PLUGIN_PATH`), or else by a bare folder name
 * in the current folder (`--plugin my-plugin` right after `plugin create my-plugin`).
 * Each config.yaml is read once and then only stat'ed while it is unchanged (plugin-config-cache.ts).
 */
export async function findPlugin(ref: string, searchDirs: string[] = pluginSearchDirs()): Promise<Plugin> {
  const looksLikePath = ref.includes('/') || ref.startsWith('.') || ref.includes(path.sep);
  if (looksLikePath) {
    const dir = path.resolve(ref);
    const configFile = path.join(dir, 'config.yaml');
    if (!existsSync(configFile)) throw new NotFoundError(`no plugin at ${dir}: config.yaml not found`);
    return own({ dir, config: await cachedPluginConfig(configFile, readPluginConfig) });
  }
  const [code, version] = ref.split('@') as [string, string | undefined];
  const found: Array<{ dir: string; config: Readonly<PluginConfig> }> = [];
  for (const root of searchDirs) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root)) {
      const dir = path.join(root, entry);
      const configFile = path.join(dir, 'config.yaml');
      if (!statSync(dir).isDirectory() || !existsSync(configFile)) continue;
      let config: Readonly<PluginConfig>;
      try {
        config = await cachedPluginConfig(configFile, readPluginConfig);
      } catch (err) {
        // A broken plugin is only an error when it is the one asked for.
        if (entry === code) throw err;
        continue;
      }
      if (config.code === code) found.push({ dir, config });
    }
  }
  const match = version ? found.find((p) => p.config.version === version) : found[0];
  if (match) return own(match);
  // A published release (engine/plugin-releases.ts), when this process enabled them.
  const released = version && releaseFallback ? await releaseFallback(code, version) : undefined;
  if (released) return released;
  if (found.length > 0) {
    throw new NotFoundError(`plugin ${code} has no version ${version} (found ${found.map((p) => p.config.version).join(', ')})`);
  }
  // A bare folder name in the current folder (what `plugin create x` makes and prints `next:` for).
  const local = path.resolve(ref);
  if (!version && existsSync(path.join(local, 'config.yaml')))
    return own({ dir: local, config: await cachedPluginConfig(path.join(local, 'config.yaml'), readPluginConfig) });
  // `code` alone that no folder holds: its newest published release.
  const newest = !version && releaseFallback ? await releaseFallback(code, undefined) : undefined;
  if (newest) return newest;
  throw new NotFoundError(`unknown plugin "${code}": not a folder and not found in ${searchDirs.join(', ')}`);
}

/** The caller's own copy of a cached config (plugin-config-cache.ts): editing it changes nothing for the next lookup. */
function own(found: { dir: string; config: Readonly<PluginConfig> }): Plugin {
  return { dir: found.dir, config: structuredClone(found.config) as PluginConfig };
}

/**
 * Finds `code@version` among published releases when no search folder has it, or with no
 * version the newest release of `code`; set by `useReleases` (engine/plugin-releases.ts).
 */
let releaseFallback: ((code: string, version: string | undefined) => Promise<Plugin | undefined>) | undefined;
export function setReleaseFallback(fallback: typeof releaseFallback): void {
  releaseFallback = fallback;
}

export function pluginSearchDirs(): string[] {
  const extra = (process.env.SYNAPSE_PLUGIN_PATH ?? '').split(path.delimiter).filter(Boolean);
  return [BUILTIN_PLUGINS_DIR, ...extra.map((d) => path.resolve(d))];
}

/** Lists every plugin in the search folders (broken ones are skipped). */
export async function listPlugins(searchDirs: string[] = pluginSearchDirs()): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const root of searchDirs) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root).sort()) {
      const configFile = path.join(root, entry, 'config.yaml');
      if (!existsSync(configFile)) continue;
      try {
        plugins.push({ dir: path.join(root, entry), config: await readPluginConfig(configFile) });
      } catch {
        // listed by `synapse plugin check` instead
      }
    }
  }
  return plugins;
}

const MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/** Resolves `actionName` of `plugin` to its class and checks it against config.yaml. */
export async function loadAction(plugin: Plugin, actionName: string): Promise<ResolvedAction> {
  // Own keys only: `constructor`, `__proto__` or `toString` are unknown actions, not Object.prototype's.
  const config = ownValue(plugin.config.actions, actionName);
  if (!config) {
    throw new NotFoundError(`plugin ${plugin.config.code} has no action "${actionName}" (it has: ${Object.keys(plugin.config.actions).join(', ')})`);
  }
  const runtime = config.runtime ?? plugin.config.runtime;
  const where = `${path.join(plugin.dir, 'config.yaml')} actions.${actionName}.entrypoint`;
  const segments = config.entrypoint.split('.');
  const exportName = segments.pop() as string;
  const modulePath = path.join(plugin.dir, ...segments);
  if (!modulePath.startsWith(plugin.dir + path.sep)) {
    throw new ConfigError(where, [{ path: `actions.${actionName}.entrypoint`, message: 'points outside the plugin folder' }]);
  }
  if (runtime === 'python') return loadPythonAction(plugin, actionName, config, modulePath, exportName, where);
  const file = [...MODULE_EXTENSIONS.map((e) => modulePath + e), ...MODULE_EXTENSIONS.map((e) => path.join(modulePath, 'index' + e))].find((f) =>
    existsSync(f),
  );
  if (!file) {
    throw new ConfigError(where, [{ path: `actions.${actionName}.entrypoint`, message: `module ${path.relative(plugin.dir, modulePath)}.ts not found` }]);
  }
  // Its own npm dependencies first (plugin-deps.ts); a plugin host has them bundled in.
  if (!pluginModulesAreBundled()) await ensurePluginDeps(plugin.dir);
  // A module that does not load says where, relative to the plugin folder (plugin-check.ts).
  const mod = await importPluginModule(pathToFileURL(file).href).catch((err: unknown) => {
    throw codeLoadError(err, plugin.dir, actionName, `plugin ${plugin.config.code}: action ${actionName} does not load`);
  });
  const cls = mod[exportName];
  if (!isActionClass(cls)) {
    throw new ConfigError(where, [
      {
        path: `actions.${actionName}.entrypoint`,
        message: `${path.relative(plugin.dir, file)} has no exported Action class "${exportName}"`,
      },
    ]);
  }
  if (cls.category && cls.category !== plugin.config.category) {
    throw new ConfigError(where, [
      { path: 'category', message: `${exportName} is a ${cls.category} action but the plugin's category is ${plugin.config.category}` },
    ]);
  }
  if (config.hyperparameters) {
    throw new ConfigError(where, [
      {
        path: `actions.${actionName}.hyperparameters`,
        message:
          'only a Python trainer declares its hyperparameters in config.yaml; a TypeScript trainer declares them in code (TrainAction.withHyperparameters(schema))',
      },
    ]);
  }
  if (isTrainerClass(cls) && hasOwnTrainParams(cls)) {
    throw new ConfigError(where, [
      {
        path: `actions.${actionName}.entrypoint`,
        message: `${exportName} sets static params, which a trainer ignores: its params are the train params (name, dataset, hyperparameters, ...); declare hyperparameters with TrainAction.withHyperparameters(schema)`,
      },
    ]);
  }
  return {
    plugin,
    name: actionName,
    config,
    cls,
    method: config.method,
    progressCategories: cls.progressCategories,
  };
}

/**
 * A Python action: a neural_net trainer class in `<module>.py`, run by the Python runtime
 * in a child process. Only its file and class are checked here (without starting Python).
 */
function loadPythonAction(plugin: Plugin, actionName: string, config: ActionConfig, modulePath: string, className: string, where: string): ResolvedAction {
  const field = `actions.${actionName}`;
  if (isPythonTaskPagesCategory(plugin.config.category)) {
    // A task-page action of an annotation category (engine/python-task-pages.ts).
    const cls = loadPythonTaskPagesClass(plugin, actionName, config, modulePath, className, where);
    return { plugin, name: actionName, config, cls, method: config.method, progressCategories: cls.progressCategories };
  }
  if (plugin.config.category !== 'neural_net') {
    throw new ConfigError(where, [
      { path: `${field}.runtime`, message: 'runtime "python" runs neural_net trainers (train, test, inference); this plugin is ' + plugin.config.category },
    ]);
  }
  const file = `${modulePath}.py`;
  if (!existsSync(file)) {
    throw new ConfigError(where, [{ path: `${field}.entrypoint`, message: `module ${path.relative(plugin.dir, file)} not found` }]);
  }
  if (!new RegExp(`^class\\s+${className}\\b`, 'm').test(readFileSync(file, 'utf8'))) {
    throw new ConfigError(where, [{ path: `${field}.entrypoint`, message: `${path.relative(plugin.dir, file)} has no class ${className}` }]);
  }
  if (config.method === 'restapi') {
    // A deployment served by the Python class (engine/python-serve.ts).
    const serve = class extends PythonServeAction {};
    Object.defineProperty(serve, 'name', { value: className });
    serve.python = { pluginDir: plugin.dir, module: path.relative(plugin.dir, file), className };
    return { plugin, name: actionName, config, cls: serve as unknown as ActionClass, method: config.method, progressCategories: serve.progressCategories };
  }
  const cls = class extends PythonTrainer {};
  Object.defineProperty(cls, 'name', { value: className });
  cls.python = { pluginDir: plugin.dir, module: path.relative(plugin.dir, file), className };
  if (config.hyperparameters) {
    // Checked when config.yaml was parsed (sdk/config.ts), so this conversion does not throw.
    cls.hyperparameters = hyperparametersFromJsonSchema(config.hyperparameters);
    cls.params = trainParamsSchema(cls.hyperparameters);
  }
  return { plugin, name: actionName, config, cls: cls as unknown as ActionClass, method: config.method, progressCategories: cls.progressCategories };
}

/** Validates raw params against the action's schema; every problem is listed. */
export function parseParams(action: ResolvedAction, raw: unknown): unknown {
  const parsed = action.cls.params.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  throw new ParamsError(`invalid params for ${action.plugin.config.code} ${action.name}`, zodProblems(parsed.error));
}

/**
 * The action a run names, on a worker: from the folder the client used when it holds the
 * same code@version, else found by code@version in the search folders.
 */
export async function loadRunAction(ref: { code: string; version: string; dir?: string }, actionName: string): Promise<ResolvedAction> {
  let plugin: Plugin | undefined;
  if (ref.dir) {
    try {
      const candidate = await findPlugin(ref.dir);
      if (candidate.config.code === ref.code && candidate.config.version === ref.version) plugin = candidate;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  plugin ??= await findPlugin(`${ref.code}@${ref.version}`);
  return loadAction(plugin, actionName);
}

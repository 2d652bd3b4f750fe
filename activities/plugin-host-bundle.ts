/**
 * What a plugin host runs: one JavaScript file, bundled by the worker with esbuild, holding the
 * host's code (plugin-host-main.ts with the engine's loader and the SDK) and every TypeScript
 * action module of one plugin folder, `@synapse/sdk` resolved to this project's SDK.
 *
 * Why a bundle: the host runs under Node's permission model, which refuses child processes, and
 * transpiling TypeScript at run time (tsx, esbuild) needs one. Bundled, the host needs no loader,
 * no node_modules, and may read only two places: its bundle file and its plugin folder.
 *
 * The bundle's key is code@version plus a hash of the plugin folder's files (path, size, mtime):
 * an edited plugin in a dev folder gets a new bundle and so a new host (plugin-host.ts keys its
 * hosts by the same string).
 *
 * `import.meta` in the plugin's own modules is that module's, not the bundle's (ownImportMeta):
 * `new URL('../README.md', import.meta.url)` reads the plugin's README in a host as it does under
 * --debug, where the module is imported from its file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, transform, type PartialMessage, type Plugin as EsbuildPlugin } from 'esbuild';
import type { Plugin } from '../engine/plugin-loader.js';
import { ensurePluginDeps } from '../engine/plugin-deps.js';
import { NonRetriableError } from '../contracts/errors.js';

const HOST_MAIN = fileURLToPath(new URL('../activities/plugin-host-main.ts', import.meta.url));
const SDK_ENTRY = fileURLToPath(new URL('../sdk/index.ts', import.meta.url));
const MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
/** Folders of a plugin that never hold its code. */
const SKIPPED_DIRS = new Set(['.git', '.synapse', '__pycache__', '.venv']);
/** A plugin folder with more files than this is refused (the hash walks all of them at every step). */
const MAX_PLUGIN_FILES = 20_000;

export interface PluginBundle {
  /** `code@version#hash`: the hosts of this bundle share it. */
  key: string;
  /** The bundle file. */
  file: string;
  /** The plugin folder (absolute). */
  pluginDir: string;
}

/** The module files of the plugin's TypeScript actions, as the loader resolves their entrypoints. */
export function actionModuleFiles(plugin: Plugin): string[] {
  const dir = path.resolve(plugin.dir);
  const files = new Set<string>();
  for (const config of Object.values(plugin.config.actions)) {
    if ((config.runtime ?? plugin.config.runtime) === 'python') continue;
    const segments = config.entrypoint.split('.');
    segments.pop();
    const modulePath = path.join(dir, ...segments);
    if (!modulePath.startsWith(dir + path.sep)) continue;
    const file = [...MODULE_EXTENSIONS.map((e) => modulePath + e), ...MODULE_EXTENSIONS.map((e) => path.join(modulePath, 'index' + e))].find((f) =>
      existsSync(f),
    );
    if (file) files.add(file);
  }
  return [...files].sort();
}

/**
 * A hash of the plugin folder's files: relative path, size and modification time of each.
 * Throws NonRetriableError for a folder with a symbolic link or too many files.
 */
export function pluginFolderHash(dir: string): string {
  const hash = createHash('sha256');
  let count = 0;
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(folder, entry.name);
      if (entry.isSymbolicLink()) {
        // Node's permission model follows links: one in the folder the host may read would lead out of it.
        throw new NonRetriableError(`plugin folder ${dir} holds a symbolic link (${path.relative(dir, full)}): plugin hosts refuse them`);
      }
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(full);
      } else if (entry.isFile()) {
        if (++count > MAX_PLUGIN_FILES) throw new NonRetriableError(`plugin folder ${dir} holds more than ${MAX_PLUGIN_FILES} files`);
        const s = statSync(full);
        hash.update(`${path.relative(dir, full)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}

/** `@synapse/sdk` in plugin code is this project's SDK, bundled once with the host's engine code. */
const sdkAlias: EsbuildPlugin = {
  name: 'synapse-sdk-alias',
  setup(b) {
    b.onResolve({ filter: /^@synapse\/sdk$/ }, () => ({ path: SDK_ENTRY }));
  },
};

const META_LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { '.ts': 'ts', '.mts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.jsx': 'jsx' };

/**
 * Each module of the plugin folder keeps its own `import.meta`: bundled, `import.meta.url` would
 * be the bundle file's URL (in the hosts' temp folder, which plugin code may not read), so a
 * plugin reading `new URL('../labels.json', import.meta.url)` was refused in a host and worked
 * under --debug. A module that spells `import.meta` is compiled first on its own (esbuild's
 * `transform`, with the plugin folder's tsconfig.json) with `import.meta` defined as
 * `__sy_meta`: a replacement in the syntax tree, so the text `import.meta` in a string or a
 * comment stays as it is. `__sy_meta` is declared at the start of the module's first line (a
 * shebang line stays first) with the module's original `url`, `filename`, `dirname` and a
 * `resolve` for relative specifiers: no line is added, and the transform's inline source map,
 * which the bundle's own map composes, still names the plugin's file:line (a column on the
 * first line is off by the declaration's length).
 */
function ownImportMeta(pluginDir: string): EsbuildPlugin {
  const tsconfigFile = path.join(pluginDir, 'tsconfig.json');
  return {
    name: 'synapse-own-import-meta',
    setup(b) {
      b.onLoad({ filter: /\.(m?[jt]s|[jt]sx)$/ }, async (args) => {
        const loader = META_LOADERS[path.extname(args.path)];
        if (!loader || !args.path.startsWith(pluginDir + path.sep) || args.path.split(path.sep).includes('node_modules')) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta')) return undefined;
        const url = pathToFileURL(args.path).href;
        const meta = [
          `url: ${JSON.stringify(url)}`,
          `filename: ${JSON.stringify(args.path)}`,
          `dirname: ${JSON.stringify(path.dirname(args.path))}`,
          // Relative and absolute specifiers only: the host has no module resolution of its own.
          `resolve: (s) => { if (!/^(\\.{1,2}\\/|\\/|file:)/.test(s)) throw new Error('import.meta.resolve(' + JSON.stringify(s) + '): a plugin host resolves only relative specifiers'); return new URL(s, ${JSON.stringify(url)}).href; }`,
        ].join(', ');
        const at = source.startsWith('#!') ? source.indexOf('\n') + 1 : 0;
        const tsconfigRaw = existsSync(tsconfigFile) ? await readFile(tsconfigFile, 'utf8') : undefined;
        try {
          const { code } = await transform(`${source.slice(0, at)}var __sy_meta = { ${meta} }; ${source.slice(at)}`, {
            loader,
            format: 'esm',
            target: 'node20',
            define: { 'import.meta': '__sy_meta' },
            sourcemap: 'inline',
            sourcefile: args.path,
            ...(tsconfigRaw !== undefined ? { tsconfigRaw } : {}),
          });
          return { contents: code, loader: 'js' };
        } catch (err) {
          // A syntax error: esbuild's own messages, file:line:column, as the bundle would give them.
          const errors = (err as { errors?: PartialMessage[] }).errors;
          if (errors) return { errors };
          throw err;
        }
      });
    },
  };
}

const bundles = new Map<string, Promise<PluginBundle>>();
/** The files this process wrote, removed when it exits (their names carry its pid). */
const written = new Set<string>();
process.once('exit', () => {
  for (const file of written) rmSync(file, { force: true });
});

/**
 * The bundle of `plugin`'s current code, built in `outDir` once per key and worker process
 * (removed when the process exits). A plugin whose code does not build fails with NonRetriableError
 * naming esbuild's first errors (file:line:column).
 */
export function pluginBundle(plugin: Plugin, outDir: string): Promise<PluginBundle> {
  const pluginDir = path.resolve(plugin.dir);
  const key = `${plugin.config.code}@${plugin.config.version}#${pluginFolderHash(pluginDir)}`;
  let pending = bundles.get(key);
  if (!pending) {
    pending = buildBundle(plugin, pluginDir, key, outDir);
    pending.catch(() => bundles.delete(key));
    bundles.set(key, pending);
  }
  return pending;
}

async function buildBundle(plugin: Plugin, pluginDir: string, key: string, outDir: string): Promise<PluginBundle> {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${key.replace(/[^\w.-]/g, '_')}-${process.pid}.mjs`);
  written.add(file);
  const modules = actionModuleFiles(plugin);
  const entry = [
    `import { runPluginHost } from ${JSON.stringify(HOST_MAIN)};`,
    `runPluginHost(${JSON.stringify(pluginDir)}, {`,
    ...modules.map((m) => `  ${JSON.stringify(pathToFileURL(m).href)}: () => import(${JSON.stringify(m)}),`),
    '});',
  ].join('\n');
  // The plugin's own npm dependencies (engine/plugin-deps.ts) are bundled in from their install.
  const nodeModules = await ensurePluginDeps(pluginDir);
  try {
    await build({
      stdin: { contents: entry, resolveDir: pluginDir, sourcefile: 'plugin-host-entry.mjs', loader: 'js' },
      nodePaths: nodeModules ? [nodeModules] : [],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: file,
      // Stacks name the plugin's own files and lines (the host runs with --enable-source-maps),
      // so a bug in plugin code is reported at plugin/x.ts:12:7 (failures.ts), not in the bundle.
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [sdkAlias, ownImportMeta(pluginDir)],
      // CommonJS dependencies that require Node's modules need a `require` in an ES module.
      banner: { js: "import { createRequire as __synapseRequire } from 'node:module'; const require = __synapseRequire(import.meta.url);" },
    });
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const first = errors
      .slice(0, 5)
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
      .join('; ');
    throw new NonRetriableError(`plugin ${plugin.config.code}@${plugin.config.version} does not build: ${first || String(err)}`);
  }
  return { key, file, pluginDir };
}

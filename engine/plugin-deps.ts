/**
 * A TypeScript plugin's own npm dependencies, installed in isolation as a Python plugin's
 * requirements get a venv: a plugin folder whose `package.json` declares `dependencies` ships
 * its `package-lock.json`, and the first load runs `npm ci --omit=dev --ignore-scripts` into
 * `<deps root>/<key>/`, where the key is the lockfile's sha256 and Node's major version. Every
 * plugin (and every version) with the same lockfile shares that install; a changed lockfile is
 * a new key; nothing is written into the plugin folder and nothing leaks into the worker's own
 * `node_modules`.
 *
 * How plugin code finds them: in a plugin host the bundle is built with the install's
 * `node_modules` as esbuild's `nodePaths` (activities/plugin-host-bundle.ts); where a process
 * imports plugin code directly (the CLI's --debug, params checks), the module resolve hook
 * (bin/sdk-alias-hooks.mjs) retries a bare import that its plugin folder cannot resolve from
 * the same install, found by the same key (`pluginDepsKey`, computed the same way there).
 *
 * The root is `SYNAPSE_PLUGIN_DEPS_DIR`, else `~/.cache/synapse/plugin-npm`: per user, not per
 * data dir, because the resolve hook runs before any data dir is known.
 *
 * Errors (ConfigError, exit 2, naming the file): dependencies without a lockfile; a lockfile
 * npm ci refuses (its last lines of output). Lifecycle scripts never run (--ignore-scripts).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../contracts/errors.js';

const execFileAsync = promisify(execFile);

/** Written last into a finished install: a folder without it is a crashed one, made again. */
const DONE_MARKER = '.synapse-installed';
/** What is not copied beside the lockfile into the install folder (`file:` dependencies are). */
const NOT_COPIED = new Set(['node_modules', '.git', '.synapse', '.venv', '__pycache__']);

/** Where installs live (see the file header). */
export function pluginDepsRoot(): string {
  return path.resolve(process.env.SYNAPSE_PLUGIN_DEPS_DIR || path.join(os.homedir(), '.cache', 'synapse', 'plugin-npm'));
}

/** The install key of a lockfile's bytes: sha256 of them and Node's major version, 24 hex digits. Same as bin/sdk-alias-hooks.mjs. */
export function pluginDepsKey(lockfile: Buffer): string {
  return createHash('sha256')
    .update(lockfile)
    .update(`\0node${process.versions.node.split('.')[0]}`)
    .digest('hex')
    .slice(0, 24);
}

/** The plugin's declared dependencies, or none; a package.json that does not parse is a ConfigError naming it. */
function declaredDependencies(pluginDir: string): Record<string, string> | undefined {
  const file = path.join(pluginDir, 'package.json');
  if (!existsSync(file)) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const deps = (pkg as { dependencies?: unknown } | null)?.dependencies;
  if (deps === undefined) return undefined;
  if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) throw new ConfigError(file, [{ path: 'dependencies', message: 'must be an object' }]);
  return Object.keys(deps).length > 0 ? (deps as Record<string, string>) : undefined;
}

const installing = new Map<string, Promise<string>>();

/**
 * Makes sure the plugin's dependencies are installed, and returns the install's `node_modules`
 * folder; undefined when the plugin declares none. Concurrent calls share one install; a
 * finished install is reused at once (one stat).
 */
export async function ensurePluginDeps(pluginDir: string): Promise<string | undefined> {
  if (!declaredDependencies(pluginDir)) return undefined;
  const lockFile = path.join(pluginDir, 'package-lock.json');
  if (!existsSync(lockFile)) {
    throw new ConfigError(path.join(pluginDir, 'package.json'), [
      { path: 'dependencies', message: 'a plugin with dependencies ships its package-lock.json (run `npm install` in the plugin folder)' },
    ]);
  }
  const key = pluginDepsKey(readFileSync(lockFile));
  const dir = path.join(pluginDepsRoot(), key);
  if (existsSync(path.join(dir, DONE_MARKER))) return path.join(dir, 'node_modules');
  let pending = installing.get(dir);
  if (!pending) {
    pending = install(pluginDir, dir, lockFile).finally(() => installing.delete(dir));
    installing.set(dir, pending);
  }
  return pending;
}

async function install(pluginDir: string, dir: string, lockFile: string): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(path.dirname(dir), { recursive: true });
  try {
    // The folder as it is (package.json, the lockfile and any `file:` dependency it names), without installs.
    await cp(pluginDir, tmp, { recursive: true, filter: (src) => !NOT_COPIED.has(path.basename(src)) || src === pluginDir });
    try {
      await execFileAsync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: tmp,
        timeout: 10 * 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const tail = (e.stderr || e.message).trim().split('\n').slice(-6).join('\n');
      throw new ConfigError(lockFile, [{ path: '', message: `npm ci failed:\n${tail}` }]);
    }
    await writeFile(path.join(tmp, DONE_MARKER), new Date().toISOString());
    await rm(dir, { recursive: true, force: true }); // a crashed install (no marker) of the same key
    await rename(tmp, dir).catch(async (err: unknown) => {
      // Another process finished the same install first: use theirs.
      if (!existsSync(path.join(dir, DONE_MARKER))) throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return path.join(dir, 'node_modules');
}

/**
 * tsc `paths` for a plugin's declared dependencies in their install: each name mapped to its
 * declaration file (package.json `types` or `typings`, else `index.d.ts`, else `@types/<name>`),
 * since tsc resolves bare imports from the importing file's folders, which do not hold them. A
 * dependency with no declarations is left out (tsc then names it, as for any untyped package).
 */
export function dependencyTypePaths(pluginDir: string, nodeModules: string): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const name of Object.keys(declaredDependencies(pluginDir) ?? {})) {
    const dir = path.join(nodeModules, name);
    let declared: string | undefined;
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { types?: unknown; typings?: unknown };
      declared = typeof pkg.types === 'string' ? pkg.types : typeof pkg.typings === 'string' ? pkg.typings : undefined;
    } catch {
      // no readable package.json: try the defaults below
    }
    const typesPackage = path.join(nodeModules, '@types', name.startsWith('@') ? name.slice(1).replace('/', '__') : name, 'index.d.ts');
    const file = [declared && path.join(dir, declared), path.join(dir, 'index.d.ts'), typesPackage].find((f): f is string => !!f && existsSync(f));
    if (file) paths[name] = [file];
  }
  return paths;
}

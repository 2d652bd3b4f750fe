/**
 * What `plugin check` (and loading an action anywhere) tells a person about a plugin folder
 * that is not right: a folder that does not exist (exit 3, named), a file given for a folder or
 * a folder without config.yaml (exit 2, named), and plugin code that does not load (a syntax
 * error, a throw at import, a missing module) as a ConfigError with its file:line relative to
 * the plugin folder (exit 2, and not retried by a worker) instead of a raw stack.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, InvalidInputError, NotFoundError, SynapseError } from '../contracts/errors.js';
import { pluginLocation } from './plugin-code-location.js';

/**
 * The absolute folder of a plugin to check. Errors: NotFoundError (exit 3) when `dir` does
 * not exist; InvalidInputError (exit 2) when it is a file or has no config.yaml.
 */
export async function assertPluginFolder(dir: string): Promise<string> {
  const resolved = path.resolve(dir);
  const info = await stat(resolved).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new NotFoundError(`plugin folder ${dir} does not exist`);
    throw err;
  });
  if (!info.isDirectory()) {
    throw new InvalidInputError(`${dir} is not a plugin folder`, [{ path: '', location: dir, message: 'a file: give the folder that holds config.yaml' }]);
  }
  const config = path.join(resolved, 'config.yaml');
  const configInfo = await stat(config).catch(() => undefined);
  if (!configInfo?.isFile()) {
    throw new InvalidInputError(`${dir} is not a plugin folder`, [
      { path: '', location: path.join(dir, 'config.yaml'), message: 'missing: a plugin folder holds a config.yaml (`synapse plugin create` makes one)' },
    ]);
  }
  return resolved;
}

/** The advice for plugin code that Node reads as CommonJS (a folder without a package.json of "type": "module"). */
export const COMMONJS_ADVICE = 'the module is read as CommonJS: add a package.json with {"type": "module"} to the plugin folder';

/** True when `<pluginDir>/package.json` exists and says "type": "module". */
function declaresModule(pluginDir: string): boolean {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.join(pluginDir, 'package.json'), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && (pkg as { type?: unknown }).type === 'module';
  } catch {
    return false;
  }
}

/** Errors of the JavaScript language a module throws while it loads. */
const LOAD_ERROR_NAMES = new Set(['SyntaxError', 'TypeError', 'ReferenceError', 'RangeError', 'Error']);

/**
 * The error of importing an action's module, made readable: esbuild's `Transform failed`
 * (the file:line it names), a throw while the module loads (its first frame in the plugin
 * folder) and a missing module become a ConfigError for `actions.<name>.entrypoint` with the
 * location relative to `pluginDir`. Node's require() of an ES module (ERR_REQUIRE_CYCLE_MODULE,
 * ERR_REQUIRE_ESM: the folder has no package.json with "type": "module", so its .ts files are
 * read as CommonJS) becomes a ConfigError with that advice (exit 2), the same words as
 * `plugin check`, for `plugin run` too. Our own errors, other require() errors (the folder
 * declares "type": "module": the cause is elsewhere) and errors with no place in the plugin
 * are returned as they are.
 */
export function codeLoadError(err: unknown, pluginDir: string, actionName: string, subject: string): unknown {
  if (!(err instanceof Error) || err instanceof SynapseError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const root = path.resolve(pluginDir);
  const field = `actions.${actionName}.entrypoint`;
  if (typeof code === 'string' && code.startsWith('ERR_REQUIRE')) {
    if ((code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_REQUIRE_ESM') && !declaresModule(root)) {
      return new ConfigError(subject, [{ path: field, message: COMMONJS_ADVICE }]);
    }
    return err;
  }
  const relative = (file: string): string => path.relative(root, file).split(path.sep).join('/');
  // esbuild (through tsx): "Transform failed with 1 error:\n/abs/plugin/x.ts:9:6: ERROR: Expected ..."
  const transform = [...err.message.matchAll(/^(\/[^\n]+?):(\d+):(\d+): ERROR: (.+)$/gm)];
  if (transform.length > 0) {
    return new ConfigError(
      subject,
      transform.map((m) => ({ path: field, location: `${relative(m[1] as string)}:${m[2]}:${m[3]}`, message: m[4] as string })),
    );
  }
  if (code === 'ERR_MODULE_NOT_FOUND') {
    const m = /Cannot find (?:module|package) '([^']+)' imported from (\S+)/.exec(err.message);
    if (m) {
      const wanted = (m[1] as string).startsWith('/') ? relative(m[1] as string) : (m[1] as string);
      return new ConfigError(subject, [{ path: field, location: relative(m[2] as string), message: `cannot find module '${wanted}'` }]);
    }
  }
  if (!LOAD_ERROR_NAMES.has(err.name)) return err;
  const location = pluginLocation(err.stack, root);
  if (!location) return err;
  return new ConfigError(subject, [{ path: field, location, message: `${err.name} while loading: ${err.message}` }]);
}

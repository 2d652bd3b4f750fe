// Module resolve hook: `@synapse/sdk` in plugin code means this project's SDK, wherever the
// plugin folder is. Plugins then share the engine's classes (instanceof works) and need no
// install step. Which SDK module: the `sdkUrl` given at registration (bin/plugin-hooks.mjs),
// by default the sources' sdk/index.ts.
//
// A plugin's own npm dependencies (engine/plugin-deps.ts) are installed outside its folder,
// keyed by its package-lock.json: a bare import that the importing file's folders cannot
// resolve is tried again from that install, found by the same key as engine/plugin-deps.ts.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let sdkUrl = new URL('../sdk/index.ts', import.meta.url).href;

export function initialize(data) {
  if (data && typeof data.sdkUrl === 'string') sdkUrl = data.sdkUrl;
}

function depsRoot() {
  return path.resolve(process.env.SYNAPSE_PLUGIN_DEPS_DIR || path.join(os.homedir(), '.cache', 'synapse', 'plugin-npm'));
}

/** The install of the plugin folder holding `file` (nearest folder up with config.yaml and package-lock.json), if installed. */
function pluginInstall(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'config.yaml'))) {
      const lock = path.join(dir, 'package-lock.json');
      if (!existsSync(lock)) return undefined;
      const key = createHash('sha256')
        .update(readFileSync(lock))
        .update(`\0node${process.versions.node.split('.')[0]}`)
        .digest('hex')
        .slice(0, 24);
      const install = path.join(depsRoot(), key);
      return existsSync(path.join(install, '.synapse-installed')) ? install : undefined;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

const BARE = /^(?![./]|node:|file:|data:|[a-zA-Z]:)/;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@synapse/sdk') return nextResolve(sdkUrl, context);
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !BARE.test(specifier) || !context.parentURL?.startsWith('file:')) throw err;
    const install = pluginInstall(fileURLToPath(context.parentURL));
    if (!install) throw err;
    return nextResolve(specifier, { ...context, parentURL: pathToFileURL(path.join(install, 'package.json')).href });
  }
}

/**
 * Text for HTTP clients never names the server's files. Engine errors are written for the
 * person at the terminal ("unknown plugin "x": not found in /srv/synapse/plugins, ..."), and
 * the CLI shows them as they are; over HTTP the same text would tell any token holder where
 * the server keeps its plugins, data and code. Every message the gateway renders for a
 * client (problem details and their `errors`, in-band stream errors, a broken action's
 * reason) goes through `clientText`, the one place where server paths are mapped:
 *
 * - the plugin search folders (a list of them too) become "the server's plugin folders";
 * - any other absolute path whose first segment exists at the file system root (`/home/..`,
 *   `/tmp/..`, `/srv/..`), and `file://` URLs, become "a server path".
 *
 * URL paths such as `/v1/runs/x` stay: their first segment is no folder of the root.
 */
import { existsSync } from 'node:fs';
import { pluginSearchDirs } from '../engine/plugin-loader.js';

/** An absolute POSIX path, or a file:// URL, not inside a word or another path. */
const ABSOLUTE_PATH = /(?<![\w.~:/-])(?:file:\/\/)?(?:\/[\w.@+~-]+)+\/?/g;
const PLUGIN_FOLDERS = "the server's plugin folders";
const SERVER_PATH = 'a server path';

function isServerPath(token: string): boolean {
  if (token.startsWith('file://')) return true;
  const first = token.split('/')[1];
  return first !== undefined && first !== '' && existsSync(`/${first}`);
}

/** `text` with every server file path replaced by what it is (see the file header). */
export function clientText(text: string): string {
  const pluginDirs = new Set(pluginSearchDirs().map((d) => d.replace(/\/+$/, '')));
  const mapped = text.replace(ABSOLUTE_PATH, (token) => {
    if (!isServerPath(token)) return token;
    return pluginDirs.has(token.replace(/^file:\/\//, '').replace(/\/+$/, '')) ? PLUGIN_FOLDERS : SERVER_PATH;
  });
  // "in A, B" of two plugin folders reads as one place.
  return mapped.replace(/(the server's plugin folders)(, \1)+/g, '$1');
}

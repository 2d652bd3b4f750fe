/**
 * The environment a plugin host starts with. Nothing of the worker's environment reaches plugin code but the basics a process
 * needs (PATH, locale, time zone), a scratch HOME and TMPDIR of its own (so `~/.aws` or the
 * worker's home is not where it looks), and the variables the plugin declares in config.yaml
 * `envs` (sdk/config.ts refuses the worker's own configuration there), with their values on
 * this worker. A declared variable the worker does not have is left out.
 */
import os from 'node:os';
import path from 'node:path';
import type { Plugin } from '../engine/plugin-loader.js';

/** Variables every host gets from the worker, when the worker has them. */
const BASICS = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'];

/** The scrubbed environment of `plugin`'s hosts. */
export function pluginHostEnv(plugin: Plugin, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const scratch = path.join(os.tmpdir(), `synapse-plugin-${plugin.config.code.replace(/[^\w-]/g, '_')}`);
  const env: Record<string, string> = { HOME: scratch, TMPDIR: scratch, NODE_ENV: 'production' };
  for (const name of [...BASICS, ...(plugin.config.envs ?? [])]) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

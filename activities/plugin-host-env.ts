/**
 * The environment a plugin host starts with. Nothing of the worker's environment reaches plugin code but the basics a process
 * needs (PATH, locale, time zone), a scratch HOME and TMPDIR of its own (so `~/.aws` or the
 * worker's home is not where it looks), and the variables the plugin declares in config.yaml
 * `envs` (sdk/config.ts refuses the worker's own configuration there), with their values on
 * this worker. A declared variable the worker does not have is left out. Python processes of
 * a plugin (training) get the same, and what the interpreter, CUDA and BLAS libraries read.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Plugin } from '../engine/plugin-loader.js';

/** Variables every host gets from the worker, when the worker has them. */
const BASICS = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'];

/** What a Python process needs of the worker's environment besides the basics: interpreter, CUDA and BLAS settings. */
const PYTHON_BASICS = /^(PYTHON[A-Z_]*|VIRTUAL_ENV|LD_LIBRARY_PATH|CUDA_[A-Z_]*|NVIDIA_[A-Z_]*|OMP_[A-Z_]*|MKL_[A-Z_]*|OPENBLAS_[A-Z_]*)$/;

/** The scrubbed environment of `plugin`'s hosts. */
export function pluginHostEnv(plugin: Plugin, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return scrubbed(plugin, from, { NODE_ENV: 'production' }, () => false);
}

/**
 * The scrubbed environment of `plugin`'s Python processes (python-runtime.ts): the same, and
 * the interpreter's, CUDA's and the BLAS libraries' own variables of the worker.
 */
export function pythonProcessEnv(plugin: Plugin, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return scrubbed(plugin, from, {}, (name) => PYTHON_BASICS.test(name));
}

/** What pip and uv read of the worker's environment to install a plugin's requirements: their own settings, proxies, certificates. */
const INSTALLER_BASICS =
  /^(PIP_[A-Z_]*|UV_[A-Z_]*|PYTHON[A-Z_]*|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$/;

/**
 * The environment of the pip or uv run that installs a plugin's requirements
 * (python-runtime.ts). Installing runs code the plugin chose (a package's build scripts), so
 * it gets the basics, the worker's HOME (where pip's and uv's configuration and caches are),
 * and the installers' own variables: never the worker's database URL, storage keys or tokens.
 */
export function pythonInstallerEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (BASICS.includes(name) || name === 'HOME' || INSTALLER_BASICS.test(name))) env[name] = value;
  }
  return env;
}

function scrubbed(plugin: Plugin, from: NodeJS.ProcessEnv, extra: Record<string, string>, keep: (name: string) => boolean): Record<string, string> {
  const scratch = path.join(os.tmpdir(), `synapse-plugin-${plugin.config.code.replace(/[^\w-]/g, '_')}`);
  mkdirSync(scratch, { recursive: true });
  const env: Record<string, string> = { HOME: scratch, TMPDIR: scratch, ...extra };
  for (const [name, value] of Object.entries(from)) if (value !== undefined && keep(name)) env[name] = value;
  for (const name of [...BASICS, ...(plugin.config.envs ?? [])]) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** What `ctx.envs` holds: the declared variables the worker has, and nothing else. */
export function declaredEnvs(plugin: Plugin, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const envs: Record<string, string> = {};
  for (const name of plugin.config.envs ?? []) {
    const value = from[name];
    if (value !== undefined) envs[name] = value;
  }
  return envs;
}

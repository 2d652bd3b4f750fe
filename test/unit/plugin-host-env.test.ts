/**
 * The environment plugin code starts with (activities/plugin-host-env.ts, issue 18): the basics
 * and the variables config.yaml `envs` declares, never the worker's database URL, storage keys
 * or tokens; config.yaml refuses to declare the worker's own configuration.
 */
import { describe, expect, it } from 'vitest';
import { pluginHostEnv, pythonInstallerEnv, pythonProcessEnv } from '../../activities/plugin-host-env.js';
import { parsePluginConfig } from '../../sdk/config.js';
import { ConfigError } from '../../contracts/errors.js';

const WORKER_ENV = {
  PATH: '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  HOME: '/home/worker',
  DATABASE_URL: 'postgres://synapse:pw@db/synapse',
  AWS_ACCESS_KEY_ID: 'AKIA...',
  AWS_SECRET_ACCESS_KEY: 'secret',
  TEMPORAL_API_KEY: 'temporal-key',
  SYNAPSE_DATA_DIR: '/srv/synapse',
  PGPASSWORD: 'pw',
  MY_TOKEN: 'undeclared',
  MODEL_BUCKET: 'models',
  PYTHONHASHSEED: '0',
  CUDA_VISIBLE_DEVICES: '0',
  OMP_NUM_THREADS: '2',
};

const config = (envs: string) =>
  parsePluginConfig(
    `code: p\nname: P\nversion: 1.0.0\ncategory: data_validation\nenvs: ${envs}\nactions:\n  validation:\n    entrypoint: plugin.main.Check\n    method: job\n`,
    'p/config.yaml',
  );

describe('plugin host environment', () => {
  it('holds PATH, the locale, a scratch HOME and TMPDIR and the declared variables only', () => {
    const env = pluginHostEnv({ dir: '/plugins/p', config: config('[MODEL_BUCKET, NOT_SET]') }, WORKER_ENV);
    expect(Object.keys(env).sort()).toEqual(['HOME', 'LANG', 'MODEL_BUCKET', 'NODE_ENV', 'PATH', 'TMPDIR']);
    expect(env.MODEL_BUCKET).toBe('models');
    expect(env.HOME).not.toBe('/home/worker');
    expect(env.TMPDIR).toBe(env.HOME);
  });

  it("a Python process also gets the interpreter's, CUDA's and BLAS's variables, and no secret", () => {
    const env = pythonProcessEnv({ dir: '/plugins/p', config: config('[]') }, WORKER_ENV);
    expect(Object.keys(env).sort()).toEqual(['CUDA_VISIBLE_DEVICES', 'HOME', 'LANG', 'OMP_NUM_THREADS', 'PATH', 'PYTHONHASHSEED', 'TMPDIR']);
  });

  it("installing a plugin's requirements keeps pip's, uv's, proxy and certificate settings and the worker's HOME, and no secret", () => {
    const env = pythonInstallerEnv({
      ...WORKER_ENV,
      PIP_INDEX_URL: 'https://mirror/simple',
      UV_CACHE_DIR: '/c',
      HTTPS_PROXY: 'http://p:3128',
      SSL_CERT_FILE: '/ca.pem',
    });
    expect(Object.keys(env).sort()).toEqual(['HOME', 'HTTPS_PROXY', 'LANG', 'PATH', 'PIP_INDEX_URL', 'PYTHONHASHSEED', 'SSL_CERT_FILE', 'UV_CACHE_DIR']);
    expect(env.HOME).toBe('/home/worker');
  });

  it("config.yaml may not declare the worker's own configuration as envs, naming each", () => {
    let err: unknown;
    try {
      config('[DATABASE_URL, AWS_SECRET_ACCESS_KEY, SYNAPSE_DATA_DIR, PGPASSWORD, OK_NAME, "1BAD"]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(paths).toEqual([
      "envs.0: is the worker's own configuration, never given to plugin code",
      "envs.1: is the worker's own configuration, never given to plugin code",
      "envs.2: is the worker's own configuration, never given to plugin code",
      "envs.3: is the worker's own configuration, never given to plugin code",
      'envs.5: must be an environment variable name',
    ]);
  });
});

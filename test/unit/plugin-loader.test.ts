/**
 * Finding plugins (by code, code@version, folder path, SYNAPSE_PLUGIN_PATH), resolving an
 * action's entrypoint to its class, and validating params. Fixture plugins live in
 * test/fixtures/plugins/.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Action } from '../../sdk/action.js';
import { ConfigError, NotFoundError, ParamsError, type SynapseError } from '../../contracts/errors.js';
import { BUILTIN_PLUGINS_DIR, findPlugin, listPlugins, loadAction, parseParams, pluginSearchDirs } from '../../engine/plugin-loader.js';
import { isTrainerClass } from '../../sdk/trainer.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'plugins');
const SEARCH = [BUILTIN_PLUGINS_DIR, FIXTURES];

/** Awaits `promise` expecting it to reject with `type`; returns the error. */
async function rejection<E extends SynapseError>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(type);
  return caught as E;
}

function thrown<E extends SynapseError>(fn: () => unknown, type: new (...args: never[]) => E): E {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(type);
  return caught as E;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('findPlugin', () => {
  it('finds a built-in plugin by code', async () => {
    const plugin = await findPlugin('demo-validation', SEARCH);
    expect(plugin.dir).toBe(path.join(BUILTIN_PLUGINS_DIR, 'demo-validation'));
    expect(plugin.config.code).toBe('demo-validation');
    expect(plugin.config.category).toBe('data_validation');
  });

  it('finds a plugin by code in a later search folder, skipping broken plugins', async () => {
    const plugin = await findPlugin('fixture-loader', SEARCH);
    expect(plugin.dir).toBe(path.join(FIXTURES, 'loader-checks'));
    expect(plugin.config.version).toBe('0.1.0');
  });

  it('finds a plugin by code@version', async () => {
    const v2 = await findPlugin('fixture-versioned@2.0.0', SEARCH);
    expect(v2.dir).toBe(path.join(FIXTURES, 'versioned-v2'));
    expect(v2.config.version).toBe('2.0.0');
    const v1 = await findPlugin('fixture-versioned@1.0.0', SEARCH);
    expect(v1.dir).toBe(path.join(FIXTURES, 'versioned-v1'));
    expect((await findPlugin('demo-validation@1.0.0', SEARCH)).config.code).toBe('demo-validation');
  });

  it('by code alone, takes the first match in folder-name order', async () => {
    const plugin = await findPlugin('fixture-versioned', SEARCH);
    expect(plugin.config.version).toBe('1.0.0');
  });

  it('finds a plugin by absolute and relative folder path', async () => {
    const dir = path.join(FIXTURES, 'versioned-v2');
    const byAbsolute = await findPlugin(dir, []);
    expect(byAbsolute).toMatchObject({ dir, config: { code: 'fixture-versioned', version: '2.0.0' } });

    const relative = `./${path.relative(process.cwd(), dir)}`;
    const byRelative = await findPlugin(relative, []);
    expect(byRelative.dir).toBe(dir);
  });

  it('finds a bare folder name in the current folder when no search folder has that code', async () => {
    const cwd = process.cwd();
    process.chdir(FIXTURES);
    try {
      // `versioned-v2` is a folder here; its code is fixture-versioned, which no search folder is asked for.
      const byName = await findPlugin('versioned-v2', []);
      expect(byName).toMatchObject({ dir: path.join(FIXTURES, 'versioned-v2'), config: { version: '2.0.0' } });
      // A code in the search folders still wins over a folder of the same name.
      expect((await findPlugin('demo-validation', [BUILTIN_PLUGINS_DIR])).dir).toBe(path.join(BUILTIN_PLUGINS_DIR, 'demo-validation'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('a folder without config.yaml is NotFoundError', async () => {
    const err = await rejection(findPlugin(path.join(FIXTURES, 'no-such-plugin'), SEARCH), NotFoundError);
    expect(err.exitCode).toBe(3);
    expect(err.httpStatus).toBe(404);
    expect(err.message).toContain('config.yaml not found');
  });

  it('an unknown plugin is NotFoundError (exit 3) naming the code and the search folders', async () => {
    const err = await rejection(findPlugin('no-such-plugin', SEARCH), NotFoundError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('"no-such-plugin"');
    expect(err.message).toContain(FIXTURES);
  });

  it('an unknown version is NotFoundError listing the versions there are', async () => {
    const err = await rejection(findPlugin('fixture-versioned@9.9.9', SEARCH), NotFoundError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('no version 9.9.9');
    expect(err.message).toContain('1.0.0');
    expect(err.message).toContain('2.0.0');
  });

  it('a broken plugin asked for by its folder name is a ConfigError, not "unknown"', async () => {
    const err = await rejection(findPlugin('broken', SEARCH), ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.problems.map((p) => p.path)).toEqual(['version']);
    expect(err.problems[0]?.location).toBe(`${path.join(FIXTURES, 'broken', 'config.yaml')}:4:10`);
  });

  it('searches SYNAPSE_PLUGIN_PATH after the built-ins', async () => {
    vi.stubEnv('SYNAPSE_PLUGIN_PATH', [path.join(ROOT, 'no-such-folder'), FIXTURES].join(path.delimiter));
    expect(pluginSearchDirs()).toEqual([BUILTIN_PLUGINS_DIR, path.join(ROOT, 'no-such-folder'), FIXTURES]);
    expect((await findPlugin('fixture-loader')).dir).toBe(path.join(FIXTURES, 'loader-checks'));
    expect((await findPlugin('demo-validation')).dir).toBe(path.join(BUILTIN_PLUGINS_DIR, 'demo-validation'));

    vi.stubEnv('SYNAPSE_PLUGIN_PATH', '');
    await rejection(findPlugin('fixture-loader'), NotFoundError);
  });

  it('listPlugins lists the valid plugins of every search folder, skipping broken ones', async () => {
    const codes = (await listPlugins(SEARCH)).map((p) => `${p.config.code}@${p.config.version}`);
    expect(codes).toEqual(expect.arrayContaining(['demo-validation@1.0.0', 'fixture-loader@0.1.0', 'fixture-versioned@1.0.0', 'fixture-versioned@2.0.0']));
    expect(codes.some((c) => c.startsWith('broken@'))).toBe(false);
  });
});

describe('loadAction', () => {
  const loaderPlugin = () => findPlugin('fixture-loader', SEARCH);
  const where = (action: string) => `${path.join(FIXTURES, 'loader-checks', 'config.yaml')} actions.${action}.entrypoint`;

  it('resolves an entrypoint to its Action class with the metadata the engine needs', async () => {
    const action = await loadAction(await loaderPlugin(), 'validation');
    expect(action.name).toBe('validation');
    expect(action.cls.name).toBe('CheckItems');
    expect(action.cls.prototype).toBeInstanceOf(Action);
    expect(action.cls.category).toBe('data_validation');
    expect(action.method).toBe('task'); // config.yaml's method wins over the class default (job)
    expect(action.config).toEqual({ entrypoint: 'plugin.check.CheckItems', method: 'task' });
    expect(action.progressCategories).toEqual({ scan: { weight: 3, label: 'Scan' }, report: { weight: 1 } });
  });

  it('resolves a module path to its index file', async () => {
    const action = await loadAction(await loaderPlugin(), 'from_index');
    expect(action.cls.name).toBe('CheckFromIndex');
    expect(action.method).toBe('job');
  });

  it('loads the built-in demo action', async () => {
    const action = await loadAction(await findPlugin('demo-validation', SEARCH), 'validation');
    expect(action.cls.name).toBe('ValidateDataset');
    expect(Object.keys(action.progressCategories)).toEqual(['load', 'validate']);
  });

  it('an unknown action is NotFoundError naming the actions there are', async () => {
    const plugin = await loaderPlugin();
    const err = await rejection(loadAction(plugin, 'train'), NotFoundError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('"train"');
    expect(err.message).toContain('fixture-loader');
    for (const name of Object.keys(plugin.config.actions)) expect(err.message).toContain(name);
  });

  it('a missing entrypoint module is ConfigError', async () => {
    const err = await rejection(loadAction(await loaderPlugin(), 'missing_module'), ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(where('missing_module'));
    expect(err.problems).toEqual([{ path: 'actions.missing_module.entrypoint', message: `module ${path.join('plugin', 'nowhere')}.ts not found` }]);
  });

  it('a missing export is ConfigError naming the export and the module', async () => {
    const err = await rejection(loadAction(await loaderPlugin(), 'missing_export'), ConfigError);
    expect(err.message).toContain(where('missing_export'));
    expect(err.problems[0]?.path).toBe('actions.missing_export.entrypoint');
    expect(err.problems[0]?.message).toBe(`${path.join('plugin', 'check.ts')} has no exported Action class "NoSuchExport"`);
  });

  it('an export that is not an Action class is ConfigError', async () => {
    for (const [action, exportName] of [
      ['not_action', 'NotAnAction'],
      ['not_class', 'notAClass'],
    ] as const) {
      const err = await rejection(loadAction(await loaderPlugin(), action), ConfigError);
      expect(err.problems[0]?.path).toBe(`actions.${action}.entrypoint`);
      expect(err.problems[0]?.message).toContain(`no exported Action class "${exportName}"`);
    }
  });

  it("an action of another category than the plugin's is ConfigError", async () => {
    const err = await rejection(loadAction(await loaderPlugin(), 'wrong_category'), ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.problems).toEqual([{ path: 'category', message: "TrainsInstead is a neural_net action but the plugin's category is data_validation" }]);
  });

  describe('trainers', () => {
    // loader-checks is a data_validation plugin; these load its trainer fixtures as neural_net.
    const trainerPlugin = async (action: Record<string, unknown>) => {
      const plugin = await loaderPlugin();
      return {
        dir: plugin.dir,
        config: { ...plugin.config, category: 'neural_net' as const, actions: { train: { method: 'job' as const, ...action } as never } },
      };
    };

    it('a class extending TrainAction loads as a trainer with the train progress categories', async () => {
      const action = await loadAction(await trainerPlugin({ entrypoint: 'plugin.trainers.CountingTrainer' }), 'train');
      expect(isTrainerClass(action.cls)).toBe(true);
      expect(Object.keys(action.progressCategories)).toEqual(['dataset', 'train', 'model_upload']);
    });

    it('a trainer that sets static params is ConfigError: its params are the train params', async () => {
      const err = await rejection(loadAction(await trainerPlugin({ entrypoint: 'plugin.trainers.OwnParamsTrainer' }), 'train'), ConfigError);
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]?.path).toBe('actions.train.entrypoint');
      expect(err.problems[0]?.message).toMatch(/OwnParamsTrainer sets static params, which a trainer ignores.*TrainAction\.withHyperparameters/);
    });

    it('hyperparameters in config.yaml are for Python trainers only', async () => {
      const hyperparameters = { type: 'object', properties: { lr: { type: 'number' } } };
      const err = await rejection(loadAction(await trainerPlugin({ entrypoint: 'plugin.trainers.CountingTrainer', hyperparameters }), 'train'), ConfigError);
      expect(err.problems).toEqual([
        {
          path: 'actions.train.hyperparameters',
          message: expect.stringMatching(/only a Python trainer declares its hyperparameters in config\.yaml/) as unknown as string,
        },
      ]);
    });
  });

  it('runtime python in data_validation runs only its task-page action (validation): another action is ConfigError', async () => {
    const err = await rejection(loadAction(await loaderPlugin(), 'python_step'), ConfigError);
    expect(err.problems).toEqual([
      { path: 'actions.python_step.runtime', message: 'runtime "python" runs data_validation task-page actions (validation); "python_step" is not one' },
    ]);
  });
});

describe('parseParams', () => {
  const demo = async () => loadAction(await findPlugin('demo-validation', SEARCH), 'validation');

  it('fills defaults; no params means {}', async () => {
    const action = await demo();
    const defaults = { count: 200, seed: 42, delayMs: 20, checkpointEvery: 20 };
    expect(parseParams(action, undefined)).toEqual(defaults);
    expect(parseParams(action, null)).toEqual(defaults);
    expect(parseParams(action, { count: 5 })).toEqual({ ...defaults, count: 5 });
  });

  it('a failure is ParamsError (exit 2) listing every failing field', async () => {
    const action = await demo();
    const err = thrown(() => parseParams(action, { count: -1, delayMs: 'x' }), ParamsError);
    expect(err.exitCode).toBe(2);
    expect(err.httpStatus).toBe(400);
    expect(err.subject).toBe('invalid params for demo-validation validation');
    expect(err.problems.map((p) => p.path).sort()).toEqual(['count', 'delayMs']);
    expect(err.problems.find((p) => p.path === 'count')?.message).toMatch(/>=\s*0/);
    expect(err.problems.find((p) => p.path === 'delayMs')?.message).toMatch(/expected number/);
    expect(err.message).toMatch(/^invalid params for demo-validation validation:\n/);
    expect(err.message).toContain('  - count: ');
    expect(err.message).toContain('  - delayMs: ');
  });

  it('an unknown param is reported by name; the wrong type of params as a whole has an empty path', async () => {
    const action = await demo();
    const unknown = thrown(() => parseParams(action, { count: 1, colour: 'red' }), ParamsError);
    expect(unknown.problems).toEqual([{ path: 'colour', message: 'unknown key "colour"' }]);

    const wrongType = thrown(() => parseParams(action, [1, 2]), ParamsError);
    expect(wrongType.problems).toHaveLength(1);
    expect(wrongType.problems[0]?.path).toBe('');
  });

  it("validates against a fixture action's own schema", async () => {
    const action = await loadAction(await findPlugin('fixture-loader', SEARCH), 'validation');
    expect(parseParams(action, { name: 'a' })).toEqual({ name: 'a', limit: 10 });
    const err = thrown(() => parseParams(action, { limit: 0 }), ParamsError);
    expect(err.problems.map((p) => p.path).sort()).toEqual(['limit', 'name']);
  });
});

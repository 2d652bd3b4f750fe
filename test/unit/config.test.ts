/**
 * config.yaml parsing: a valid manifest yields typed values with defaults; every kind of
 * mistake is a ConfigError (exit 2) whose message names the field and points at
 * file:line:column.
 */
import { describe, expect, it } from 'vitest';
import { parsePluginConfig } from '../../sdk/config.js';
import { ConfigError, type Problem } from '../../contracts/errors.js';

const FILE = 'plugins/my-plugin/config.yaml';

/** A valid manifest; `patch` rewrites it line by line to introduce one mistake. */
const VALID = `code: my-plugin
name: My plugin
version: 1.0.0
category: neural_net
actions:
  train:
    entrypoint: plugin.train.TrainModel
    method: job
`;

/** Parses `text` expecting a ConfigError; returns it after the checks every error shares. */
function configError(text: string): ConfigError {
  let caught: unknown;
  try {
    parsePluginConfig(text, FILE);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.exitCode).toBe(2);
  expect(err.httpStatus).toBe(400);
  expect(err.name).toBe('ConfigError');
  expect(Array.isArray(err.problems)).toBe(true);
  expect(err.problems.length).toBeGreaterThan(0);
  expect(err.message).toContain(FILE);
  return err;
}

/** The one problem at `path`, which must point at `line:column` and appear in the message. */
function expectProblem(err: ConfigError, path: string, line: number, column: number, message: RegExp): Problem {
  const problem = err.problems.find((p) => p.path === path);
  expect(problem, `no problem at ${path} in ${JSON.stringify(err.problems)}`).toBeDefined();
  const p = problem as Problem;
  expect(p.location).toBe(`${FILE}:${line}:${column}`);
  expect(p.message).toMatch(message);
  // The message people see names the field, the place and the reason on one line.
  const shown = err.message.split('\n').find((l) => l.includes(`${FILE}:${line}:${column}`));
  expect(shown).toBeDefined();
  if (path) expect(shown).toContain(path);
  expect(shown).toMatch(message);
  return p;
}

describe('parsePluginConfig: valid', () => {
  it('parses the minimal config with defaults', () => {
    const config = parsePluginConfig(VALID, FILE);
    expect(config).toEqual({
      code: 'my-plugin',
      name: 'My plugin',
      version: '1.0.0',
      category: 'neural_net',
      runtime: 'typescript',
      actions: { train: { entrypoint: 'plugin.train.TrainModel', method: 'job' } },
    });
  });

  it('parses a full config with every optional key, filling nested defaults', () => {
    const text = `# a comment
code: full_plugin-2
name: Full plugin
version: 2.3.4-beta.1+build.5
category: upload
description: Uploads things.
readme: README.md
package_manager: uv
package_manager_options: ["--frozen"]
data_type: image
tasks:
  - image.object_detection
  - image.segmentation
runtime: typescript
actions:
  upload:
    entrypoint: plugin.upload.Uploader
    method: job
    description: Upload a collection.
    runtime: typescript
    heartbeat_timeout: 90
    excel_config:
      max_rows: 500
  check_files:
    entrypoint: plugin.checks.index.CheckFiles
    method: task
  serve:
    entrypoint: plugin.serve.Serve
    method: restapi
`;
    const config = parsePluginConfig(text, FILE);
    expect(config.code).toBe('full_plugin-2');
    expect(config.version).toBe('2.3.4-beta.1+build.5');
    expect(config.category).toBe('upload');
    expect(config.description).toBe('Uploads things.');
    expect(config.readme).toBe('README.md');
    expect(config.package_manager).toBe('uv');
    expect(config.package_manager_options).toEqual(['--frozen']);
    expect(config.data_type).toBe('image');
    expect(config.tasks).toEqual(['image.object_detection', 'image.segmentation']);
    expect(config.runtime).toBe('typescript');
    expect(Object.keys(config.actions)).toEqual(['upload', 'check_files', 'serve']);
    expect(config.actions.upload).toEqual({
      entrypoint: 'plugin.upload.Uploader',
      method: 'job',
      description: 'Upload a collection.',
      runtime: 'typescript',
      heartbeat_timeout: 90,
      excel_config: {
        max_file_size_mb: 10,
        max_rows: 500,
        max_columns: 50,
        max_cell_length: 10_000,
        max_filename_length: 255,
      },
    });
    expect(config.actions.check_files).toEqual({ entrypoint: 'plugin.checks.index.CheckFiles', method: 'task' });
    expect(config.actions.serve?.method).toBe('restapi');
    expect(config.actions.serve?.runtime).toBeUndefined();
  });

  it('accepts python as the plugin runtime', () => {
    expect(parsePluginConfig(VALID.replace('actions:', 'runtime: python\nactions:'), FILE).runtime).toBe('python');
  });

  it("keeps an action's hyperparameters JSON Schema as written", () => {
    const text = `${VALID}    hyperparameters:
      type: object
      properties:
        learning_rate: { type: number, exclusiveMinimum: 0, default: 0.003 }
`;
    expect(parsePluginConfig(text, FILE).actions.train?.hyperparameters).toEqual({
      type: 'object',
      properties: { learning_rate: { type: 'number', exclusiveMinimum: 0, default: 0.003 } },
    });
  });
});

describe('parsePluginConfig: errors', () => {
  it('broken YAML is reported with its position', () => {
    const err = configError(VALID.replace('name: My plugin', 'name: [My plugin'));
    expect(err.message).toMatch(/is not valid YAML/);
    expect(err.problems.every((p) => p.location?.match(new RegExp(`^${FILE}:\\d+:\\d+$`)))).toBe(true);
    expect(err.message).toMatch(new RegExp(`${FILE}:\\d+:\\d+: `));
    // The unclosed flow sequence is detected where the next key starts.
    expect(err.problems[0]?.location).toBe(`${FILE}:3:1`);
    expect(err.message).toContain(`${FILE}:3:1: Flow sequence`);
  });

  it('a mis-indented key is a YAML error at its line', () => {
    const err = configError(VALID.replace('version: 1.0.0', '  version: 1.0.0'));
    expect(err.message).toMatch(/is not valid YAML/);
    expect(err.problems[0]?.location).toBe(`${FILE}:2:7`);
  });

  it('a duplicate key is a YAML error at the second occurrence', () => {
    const err = configError(VALID.replace('name: My plugin', 'name: My plugin\nname: Again'));
    expect(err.message).toMatch(/is not valid YAML/);
    expect(err.problems[0]?.location).toBe(`${FILE}:3:1`);
    expect(err.problems[0]?.message).toMatch(/unique/);
  });

  it('an unknown top-level key names the key at its position', () => {
    const err = configError(VALID.replace('category: neural_net', 'category: neural_net\ncolour: red'));
    expect(err.message).toMatch(/does not match the plugin config schema/);
    expectProblem(err, 'colour', 5, 1, /unknown key "colour"/);
    expect(err.problems).toHaveLength(1);
  });

  it('an unknown action key names the key at its position', () => {
    const err = configError(VALID.replace('method: job', 'method: job\n    gpus: 2'));
    expectProblem(err, 'actions.train.gpus', 9, 5, /unknown key "gpus"/);
  });

  it('a version that is not semver', () => {
    const err = configError(VALID.replace('version: 1.0.0', 'version: v1.0'));
    expectProblem(err, 'version', 3, 10, /semantic version/);
  });

  it('a category that does not exist lists the categories', () => {
    const err = configError(VALID.replace('category: neural_net', 'category: robotics'));
    const p = expectProblem(err, 'category', 4, 11, /expected one of/);
    expect(p.message).toContain('neural_net');
    expect(p.message).toContain('data_validation');
  });

  it('a code with capitals or spaces', () => {
    const err = configError(VALID.replace('code: my-plugin', 'code: My Plugin'));
    expectProblem(err, 'code', 1, 7, /\^\[a-z0-9_-\]\+\$/);
  });

  it('a plugin with no actions', () => {
    const err = configError(VALID.replace(/actions:[\s\S]*$/, 'actions: {}\n'));
    expectProblem(err, 'actions', 5, 10, /at least one action/);
  });

  it('a plugin without the actions key points at the document', () => {
    const err = configError(VALID.replace(/actions:[\s\S]*$/, ''));
    expectProblem(err, 'actions', 1, 1, /expected record/);
  });

  it('a method that does not exist lists the methods', () => {
    const err = configError(VALID.replace('method: job', 'method: batch'));
    const p = expectProblem(err, 'actions.train.method', 8, 13, /expected one of/);
    expect(p.message).toMatch(/job.*task.*restapi/);
  });

  it('an entrypoint that is not a dotted path', () => {
    const err = configError(VALID.replace('plugin.train.TrainModel', 'TrainModel'));
    expectProblem(err, 'actions.train.entrypoint', 7, 17, /plugin\.module\.ClassName/);
  });

  it('an action name that is not lowercase says why, at the key', () => {
    const err = configError(VALID.replace('  train:', '  Train:'));
    expectProblem(err, 'actions.Train', 6, 3, /invalid key "Train": action names are lowercase/);
  });

  it('hyperparameters that are not a JSON Schema of an object, or one zod cannot read, say why at the key', () => {
    const notObject = configError(`${VALID}    hyperparameters:\n      type: array\n`);
    expectProblem(
      notObject,
      'actions.train.hyperparameters',
      10,
      7,
      /not a hyperparameters JSON Schema this engine reads: must be a JSON Schema with type: object/,
    );
    const conditional = configError(`${VALID}    hyperparameters:\n      type: object\n      if: { properties: { a: { const: 1 } } }\n`);
    expectProblem(conditional, 'actions.train.hyperparameters', 10, 7, /if\/then\/else/);
    const badType = configError(`${VALID}    hyperparameters:\n      type: object\n      properties:\n        lr: { type: decimal }\n`);
    expectProblem(badType, 'actions.train.hyperparameters', 10, 7, /Unsupported type: decimal/);
  });

  it('reports every problem at once', () => {
    const err = configError(
      VALID.replace('version: 1.0.0', 'version: one').replace('category: neural_net', 'category: nope').replace('method: job', 'method: batch'),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual(['actions.train.method', 'category', 'version']);
    expect(err.message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(3);
  });
});

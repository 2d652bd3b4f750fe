/**
 * A Python task-page action's config.yaml (engine/python-task-pages.ts, sdk/config.ts): its own
 * `params` JSON Schema joins the base params and stays strict; `params` on an action that would
 * ignore it, a declared key that redefines a base one, or a trainer-only key is a ConfigError
 * naming the field.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/errors.js';
import { loadAction } from '../../engine/plugin-loader.js';
import { parsePluginConfig } from '../../sdk/config.js';

function plugin(actionYaml: string, runtime = 'python') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-pytp-'));
  mkdirSync(path.join(dir, 'plugin'));
  writeFileSync(path.join(dir, 'plugin', 'check.py'), 'from synapse_task_pages import ValidationTaskPages\n\nclass Check(ValidationTaskPages):\n    pass\n');
  const text = `code: pytp\nname: pytp\nversion: 1.0.0\ncategory: data_validation\nruntime: ${runtime}\nactions:\n  validation:\n    entrypoint: plugin.check.Check\n    method: job\n${actionYaml}`;
  return { dir, config: parsePluginConfig(text) };
}

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('Python task-page params', () => {
  it('joins the base params, fills defaults and refuses unknown keys', async () => {
    const action = await loadAction(
      plugin('    params:\n      type: object\n      properties:\n        min_boxes: { type: integer, minimum: 0, default: 1 }\n'),
      'validation',
    );
    expect(action.cls.params.parse({ project: 3 })).toEqual({ project: 3, task_filters: {}, min_boxes: 1 });
    expect(action.cls.params.safeParse({ project: 3, min_box: 2 }).success).toBe(false);
    expect(action.cls.params.safeParse({ project: 3, min_boxes: -1 }).success).toBe(false);
  });

  it('a declared key may not redefine a base param', async () => {
    const err = await configError(loadAction(plugin('    params:\n      type: object\n      properties:\n        project: { type: string }\n'), 'validation'));
    expect(err.problems).toEqual([{ path: 'actions.validation.params', message: 'project: the base params already have it (project, task_filters)' }]);
  });

  it('a trainer-only key is refused, naming it', async () => {
    const err = await configError(loadAction(plugin('    hyperparameters:\n      type: object\n      properties: {}\n'), 'validation'));
    expect(err.problems).toEqual([
      { path: 'actions.validation.hyperparameters', message: 'a task-page action has no hyperparameters (its own params go under params)' },
    ]);
  });

  it('params on a TypeScript action is refused by the config schema (it would be ignored)', () => {
    let caught: unknown;
    try {
      plugin('    params:\n      type: object\n', 'typescript');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((p) => p.path)).toEqual(['actions.validation.params']);
  });
});

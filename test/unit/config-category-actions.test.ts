/**
 * Action names are checked against the category (issue 15): the seed's action names belong to
 * their category, so a data_validation plugin declaring `train` is refused, naming the key and
 * its line, by the config reader (and so by `plugin check` and the loader); names no category
 * uses stay the plugin's own.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/errors.js';
import { parsePluginConfig } from '../../sdk/config.js';
import { runCli, testSettings } from '../helpers.js';

const yaml = (category: string, actions: string[]) =>
  [
    'code: p',
    'name: P',
    'version: 1.0.0',
    `category: ${category}`,
    'actions:',
    ...actions.flatMap((a) => [`  ${a}:`, `    entrypoint: plugin.main.${a === 'train' ? 'T' : 'V'}`, '    method: job']),
  ].join('\n');

describe('action names against the category', () => {
  it('refuses a data_validation plugin declaring train, naming the key and its line', () => {
    const err = (() => {
      try {
        parsePluginConfig(yaml('data_validation', ['validation', 'train']), 'config.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      { path: 'actions.train', message: '"train" is a neural_net action; a data_validation plugin\'s actions are validation', location: 'config.yaml:10:5' },
    ]);
  });

  it("accepts the category's own actions and names no category uses", () => {
    expect(Object.keys(parsePluginConfig(yaml('pre_annotation', ['to_task', 'pre_annotation', 'my_extra'])).actions)).toEqual([
      'to_task',
      'pre_annotation',
      'my_extra',
    ]);
    expect(() => parsePluginConfig(yaml('export', ['export', 'auto_label']))).toThrow(/"auto_label" is a smart_tool action/);
  });

  it('`synapse plugin check` exits 2 naming actions.train', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-category-actions-'));
    writeFileSync(path.join(dir, 'config.yaml'), yaml('data_validation', ['validation', 'train']));
    const result = await runCli(['plugin', 'check', dir], testSettings('category-actions'));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('actions.train');
    expect(result.stderr).toContain('"train" is a neural_net action');
  });
});

/**
 * Python trainers' hyperparameters: declared as JSON Schema in config.yaml, turned into the
 * zod schema train params are checked with before a run starts. A typo (`epoch` for
 * `epochs`) or a bad value is a params error (exit 2) naming `hyperparameters.<key>`, not a
 * run with the defaults.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParamsError } from '../../contracts/errors.js';
import { findPlugin, loadAction } from '../../engine/plugin-loader.js';
import { hyperparametersFromJsonSchema, isPythonTrainerClass, parseTrainParams } from '../../sdk/trainer.js';
import { ROOT } from '../helpers.js';

function paramsError(fn: () => unknown): ParamsError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ParamsError);
  return caught as ParamsError;
}

describe('hyperparametersFromJsonSchema', () => {
  const schema = hyperparametersFromJsonSchema({
    type: 'object',
    properties: {
      learning_rate: { type: 'number', exclusiveMinimum: 0, default: 0.003 },
      optimizer: { enum: ['adam', 'sgd'], default: 'adam' },
    },
  });

  it('fills the declared defaults and adds epochs and seed with theirs', () => {
    expect(schema.parse({})).toEqual({ epochs: 10, seed: 1, learning_rate: 0.003, optimizer: 'adam' });
    expect(schema.parse({ epochs: 2, optimizer: 'sgd' })).toEqual({ epochs: 2, seed: 1, learning_rate: 0.003, optimizer: 'sgd' });
  });

  it('refuses unknown keys unless the schema sets additionalProperties', () => {
    expect(schema.safeParse({ lr: 1 }).success).toBe(false);
    const open = hyperparametersFromJsonSchema({ type: 'object', properties: {}, additionalProperties: true });
    expect(open.parse({ lr: 1 })).toEqual({ epochs: 10, seed: 1, lr: 1 });
  });

  it("keeps a declared epochs or seed over BaseHyperparameters' rules", () => {
    const six = hyperparametersFromJsonSchema({ type: 'object', properties: { epochs: { type: 'integer', minimum: 1, maximum: 6, default: 6 } } });
    expect(six.parse({})).toEqual({ epochs: 6, seed: 1 });
    expect(six.safeParse({ epochs: 7 }).success).toBe(false);
  });

  it('names each bad key under hyperparameters in the train params', () => {
    const err = paramsError(() =>
      parseTrainParams({ hyperparameters: schema }, { name: 'm', dataset: 1, hyperparameters: { learning_rate: 0, optimizer: 'rmsprop', epochs: 0 } }),
    );
    expect(err.problems.map((p) => p.path).sort()).toEqual(['hyperparameters.epochs', 'hyperparameters.learning_rate', 'hyperparameters.optimizer']);
  });

  it('throws a one-line reason for what it cannot read', () => {
    expect(() => hyperparametersFromJsonSchema({ properties: {} })).toThrow('must be a JSON Schema with type: object');
    expect(() => hyperparametersFromJsonSchema({ type: 'object', properties: [] })).toThrow(/properties must be a mapping/);
    expect(() => hyperparametersFromJsonSchema({ type: 'object', properties: { a: { type: 'nope' } } })).toThrow(/Unsupported type: nope/);
  });
});

describe('a Python trainer with declared hyperparameters (train-image-classifier)', () => {
  const load = async () => loadAction(await findPlugin('train-image-classifier'), 'train');

  it('refuses {"epoch": 3} naming hyperparameters.epoch: exit 2, before anything runs', async () => {
    const action = await load();
    expect(isPythonTrainerClass(action.cls)).toBe(true);
    const err = paramsError(() =>
      parseTrainParams(action.cls as never, { name: 'm', dataset: 1, hyperparameters: { epoch: 3 } }, 'invalid params for train-image-classifier train'),
    );
    expect(err.exitCode).toBe(2);
    expect(err.problems).toEqual([{ path: 'hyperparameters.epoch', message: 'unknown key "epoch"' }]);
    expect(err.message).toContain('hyperparameters.epoch: unknown key "epoch"');
  });

  it('refuses a bad value and an undeclared key, and fills the declared defaults', async () => {
    const action = await load();
    const err = paramsError(() => parseTrainParams(action.cls as never, { name: 'm', dataset: 1, hyperparameters: { lr: 1, batch_size: 0 } }));
    expect(err.problems.map((p) => p.path).sort()).toEqual(['hyperparameters.batch_size', 'hyperparameters.lr']);
    expect(parseTrainParams(action.cls as never, { name: 'm', dataset: 1, hyperparameters: { epochs: 2, batch_size: 8 } }).hyperparameters).toEqual({
      epochs: 2,
      seed: 1,
      learning_rate: 0.003,
      batch_size: 8,
      width: 8,
      checkpoint_every: 0,
      step_delay_ms: 0,
    });
  });

  it("the class's params schema is the train params with these hyperparameters (what the gateway shows)", async () => {
    const action = await load();
    expect(action.cls.params.safeParse({ name: 'm', dataset: 1, hyperparameters: { epoch: 3 } }).success).toBe(false);
    expect(action.cls.params.parse({ name: 'm', dataset: 1 })).toMatchObject({ hyperparameters: { epochs: 10, learning_rate: 0.003 } });
  });

  it('a Python trainer without declared hyperparameters keeps accepting any key (the fixture)', async () => {
    const action = await loadAction(await findPlugin(path.join(ROOT, 'test', 'fixtures', 'plugins', 'python-trainer')), 'train');
    expect(parseTrainParams(action.cls as never, { name: 'm', dataset: 1, hyperparameters: { mode: 'crash' } }).hyperparameters).toEqual({
      epochs: 10,
      seed: 1,
      mode: 'crash',
    });
  });
});

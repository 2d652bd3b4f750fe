/** Pure parts of training: the train params, the model archive, requirements parsing, epoch seeds, the Python loader path. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packTarGz, unpackTarGz } from '../../activities/model-archive.js';
import { requirementLines } from '../../activities/python-runtime.js';
import { checkpointKey, epochSeed } from '../../activities/train.js';
import { ParamsError } from '../../contracts/errors.js';
import { findPlugin, loadAction } from '../../engine/plugin-loader.js';
import { BaseHyperparameters, isPythonTrainerClass, isTrainerClass, parseTrainParams } from '../../sdk/trainer.js';
import { ROOT } from '../helpers.js';

describe('train params', () => {
  it('fills the seed defaults and keeps extra hyperparameters for the trainer', () => {
    const p = parseTrainParams({ hyperparameters: BaseHyperparameters }, { name: 'm', dataset: '4', hyperparameters: { lr: 0.1 } });
    expect(p).toEqual({ name: 'm', dataset: 4, hyperparameters: { epochs: 10, seed: 1, lr: 0.1 }, num_gpus: 0, storage: 'default' });
  });

  it('names every bad field', () => {
    let err: unknown;
    try {
      parseTrainParams(
        { hyperparameters: BaseHyperparameters },
        { name: '../x', dataset: 0, checkpoint: -1, num_gpus: 1.5, extra: true, hyperparameters: { epochs: 0 } },
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParamsError);
    expect((err as ParamsError).problems.map((p) => p.path).sort()).toEqual(['checkpoint', 'dataset', 'extra', 'hyperparameters.epochs', 'name', 'num_gpus']);
  });
});

describe('model archive', () => {
  it('round-trips and is a tar.gz that `tar` reads', () => {
    const bin = Buffer.alloc(1500, 7);
    const archive = packTarGz([
      { name: 'model.json', data: Buffer.from('{"a":1}') },
      { name: 'model.bin', data: bin },
    ]);
    const files = unpackTarGz(archive, 'test archive');
    expect(files.get('model.json')?.toString()).toBe('{"a":1}');
    expect(files.get('model.bin')?.equals(bin)).toBe(true);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-tar-'));
    writeFileSync(path.join(dir, 'm.tar.gz'), archive);
    expect(
      execFileSync('tar', ['tzf', path.join(dir, 'm.tar.gz')], { encoding: 'utf8' })
        .trim()
        .split('\n'),
    ).toEqual(['model.json', 'model.bin']);
    // The same content gives the same bytes: a retried registration uploads the same archive.
    expect(packTarGz([{ name: 'model.bin', data: bin }]).equals(packTarGz([{ name: 'model.bin', data: bin }]))).toBe(true);
  });

  it('refuses what is not an archive, naming it', () => {
    expect(() => unpackTarGz(Buffer.from('nope'), 'model 3')).toThrow(/model 3 is not a gzip archive/);
  });
});

describe('helpers', () => {
  it('reads requirements without comments or blank lines', () => {
    expect(requirementLines('# torch from Debian\n\nnumpy>=1.2  # pinned\n  pillow\n')).toEqual(['numpy>=1.2', 'pillow']);
    expect(requirementLines('# nothing\n')).toEqual([]);
  });

  it('gives every (seed, epoch) its own seed and fixed checkpoint keys', () => {
    expect(epochSeed(1, 2)).toBe(epochSeed(1, 2));
    expect(epochSeed(1, 2)).not.toBe(epochSeed(1, 3));
    expect(epochSeed(0xffffffff, 100_000)).toBeLessThan(2 ** 32);
    expect(checkpointKey('r1', 3)).toBe('train/r1/epoch-00003.ckpt');
    expect(checkpointKey('r1', 3, true)).toBe('train/r1/epoch-00003.partial.ckpt');
  });
});

describe('loading trainers', () => {
  it('a TypeScript trainer is a trainer class; a Python one resolves to its module and class', async () => {
    const ts = await loadAction(await findPlugin('train-ts-example'), 'train');
    expect(isTrainerClass(ts.cls)).toBe(true);
    expect(isPythonTrainerClass(ts.cls)).toBe(false);
    const py = await loadAction(await findPlugin('train-image-classifier'), 'train');
    expect(isTrainerClass(py.cls)).toBe(true);
    expect(isPythonTrainerClass(py.cls) && py.cls.python).toEqual({
      pluginDir: path.join(ROOT, 'plugins', 'train-image-classifier'),
      module: path.join('plugin', 'train.py'),
      className: 'ShapeClassifier',
    });
    expect(py.progressCategories).toEqual({
      dataset: { weight: 20, label: 'Download dataset' },
      train: { weight: 75, label: 'Train' },
      model_upload: { weight: 5, label: 'Upload model' },
    });
  });
});

describe('train run input', () => {
  it('num_gpus > 0 sends the training steps to the gpu resource class queue; resume only for train runs', async () => {
    const { workflowExtras } = await import('../../client/run-start.js');
    const { trainShape, modelTestShape } = await import('../../client/shapes/train.js');
    const { loadSettings } = await import('../../client/settings.js');
    const settings = loadSettings({ dataDir: os.tmpdir(), temporalAddress: '127.0.0.1:1', taskQueuePrefix: 'p' }, {});
    const action = await loadAction(await findPlugin('train-ts-example'), 'train');
    expect(workflowExtras(trainShape, { action, params: { num_gpus: 0 }, settings })).toEqual({});
    expect(workflowExtras(trainShape, { action, params: { num_gpus: 2 }, settings })).toEqual({ stepTaskQueue: 'p-gpu-job' });
    const resume = { runId: 'r', epoch: 2, model: null, history: [] };
    expect(workflowExtras(trainShape, { action, params: { num_gpus: 0 }, settings, resume })).toEqual({ resume });
    expect(() => workflowExtras(modelTestShape, { action, params: {}, settings, resume })).toThrow(
      /only train(, \w+)*( and \w+)? runs resume from a checkpoint; this is a test run/,
    );
  });
});

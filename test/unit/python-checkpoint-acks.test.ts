/**
 * The Python runtime protocol cannot lose a checkpoint's acknowledgement (issue 17, problem 2):
 * the engine acks as fast as it can (no delay at all), 2,000 checkpoints in a tight loop. An ack
 * that arrived before Python started waiting for it used to be dropped, and the process went
 * silent until it was killed as hung; here a lost ack fails the call (silence limit 20 s).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basePython, PythonProcess, type PythonSink } from '../../activities/python-runtime.js';

const CHECKPOINTS = 2000;
const dir = mkdtempSync(path.join(tmpdir(), 'synapse-acks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TRAINER = `
from synapse_runtime import Trainer

class Loop(Trainer):
    def create_model(self, ctx, dataset):
        return {}

    def train_epoch(self, ctx, state):
        n = int(state.hyperparameters["checkpoints"])
        for step in range(1, n + 1):
            ctx.checkpoint_step(step)
        return {"checkpoints": n}

    def save(self, model, path):
        pass
`;

describe('checkpoint acknowledgements from the engine', () => {
  it(`${CHECKPOINTS} checkpoints acked with no delay: every one is received, none lost`, async () => {
    mkdirSync(path.join(dir, 'plugin'), { recursive: true });
    writeFileSync(path.join(dir, 'plugin', '__init__.py'), '');
    writeFileSync(path.join(dir, 'plugin', 'loop.py'), TRAINER);
    const index = path.join(dir, 'dataset', 'index.json');
    mkdirSync(path.dirname(index), { recursive: true });
    writeFileSync(index, JSON.stringify({ versionId: 'v1', classes: ['a'], items: [] }));

    const proc = new PythonProcess(basePython(), dir);
    try {
      await proc.ready;
      const steps: number[] = [];
      const sink: PythonSink = { logMessage: () => {}, log: () => {}, setProgress: () => {}, setMetrics: () => {} };
      const result = await proc.call<{ checkpoints: number }>(
        'train_epoch',
        {
          module: 'plugin/loop.py',
          class_name: 'Loop',
          dataset_index: index,
          epoch: 1,
          epochs: 1,
          seed: 1,
          hyperparameters: { checkpoints: CHECKPOINTS },
          partial_path: path.join(dir, 'partial.ckpt'),
          model_out: path.join(dir, 'model.out'),
        },
        {
          sink,
          signal: new AbortController().signal,
          silenceLimitMs: 20_000,
          // Acked at once: the ack may reach Python before it starts waiting.
          onCheckpoint: (step) => {
            steps.push(step);
            return Promise.resolve();
          },
        },
      );
      expect(result).toEqual({ checkpoints: CHECKPOINTS });
      expect(steps).toEqual(Array.from({ length: CHECKPOINTS }, (_, i) => i + 1));
    } finally {
      proc.kill();
    }
  }, 120_000);
});

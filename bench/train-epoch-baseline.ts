/**
 * The TypeScript baseline of bench/train-epoch.ts: the train-ts-example trainer's own methods
 * (prepare, createModel, trainEpoch, save) called in a plain loop on the same dataset cache,
 * with the same seeds, saving the model to a file after every epoch. No engine, no Temporal.
 * Prints one JSON line.
 *
 *   node bin/run-ts.mjs bench/train-epoch-baseline.ts --index DIR/index.json --epochs 5 --seed 1
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ShapeFeaturesTrainer } from '../plugins/train-ts-example/plugin/train.js';
import type { TrainContext, TrainDataset } from '../sdk/trainer.js';
import type { DatasetIndex } from '../activities/dataset-cache.js';
import { epochSeed } from '../activities/train.js';

const { values } = parseArgs({ options: { index: { type: 'string' }, epochs: { type: 'string', default: '5' }, seed: { type: 'string', default: '1' } } });
if (!values.index) throw new Error('--index is required');
const epochs = Number(values.epochs);
const seed = Number(values.seed);

const index = JSON.parse(readFileSync(values.index, 'utf8')) as DatasetIndex;
const dir = path.dirname(values.index);
const dataset: TrainDataset = {
  versionId: index.versionId,
  dir,
  classes: index.classes,
  items: index.items.map((i) => ({ ...i, files: Object.fromEntries(Object.entries(i.files).map(([k, v]) => [k, path.join(dir, v)])) })),
};
const hyperparameters = ShapeFeaturesTrainer.hyperparameters.parse({ epochs, seed });
const params = { name: 'baseline', dataset: index.versionId, hyperparameters, num_gpus: 0, storage: 'default' };
// The smallest context the trainer needs: it reports nothing anywhere.
const ctx: TrainContext = {
  runId: 'baseline',
  params: params as TrainContext['params'],
  envs: process.env,
  signal: new AbortController().signal,
  attempt: 1,
  numCpus: os.availableParallelism(),
  logMessage: () => {},
  log: () => {},
  setProgress: () => {},
  setMetrics: () => {},
  checkpointStep: async () => {},
};

const trainer = new ShapeFeaturesTrainer();
const started = performance.now();
await trainer.prepare(ctx, dataset);
const loadSeconds = (performance.now() - started) / 1000;
const model = trainer.createModel(ctx, dataset);
const out = mkdtempSync(path.join(os.tmpdir(), 'synapse-baseline-ts-'));
const results = [];
for (let epoch = 1; epoch <= epochs; epoch++) {
  const t0 = performance.now();
  const metrics = await trainer.trainEpoch(ctx, { epoch, epochs, seed: epochSeed(seed, epoch), model, startStep: 0, totals: {}, dataset, hyperparameters });
  writeFileSync(path.join(out, `epoch-${epoch}.ckpt`), trainer.save(model));
  results.push({ epoch, seconds: (performance.now() - t0) / 1000, ...metrics });
}
process.stdout.write(JSON.stringify({ epochs: results, load_seconds: loadSeconds, peak_rss_mib: process.resourceUsage().maxRSS / 1024 }) + '\n');

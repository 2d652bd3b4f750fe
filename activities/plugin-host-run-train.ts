/**
 * The train shape's host runners (plugin-host-runner.ts): a TypeScript trainer's hooks
 * (`prepare`, `createModel`, `load`, `trainEpoch`, `save`, `evaluate`, `predict`) run here,
 * inside the plugin's host, never in the worker (issue 18). The worker's steps (train.ts,
 * model-actions.ts, through trainer-host.ts) send the model's bytes and get them back; they
 * keep the storages, the run store and the checkpoints.
 *
 * Warm like the worker's trainers were: one instance per trainer class per host, `prepare`
 * once per dataset per host. A step's host may read its dataset's cache folder
 * (`<data dir>/cache/datasets/gt-<version>-<fingerprint>/`, HostRunOptions.readDirs) and
 * nothing else of the data dir, so the runner reads `index.json` there once and hands the
 * trainer the same TrainDataset object every epoch (its caches keyed by item stay valid),
 * and the trainer opens the item files by path as before: no file bytes cross the IPC channel.
 *
 * Also here, as the one definition for the host's `describe` and the worker's Python path:
 * how the train, test and inference steps parse their params (parser kinds `train`,
 * `model-test`, `model-inference` of plugin-host-protocol.ts).
 *
 * Bundled into every plugin host: imports the SDK, contracts and node built-ins only.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import type { MetricValues } from '../contracts/run-state.js';
import type { RunContext } from '../sdk/run-context.js';
import {
  isTrainerClass,
  ModelInferenceParams,
  ModelTestParams,
  parseTrainParams,
  trainerProgressCategory,
  type EpochState,
  type Prediction,
  type TrainAction,
  type TrainContext,
  type TrainDataset,
  type TrainDatasetItem,
  type TrainParams,
} from '../sdk/trainer.js';
import type { HostRunner } from './plugin-host-runner.js';

// ----- params -----------------------------------------------------------------------------

/** How a train-shape step reads its params: the trainer's train params, or the test / inference action's fixed schema. */
export type TrainerParamsParser = 'train' | 'model-test' | 'model-inference';

/**
 * A train, test or inference step's params. `cls` must be a trainer class (the message is the
 * step's kind check's, so a host refuses a non-trainer by kind, not by its params).
 * @throws ParamsError (`subject` its message) listing every problem; NonRetriableError for a class that is not a trainer.
 */
export function parseTrainerParams(parser: TrainerParamsParser, cls: unknown, raw: unknown, subject: string): unknown {
  if (!isTrainerClass(cls)) {
    const name = typeof cls === 'function' ? cls.name : typeof cls;
    throw new NonRetriableError(`${subject.replace(/^invalid params for /, '')}: ${name} is not a TrainAction (a train, test or inference run needs one)`);
  }
  if (parser === 'train') return parseTrainParams(cls, raw, subject);
  const parsed = (parser === 'model-test' ? ModelTestParams : ModelInferenceParams).safeParse(raw ?? {});
  if (!parsed.success) throw new ParamsError(subject, zodProblems(parsed.error));
  return parsed.data;
}

// ----- what the worker sends --------------------------------------------------------------

/** A dataset in the worker's cache, by folder: the host may read that folder only. */
export interface HostDatasetRef {
  /** The cache folder (absolute); `index.json` in it lists the items, their files relative to it. */
  dir: string;
  /** The dataset's fingerprint (the step's): the index must say the same. */
  fingerprint: string;
}

/** `train-epoch`'s argument. */
export interface TrainEpochArgs {
  dataset: HostDatasetRef;
  epoch: number;
  epochs: number;
  seed: number;
  /** Steps done by a mid-epoch checkpoint this epoch resumes from, and its running sums. */
  startStep: number;
  totals: Record<string, number>;
  numCpus: number;
  /** The model to start from (`save`'s bytes), or null for `createModel`. */
  model: Uint8Array | null;
}

/** `train-epoch`'s result: the epoch's metrics and the model's bytes after it. */
export interface TrainEpochResult {
  metrics: MetricValues;
  model: Uint8Array;
}

/** The worker object `train-epoch` calls for `ctx.checkpointStep` (target `epoch`). */
export interface EpochTarget {
  /** Stores the model after `step` steps as the run's mid-epoch checkpoint; durable when it resolves. */
  saveStep(step: number, model: Uint8Array, totals: Record<string, number> | undefined): Promise<void>;
}

/** `model-evaluate`'s argument: metrics of a model on `split` (`all`: every item). */
export interface ModelEvaluateArgs {
  dataset: HostDatasetRef;
  split: string;
  model: Uint8Array;
}

/** `model-predict`'s argument: predictions for the dataset's items `itemIds`. */
export interface ModelPredictArgs {
  dataset: HostDatasetRef;
  itemIds: number[];
  model: Uint8Array;
}

// ----- this host's trainers ---------------------------------------------------------------

type Trainer = TrainAction<unknown>;

/** One instance per trainer class in this host, and the dataset folder each has prepared. */
const instances = new Map<unknown, Trainer>();
const prepared = new WeakMap<Trainer, string>();
/** Datasets read in this host, by folder (the folder's name holds the fingerprint). */
const datasets = new Map<string, TrainDataset>();

function instanceOf(cls: unknown): Trainer {
  if (!isTrainerClass(cls)) throw new NonRetriableError(`${typeof cls === 'function' ? cls.name : typeof cls} is not a TrainAction`);
  let instance = instances.get(cls);
  if (!instance) {
    // The class is concrete: the loader found it exported and named in config.yaml.
    instance = new (cls as unknown as new () => Trainer)();
    instances.set(cls, instance);
  }
  return instance;
}

interface IndexFile {
  versionId: number;
  fingerprint: string;
  classes: string[];
  items: (Omit<TrainDatasetItem, 'files'> & { files: Record<string, string> })[];
}

/** The dataset in `ref.dir`, read once per host (the same object for every later step). */
function datasetAt(ref: HostDatasetRef): TrainDataset {
  const known = datasets.get(ref.dir);
  if (known) return known;
  const index = JSON.parse(readFileSync(path.join(ref.dir, 'index.json'), 'utf8')) as IndexFile;
  if (index.fingerprint !== ref.fingerprint) {
    throw new NonRetriableError(`the dataset cache ${ref.dir} holds dataset ${index.fingerprint}, not ${ref.fingerprint}`);
  }
  const dataset: TrainDataset = {
    versionId: index.versionId,
    dir: ref.dir,
    classes: index.classes,
    items: index.items.map((i) => ({ ...i, files: Object.fromEntries(Object.entries(i.files).map(([n, rel]) => [n, path.join(ref.dir, rel)])) })),
  };
  datasets.set(ref.dir, dataset);
  return dataset;
}

/** How often a trainer's progress goes to the worker, at most, per category (ms). */
const PROGRESS_MS = 100;

/**
 * A trainer's `setProgress`, coalesced: trainers report every batch, and each report is an IPC
 * message the worker parses (100 a 14 ms epoch of train-ts-example). The first report goes at
 * once, later ones at most every PROGRESS_MS with the latest value per category; `flush` sends
 * what is pending (before a checkpoint and when the hook returns, so the last value is exact).
 */
function coalescedProgress(ctx: RunContext): { report: TrainContext['setProgress']; flush(): void } {
  const pending = new Map<string, [number, number]>();
  let timer: NodeJS.Timeout | undefined;
  let last = -Infinity;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    last = performance.now();
    for (const [category, [current, total]] of pending) ctx.setProgress(current, total, category);
    pending.clear();
  };
  const report = (current: number, total: number, category?: string): void => {
    if (!Number.isFinite(current) || !Number.isFinite(total) || current < 0 || total < 0) {
      throw new RangeError(`setProgress(${current}, ${total}): current and total must be finite and >= 0`);
    }
    // Steps inside an epoch are the `epoch` category; `train` counts epochs (the workflow's).
    pending.set(trainerProgressCategory(category), [current, total]);
    const wait = last + PROGRESS_MS - performance.now();
    if (wait <= 0) flush();
    else timer ??= setTimeout(flush, wait);
  };
  return { report, flush };
}

/** The context a trainer's hooks get: the host's run context's reporting, the CPUs to use, and mid-epoch checkpoints. */
function trainContext(
  ctx: RunContext,
  numCpus: number,
  setProgress: TrainContext['setProgress'],
  checkpointStep: TrainContext['checkpointStep'],
): TrainContext {
  return {
    runId: ctx.runId,
    params: ctx.params as TrainParams,
    envs: ctx.envs,
    signal: ctx.signal,
    attempt: ctx.attempt,
    numCpus,
    logMessage: (m, l) => ctx.logMessage(m, l),
    log: (e, d) => ctx.log(e, d),
    setProgress,
    setMetrics: (v, cat) => ctx.setMetrics(v, cat),
    checkpointStep,
  };
}

/** What `save` returned, as bytes (anything else is the trainer's bug). */
function bytesOf(value: unknown, cls: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new NonRetriableError(`${typeof cls === 'function' ? cls.name : 'the trainer'}.save() must return a Uint8Array, got ${typeof value}`);
}

export const TRAIN_RUNNERS: Record<string, HostRunner> = {
  /** One epoch from `model` (or a new one): `prepare` once per dataset, then `trainEpoch`, then `save`. */
  'train-epoch': async ({ action, ctx, args, remote }): Promise<TrainEpochResult> => {
    const a = args[0] as TrainEpochArgs;
    const trainer = instanceOf(action.cls);
    const dataset = datasetAt(a.dataset);
    const target = remote<EpochTarget>('epoch');
    // The epoch's state once it exists: checkpointStep saves its model as the trainer left it.
    const current: { state?: { model: unknown } } = {};
    const progress = coalescedProgress(ctx);
    const tctx = trainContext(ctx, a.numCpus, progress.report, async (step, totals) => {
      if (!current.state) throw new Error('checkpointStep() is only available inside trainEpoch');
      progress.flush();
      await target.saveStep(step, bytesOf(await trainer.save(current.state.model), action.cls), totals);
    });
    try {
      if (prepared.get(trainer) !== a.dataset.dir) {
        await trainer.prepare(tctx, dataset);
        prepared.set(trainer, a.dataset.dir);
      }
      const model = a.model ? await trainer.load(a.model, dataset) : await trainer.createModel(tctx, dataset);
      const state: EpochState<unknown> = {
        epoch: a.epoch,
        epochs: a.epochs,
        seed: a.seed,
        model,
        startStep: a.startStep,
        totals: { ...a.totals },
        dataset,
        hyperparameters: (ctx.params as TrainParams).hyperparameters,
      };
      current.state = state;
      const metrics = await trainer.trainEpoch(tctx, state);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return { metrics, model: bytesOf(await trainer.save(state.model), action.cls) };
    } finally {
      // Before the result: the worker takes the epoch's last progress as its final report.
      progress.flush();
    }
  },

  /** A model's metrics on a split: `load`, then `evaluate` (no `prepare`, as in the worker before). */
  'model-evaluate': async ({ action, ctx, args }): Promise<MetricValues> => {
    const a = args[0] as ModelEvaluateArgs;
    const trainer = instanceOf(action.cls);
    const dataset = datasetAt(a.dataset);
    return trainer.evaluate(ctx, await trainer.load(a.model, dataset), dataset, a.split);
  },

  /** Predictions for some items of the dataset: `load`, then `predict`. */
  'model-predict': async ({ action, ctx, args }): Promise<Prediction[]> => {
    const a = args[0] as ModelPredictArgs;
    const trainer = instanceOf(action.cls);
    if (typeof trainer.predict !== 'function') throw new NonRetriableError(`${action.cls.name} has no predict()`);
    const dataset = datasetAt(a.dataset);
    const byId = new Map(dataset.items.map((i) => [i.id, i]));
    const items = a.itemIds.flatMap((id) => {
      const item = byId.get(id);
      return item ? [item] : [];
    });
    return trainer.predict(ctx, await trainer.load(a.model, dataset), items, dataset.classes);
  },
};

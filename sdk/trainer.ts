/**
 * BaseTrainer: the neural_net/train plugin base. The plugin author writes per-epoch code
 * against a small interface; the engine (the train workflow and its activities) owns the
 * loop: it downloads the dataset, calls `trainEpoch` once per epoch in its own activity,
 * saves the model after every epoch (and whenever the plugin calls `ctx.checkpointStep`),
 * evaluates, and registers the model. No Temporal here.
 *
 * The same interface exists in Python (runtimes/python/synapse_runtime.py `Trainer`), for
 * plugins whose config.yaml says `runtime: python`.
 */
import { z } from 'zod';
import type { AnnotationDocument } from './annotations.js';
import { TrainAction } from './category-actions.js';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { RunContext } from './run-context.js';
import type { MetricValues } from '../contracts/run-state.js';

/** A platform id: a positive whole number (digits in a string are accepted). */
const Id = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().positive());
const StorageRef = z.union([z.number().int().positive(), z.string().min(1)]);

/** Hyperparameters every trainer understands; a plugin's own schema extends these. */
export const BaseHyperparameters = z.looseObject({
  epochs: z.number().int().min(1).max(100_000).default(10),
  /** Seeds weight init and the per-epoch shuffles: the same seed gives the same model. */
  seed: z.number().int().min(0).max(0xffffffff).default(1),
});
export type BaseHyperparameters = z.infer<typeof BaseHyperparameters>;

/** A model name: shown in lists and used in storage keys, so one readable segment. */
const ModelName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'use letters, digits, " ", ".", "_" or "-", starting with a letter or digit');

/** The seed's train params, with `hyperparameters` checked by the trainer's own schema. */
export function trainParamsSchema<H extends z.ZodType>(hyperparameters: H) {
  return z
    .strictObject({
      /** Name of the model to register; unique among models and active train runs. */
      name: ModelName,
      description: z.string().max(10_000).optional(),
      /** A registered model (id) to start from instead of a fresh one. */
      checkpoint: Id.optional(),
      /** The ground-truth dataset version (id) to train on. */
      dataset: Id,
      hyperparameters: hyperparameters.prefault({} as never),
      /** CPU threads the training code may use (torch.set_num_threads); default: all. */
      num_cpus: z.number().int().min(1).max(1024).optional(),
      /** GPUs the run needs; above 0 its steps go to the `gpu` resource class's task queue. */
      num_gpus: z.number().int().min(0).max(64).default(0),
      /** Storage (id or name) for checkpoints and the model archive. */
      storage: StorageRef.default('default'),
    })
    .superRefine((p, ctx) => {
      const h = p.hyperparameters as Record<string, unknown>;
      const epochs = h.epochs;
      if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 1) {
        ctx.addIssue({ code: 'custom', path: ['hyperparameters', 'epochs'], message: 'required: a whole number of epochs, at least 1' });
      }
    });
}

export const TrainParams = trainParamsSchema(BaseHyperparameters);
export type TrainParams<H = BaseHyperparameters> = Omit<z.infer<typeof TrainParams>, 'hyperparameters'> & { hyperparameters: H };

/** Validates train params with the trainer's `hyperparameters` schema; ParamsError lists every problem. */
export function parseTrainParams(cls: { hyperparameters: z.ZodType }, raw: unknown, subject = 'invalid train params'): TrainParams {
  const parsed = trainParamsSchema(cls.hyperparameters).safeParse(raw ?? {});
  if (parsed.success) return parsed.data as TrainParams;
  throw new ParamsError(subject, zodProblems(parsed.error));
}

/** One item of a downloaded ground-truth version. */
export interface TrainDatasetItem {
  /** The ground-truth event id. */
  id: number;
  dataUnitId: number;
  uniqueKey: string;
  /** The data unit's `meta.split` (`train`, `val`, `test`); `train` when it has none. */
  split: string;
  /** The class of the item's first annotation (a classification label); null without one. */
  label: string | null;
  /** Local paths of the data unit's files, by file name (`{ image: '/.../0000001.png' }`). */
  files: Record<string, string>;
  annotations: AnnotationDocument;
}

/** A ground-truth version in the local dataset cache (read-only for plugins). */
export interface TrainDataset {
  versionId: number;
  /** The cache folder; `index.json` in it lists the items. */
  dir: string;
  /** The project's class names, in its configuration's order (class index = position). */
  classes: string[];
  items: TrainDatasetItem[];
}

/** What `trainEpoch` gets. */
export interface EpochState<M, H = BaseHyperparameters> {
  /** 1-based epoch number. */
  epoch: number;
  epochs: number;
  /** `hyperparameters.seed` and the epoch mixed: shuffle with it and every attempt sees the same order. */
  seed: number;
  /** The model: loaded from the last checkpoint, or new. Update it in place or assign a new one. */
  model: M;
  /** Steps of this epoch already done (resumed from a mid-epoch checkpoint); skip them. */
  startStep: number;
  dataset: TrainDataset;
  hyperparameters: H;
}

/** The RunContext of a training step, plus a mid-epoch checkpoint. */
export interface TrainContext<P = TrainParams> extends RunContext<P> {
  /**
   * Saves the model after `step` steps of this epoch (the engine calls `save`); a retried
   * attempt resumes with `state.startStep === step` and this model. Durable when it resolves.
   */
  checkpointStep(step: number): Promise<void>;
  /** CPU threads to use (params.num_cpus, or the machine's). */
  readonly numCpus: number;
}

/** A model's prediction for one item: annotations in the platform's format. */
export interface Prediction {
  itemId: number;
  annotations: AnnotationDocument;
}

export abstract class BaseTrainer<M = unknown, H extends BaseHyperparameters = BaseHyperparameters> extends TrainAction<TrainParams<H>, unknown> {
  /** Schema of `hyperparameters`; extend BaseHyperparameters (epochs, seed). */
  static hyperparameters: z.ZodType = BaseHyperparameters;
  static override params: z.ZodType = TrainParams;

  /** Called once per dataset in a worker process, before the first epoch there (decode, cache tensors). */
  prepare(_ctx: TrainContext<TrainParams<H>>, _dataset: TrainDataset): void | Promise<void> {}

  /** A new, untrained model (seed it from `hyperparameters.seed`). */
  abstract createModel(ctx: TrainContext<TrainParams<H>>, dataset: TrainDataset): M | Promise<M>;

  /** One epoch over the training items; returns its metrics (loss, accuracy, ...). */
  abstract trainEpoch(ctx: TrainContext<TrainParams<H>>, state: EpochState<M, H>): Promise<MetricValues>;

  /** Metrics of `model` on the items of `split` (`val` after each epoch is the plugin's choice; `test` at the end). */
  abstract evaluate(ctx: RunContext<unknown>, model: M, dataset: TrainDataset, split: string): Promise<MetricValues>;

  /** The model (with whatever else resuming needs, e.g. optimizer state) as bytes. */
  abstract save(model: M): Uint8Array | Promise<Uint8Array>;

  /** The model back from `save`'s bytes. */
  abstract load(bytes: Uint8Array, dataset: TrainDataset): M | Promise<M>;

  /** Predictions for items (the inference action); optional. */
  predict?(ctx: RunContext<unknown>, model: M, items: TrainDatasetItem[], classes: string[]): Promise<Prediction[]>;

  /** Training runs as the train workflow (dataset, epochs, evaluate, register), not through `start`. */
  async start(_ctx: RunContext<TrainParams<H>>): Promise<unknown> {
    throw new NonRetriableError('a trainer runs as the train workflow: start it with a worker (`synapse plugin run train ...`), not --debug');
  }
}

export function isTrainerClass(value: unknown): value is typeof BaseTrainer {
  return typeof value === 'function' && value.prototype instanceof BaseTrainer;
}

/**
 * The class the loader makes for an action whose code is Python: the engine runs the
 * Python `Trainer` named by `python` in a child process (activities/python-runtime.ts), so
 * none of these methods is called in TypeScript.
 */
export class PythonTrainer extends BaseTrainer<never> {
  /** Where the Python class is: the plugin folder, its module file (`plugin/train.py`) and the class name. */
  static python: { pluginDir: string; module: string; className: string } | undefined;
  createModel(): never {
    return inPython();
  }
  trainEpoch(): Promise<MetricValues> {
    return inPython();
  }
  evaluate(): Promise<MetricValues> {
    return inPython();
  }
  save(): Uint8Array {
    return inPython();
  }
  load(): never {
    return inPython();
  }
}

function inPython(): never {
  throw new NonRetriableError('this trainer is Python code: the engine runs it in a Python process');
}

export function isPythonTrainerClass(value: unknown): value is typeof PythonTrainer & { python: NonNullable<typeof PythonTrainer.python> } {
  return typeof value === 'function' && (value.prototype instanceof PythonTrainer || value === PythonTrainer) && (value as typeof PythonTrainer).python !== undefined;
}

// ----- test and inference -----------------------------------------------------------------
// A plugin offers `test` and `inference` by naming its trainer class as their entrypoint too:
// the engine loads the registered model with the trainer's `load` and calls `evaluate` or
// `predict`.

/** The test action's params: a registered model evaluated on a ground-truth version. */
export const ModelTestParams = z.strictObject({
  model: Id,
  dataset: Id,
  /** Which items to evaluate on (`meta.split`); `all` takes every item. */
  split: z.string().min(1).default('test'),
  num_cpus: z.number().int().min(1).max(1024).optional(),
});
export type ModelTestParams = z.infer<typeof ModelTestParams>;

/** The inference action's params: a model run over the data units of a ground-truth version. */
export const ModelInferenceParams = z.strictObject({
  model: Id,
  dataset: Id,
  split: z.string().min(1).default('all'),
  batch_size: z.number().int().min(1).max(10_000).default(64),
  /** Project whose tasks get the predictions as assignments by annotator `model:<id>`. */
  project: Id.optional(),
  num_cpus: z.number().int().min(1).max(1024).optional(),
});
export type ModelInferenceParams = z.infer<typeof ModelInferenceParams>;

/**
 * TrainAction: the neural_net/train plugin base, the one trainer concept. The plugin author
 * writes per-epoch code against a small interface; the engine (the train workflow and its
 * activities) owns the loop: it downloads the dataset, calls `trainEpoch` once per epoch in
 * its own activity, saves the model after every epoch (and whenever the plugin calls
 * `ctx.checkpointStep`), evaluates, and registers the model. No Temporal here.
 * `BaseTrainer` is the same class under its older name.
 *
 * The same interface exists in Python (runtimes/python/synapse_runtime.py `Trainer`), for
 * plugins whose config.yaml says `runtime: python`; their hyperparameters are declared as
 * JSON Schema in config.yaml (sdk/hyperparameters.ts).
 */
import { z } from 'zod';
import { Action } from './action.js';
import type { AnnotationDocument } from './annotations.js';
import type { Category, Method } from './categories.js';
import { BaseHyperparameters } from './hyperparameters.js';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { RunContext } from './run-context.js';
import type { MetricValues, ProgressCategoryDef } from '../contracts/run-state.js';

export { BaseHyperparameters, hyperparametersFromJsonSchema, type JsonSchemaObject } from './hyperparameters.js';

/** A platform id: a positive whole number (digits in a string are accepted). */
const Id = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().positive());
const StorageRef = z.union([z.number().int().positive(), z.string().min(1)]);

/** A model name: shown in lists and used in storage keys, so one readable segment. */
const ModelName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'use letters, digits, " ", ".", "_" or "-", starting with a letter or digit');

/** Schemas made by trainParamsSchema: a trainer's `params` is one of these unless its author replaced it. */
const madeTrainParams = new WeakSet<z.ZodType>();

/** The seed's train params, with `hyperparameters` checked by the trainer's own schema. */
export function trainParamsSchema<H extends z.ZodType>(hyperparameters: H) {
  const schema = z
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
      // Said once: a schema that already refused `epochs` has named it.
      const named = ctx.issues.some((i) => i.path?.[0] === 'hyperparameters' && i.path[1] === 'epochs');
      if (!named && (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 1)) {
        ctx.addIssue({ code: 'custom', path: ['hyperparameters', 'epochs'], message: 'required: a whole number of epochs, at least 1' });
      }
    });
  madeTrainParams.add(schema);
  return schema;
}

/**
 * Whether a trainer class set its own `static params`: a trainer's params are always the
 * seed's train params (name, dataset, hyperparameters, ...), so such a schema would be
 * ignored; the loader refuses it and says to declare `hyperparameters` instead.
 */
export function hasOwnTrainParams(cls: { params: z.ZodType }): boolean {
  return !madeTrainParams.has(cls.params);
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
  /**
   * The running sums saved with the mid-epoch checkpoint this epoch resumes from
   * (`ctx.checkpointStep(step, totals)`); empty when the epoch starts at step 0. Start the
   * epoch's sums from them, so its loss and accuracy cover every step, not only those after
   * the resume: `let lossSum = state.totals.loss_sum ?? 0`.
   */
  totals: Readonly<Record<string, number>>;
  dataset: TrainDataset;
  hyperparameters: H;
}

/**
 * What every trainer method gets: the RunContext without the run checkpoint. The engine
 * keeps a train run's checkpoint itself (the last epoch's model, a mid-epoch one), so a
 * trainer saves through `ctx.checkpointStep(step)` inside `trainEpoch`, never `checkpoint`.
 */
export type StepContext<P = unknown> = Omit<RunContext<P>, 'checkpoint' | 'resumeState'>;

/** The context of `prepare`, `createModel` and `trainEpoch`: a StepContext, a mid-epoch checkpoint and the CPU budget. */
export interface TrainContext<P = TrainParams> extends StepContext<P> {
  /**
   * Saves the model after `step` steps of this epoch (the engine calls `save`); a retried
   * attempt resumes with `state.startStep === step`, this model and `state.totals === totals`
   * (running sums over the steps done: finite numbers, e.g. `{ loss_sum, correct, seen }`).
   * Durable when it resolves. Only inside `trainEpoch`. Errors: RangeError for a total that is
   * not a finite number.
   */
  checkpointStep(step: number, totals?: Record<string, number>): Promise<void>;
  /** CPU threads to use (params.num_cpus, or the machine's). */
  readonly numCpus: number;
}

// ----- progress ---------------------------------------------------------------------------

/**
 * The progress category of the steps inside the current epoch (batches): what a trainer's
 * `ctx.setProgress(current, total)` reports when it names no category (Python:
 * `ctx.set_progress(current, total)`). Shown, not weighted.
 */
export const EPOCH_PROGRESS = 'epoch';

/** The train run's weighted progress categories (the seed's): the engine reports them, not the trainer. */
export const TRAIN_PROGRESS_CATEGORIES: Readonly<Record<string, ProgressCategoryDef>> = {
  dataset: { weight: 20, label: 'Download dataset' },
  train: { weight: 75, label: 'Train' },
  model_upload: { weight: 5, label: 'Upload model' },
};

/**
 * The category a trainer's `setProgress` reports under: `epoch` when it names none, its own
 * name otherwise.
 * @throws NonRetriableError for the engine's categories (`dataset`, `train` = epochs done,
 * `model_upload`): the workflow reports those, and a trainer's values would fight it.
 */
export function trainerProgressCategory(category: string | undefined): string {
  if (category === undefined) return EPOCH_PROGRESS;
  if (Object.hasOwn(TRAIN_PROGRESS_CATEGORIES, category)) {
    throw new NonRetriableError(
      `progress category "${category}" is the engine's (${Object.keys(TRAIN_PROGRESS_CATEGORIES).join(', ')}; "train" counts finished epochs): report steps inside an epoch as "${EPOCH_PROGRESS}" (the default when no category is given)`,
    );
  }
  return category;
}

/** A model's prediction for one item: annotations in the platform's format. */
export interface Prediction {
  itemId: number;
  annotations: AnnotationDocument;
}

// ----- the trainer ------------------------------------------------------------------------

/**
 * neural_net/train: a trainer. `M` is the model's type, `H` the hyperparameters' (declare them
 * once with `TrainAction.withHyperparameters(schema)`). Its params are always the seed's train
 * params (TrainParams); do not set `static params`. Naming the same class as the entrypoint of
 * `test` and `inference` runs those with its `load`, `evaluate` and `predict`.
 *
 * ```ts
 * const Hyper = BaseHyperparameters.extend({ learning_rate: z.number().positive().default(0.1) });
 * type Hyper = z.infer<typeof Hyper>;
 * export class MyTrainer extends TrainAction.withHyperparameters(Hyper)<Model> {
 *   createModel(ctx: TrainContext, dataset: TrainDataset): Model { ... }
 *   async trainEpoch(ctx: TrainContext, state: EpochState<Model, Hyper>) { ... }
 *   ...
 * }
 * ```
 */
export abstract class TrainAction<M = unknown, H extends BaseHyperparameters = BaseHyperparameters> extends Action<TrainParams<H>, unknown> {
  static override action = 'train';
  static override category: Category = 'neural_net';
  static override method: Method = 'job';
  static override progressCategories: Record<string, ProgressCategoryDef> = { ...TRAIN_PROGRESS_CATEGORIES };
  /** Schema of `hyperparameters`; extend BaseHyperparameters (epochs, seed). */
  static hyperparameters: z.ZodType = BaseHyperparameters;
  /** The seed's train params; `hyperparameters` is checked with the class's own schema. */
  static override params: z.ZodType = TrainParams;

  /**
   * A trainer base whose `static hyperparameters` is `hyperparameters` and whose
   * `state.hyperparameters` / `ctx.params.hyperparameters` are its output type: declared once.
   * The model type goes after the call: `extends TrainAction.withHyperparameters(Hyper)<Model>`.
   */
  static withHyperparameters<S extends z.ZodType<BaseHyperparameters>>(hyperparameters: S) {
    // At run time the new class extends the class it was called on (TrainAction or a subclass).
    const Base = this as unknown as typeof TrainAction;
    abstract class WithHyperparameters<M2 = unknown> extends Base<M2, z.output<S> & BaseHyperparameters> {
      static override hyperparameters = hyperparameters;
      static override params: z.ZodType = trainParamsSchema(hyperparameters);
    }
    return WithHyperparameters;
  }

  /** Called once per dataset in a worker process, before the first epoch there (decode, cache tensors). */
  prepare(_ctx: TrainContext<TrainParams<H>>, _dataset: TrainDataset): void | Promise<void> {}

  /** A new, untrained model (seed it from `hyperparameters.seed`). */
  abstract createModel(ctx: TrainContext<TrainParams<H>>, dataset: TrainDataset): M | Promise<M>;

  /** One epoch over the training items; returns its metrics (loss, accuracy, ...). */
  abstract trainEpoch(ctx: TrainContext<TrainParams<H>>, state: EpochState<M, H>): Promise<MetricValues>;

  /** Metrics of `model` on the items of `split` (`val` after each epoch is the plugin's choice; `test` at the end). */
  abstract evaluate(ctx: StepContext, model: M, dataset: TrainDataset, split: string): Promise<MetricValues>;

  /** The model (with whatever else resuming needs, e.g. optimizer state) as bytes. */
  abstract save(model: M): Uint8Array | Promise<Uint8Array>;

  /** The model back from `save`'s bytes. */
  abstract load(bytes: Uint8Array, dataset: TrainDataset): M | Promise<M>;

  /** Predictions for items (the inference action); optional. */
  predict?(ctx: StepContext, model: M, items: TrainDatasetItem[], classes: string[]): Promise<Prediction[]>;

  /** Training runs as the train workflow (dataset, epochs, evaluate, register), not through `start`. */
  async start(_ctx: RunContext<TrainParams<H>>): Promise<unknown> {
    throw new NonRetriableError(
      'a trainer runs as the train workflow: start it with a worker (`synapse plugin run train <params> --plugin <plugin>`), not --debug',
    );
  }
}

/** @deprecated The older name of TrainAction (the same class): extend TrainAction. */
export const BaseTrainer = TrainAction;
/** @deprecated The older name of TrainAction. */
export type BaseTrainer<M = unknown, H extends BaseHyperparameters = BaseHyperparameters> = TrainAction<M, H>;

/** Whether `value` is a trainer class (extends TrainAction, or BaseTrainer: the same class), TypeScript or Python. */
export function isTrainerClass(value: unknown): value is typeof TrainAction {
  return typeof value === 'function' && value.prototype instanceof TrainAction;
}

/**
 * The class the loader makes for an action whose code is Python: the engine runs the
 * Python `Trainer` named by `python` in a child process (activities/python-runtime.ts), so
 * none of these methods is called in TypeScript.
 */
export class PythonTrainer extends TrainAction<never> {
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
  return (
    typeof value === 'function' && (value.prototype instanceof PythonTrainer || value === PythonTrainer) && (value as typeof PythonTrainer).python !== undefined
  );
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

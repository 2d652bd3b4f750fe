/**
 * The train run's epoch steps (workflows/train.ts owns the loop):
 * - trainPrepare: checks params (name unique among models and active runs, the start model,
 *   the storage), makes the plugin's Python environment, downloads the dataset into the
 *   local cache (verified, heartbeating, reused);
 * - trainEpoch: one epoch of the plugin's `trainEpoch`, from the previous epoch's checkpoint
 *   (or a mid-epoch one of an earlier attempt), then the model saved to storage at a fixed
 *   key and recorded as the run's checkpoint;
 * - trainEvaluate: the final model's metrics on the test split;
 * - trainRegister: the model archive uploaded and the platform's model row written.
 * The test and inference actions' steps are in model-actions.ts.
 *
 * Each runs in the step harness (step.ts); the trainer's code runs in the trainer host
 * (trainer-host.ts: TypeScript in the plugin's host process, plugin-host-run-train.ts; Python in
 * a warm child process), never in the worker. Model bytes cross to and from the host; the
 * storages, checkpoints and run events stay here. Every step is idempotent: keys are fixed per
 * run and epoch, the model row is keyed by (run, name).
 */
import { Context } from '@temporalio/activity';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NonRetriableError, ParamsError, SynapseError } from '../contracts/errors.js';
import type { MetricValues, ProgressSnapshot } from '../contracts/run-state.js';
import type { EpochTotals, ModelRef, RegisteredModel, TrainCheckpointState, TrainPrepareOutput, TrainResumePoint } from '../contracts/train.js';
import { assertNameFree } from '../platform/model-names.js';
import { createModel } from '../platform/repositories/models.js';
import { getStorage } from '../platform/repositories/storages.js';
import { isPythonTrainerClass, type TrainDatasetItem, type TrainParams } from '../sdk/trainer.js';
import { TRAINER, type TrainerClass } from './action-kinds.js';
import { packTarGz } from './model-archive.js';
import { ensurePythonEnv } from './python-runtime.js';
import type { StepDeps, StepInput, StepSpec } from './step.js';
import type { TrainData } from './train-data.js';
import { formatMetrics, hostDataset, hostEpochResult, hostOptions, pythonSink, trainerOf, type TrainerHost } from './trainer-host.js';
import { parseTrainerParams, type EpochTarget, type TrainEpochArgs } from './plugin-host-run-train.js';

export interface TrainActivityInput extends StepInput {
  /** Seconds without a sign of life from the step before it is retried (Python: killed as hung). */
  heartbeatTimeoutSeconds: number;
}

export interface TrainEpochInput extends TrainActivityInput {
  epoch: number;
  epochs: number;
  /** The dataset the run prepared (TrainPrepareOutput.fingerprint): every epoch trains on the same data. */
  fingerprint?: string;
  /** The previous epoch's checkpoint; null for the first epoch (a new model or params.checkpoint). */
  from: ModelRef | null;
}

export interface TrainEpochOutput {
  metrics: MetricValues;
  checkpoint: ModelRef;
  /** Steps of the epoch skipped because a mid-epoch checkpoint had them. */
  resumedAtStep: number;
  attempt: number;
  seconds: number;
  /** The epoch's last progress (its final step), merged by the workflow: no signal for it (bounded history). */
  report?: ProgressSnapshot;
}

export interface TrainRegisterInput extends TrainActivityInput {
  model: ModelRef;
  metrics: MetricValues;
  epochs: number;
  classes: string[];
}

/** What the train and model steps share in a worker process: the platform's datasets and models, and the trainer host. */
export interface TrainingDeps extends StepDeps {
  data: TrainData;
  host: TrainerHost;
}

/** The per-epoch seed: the same (seed, epoch) in every attempt and every resumed run. */
export function epochSeed(seed: number, epoch: number): number {
  return (seed * 100_003 + epoch) % 2 ** 32;
}

/**
 * A trainer's running sums, checked before they are saved with a mid-epoch checkpoint: an
 * object of finite numbers. Anything else is the trainer's bug: NonRetriableError naming the key.
 */
export function epochTotals(totals: unknown): EpochTotals {
  if (typeof totals !== 'object' || totals === null || Array.isArray(totals)) {
    throw new NonRetriableError(`checkpointStep(step, totals): totals must be an object of numbers, got ${Array.isArray(totals) ? 'an array' : typeof totals}`);
  }
  const out: EpochTotals = {};
  for (const [key, value] of Object.entries(totals)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new NonRetriableError(`checkpointStep(step, totals): totals.${key} must be a finite number, got ${JSON.stringify(value) ?? String(value)}`);
    }
    out[key] = value;
  }
  return out;
}

export function checkpointKey(runId: string, epoch: number, partial = false): string {
  return `train/${runId}/epoch-${String(epoch).padStart(5, '0')}${partial ? '.partial' : ''}.ckpt`;
}

/** A train run's action: a trainer, params with its own hyperparameters (a TypeScript trainer's parsed in its plugin host). */
const TRAIN: StepSpec<TrainerClass, TrainParams> = {
  kind: TRAINER,
  params: (raw, { cls, subject }) => parseTrainerParams('train', cls, raw, subject) as TrainParams,
  host: 'train',
};

export function createTrainActivities({ store, platform, dataDir, steps, data, host }: TrainingDeps) {
  const { db, storageFor } = platform;

  return {
    async trainPrepare(input: TrainActivityInput & { resume?: TrainResumePoint }): Promise<TrainPrepareOutput> {
      return steps.step(input, TRAIN, { marksRunning: true }, async ({ action, cls, params, ctx }) => {
        const resume = input.resume;
        if (resume && ctx.resumeState() === undefined) {
          // This run starts where the earlier one stopped: recorded here, so that resuming *this*
          // run before it finishes an epoch keeps that point (and the earlier epochs' metrics).
          for (const h of resume.history) ctx.log('epoch_history', { epoch: h.epoch, metrics: h.metrics, run: resume.runId });
          await ctx.checkpoint({ kind: 'train', epoch: resume.epoch, model: resume.model } satisfies TrainCheckpointState);
          ctx.logMessage(`resuming run ${resume.runId} after epoch ${resume.epoch}`);
        }
        await assertNameFree(db, store, params.name, input.runId);
        if (params.checkpoint !== undefined) await data.modelFor(action, params.checkpoint, 'checkpoint');
        await storageFor(params.storage).catch((err: unknown) => {
          throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [{ path: 'storage', message: (err as Error).message }]);
        });
        if (isPythonTrainerClass(cls)) await ensurePythonEnv(action.plugin, dataDir, (line) => ctx.logMessage(line));
        ctx.setStep('download dataset');
        const activity = Context.current();
        const dataset = await data
          .dataset(
            params.dataset,
            'full',
            (bytes, files, total) => {
              ctx.setProgress(files, total, 'dataset');
              activity.heartbeat({ bytes, files });
            },
            activity.cancellationSignal,
          )
          .catch((err: unknown) => {
            if (err instanceof SynapseError && /unknown ground-truth version/.test(err.message)) {
              throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [{ path: 'dataset', message: err.message }]);
            }
            throw err;
          });
        const splits: Record<string, number> = {};
        for (const item of dataset.items) splits[item.split] = (splits[item.split] ?? 0) + 1;
        if (!dataset.items.some((i) => i.label !== null)) throw new NonRetriableError(`ground-truth version ${params.dataset} has no annotated items`);
        ctx.setProgress(dataset.items.length, dataset.items.length, 'dataset');
        ctx.logMessage(
          dataset.downloaded > 0
            ? `dataset: ${dataset.items.length} items, ${dataset.downloaded} files (${dataset.bytes} bytes) downloaded to ${dataset.dir}`
            : `dataset: ${dataset.items.length} items, reused from ${dataset.dir}`,
        );
        // The workflow shows the dataset from this result: no signal for the last progress (bounded history).
        ctx.takeFinalReport();
        return {
          epochs: params.hyperparameters.epochs,
          classes: dataset.classes,
          items: dataset.items.length,
          splits,
          fingerprint: dataset.fingerprint,
          downloadedBytes: dataset.bytes,
        };
      });
    },

    async trainEpoch(input: TrainEpochInput): Promise<TrainEpochOutput> {
      const started = performance.now();
      return steps.step(input, TRAIN, {}, async ({ action, cls, params, ctx, host: hosted }) => {
        const activity = Context.current();
        const trainer = trainerOf(action, cls, hosted);
        const { epoch, epochs } = input;
        const storage = await storageFor(params.storage);
        const storageNo = (await getStorage(db, params.storage)).id;
        const dataset = await data.runDataset(params.dataset, input.fingerprint);
        const seed = epochSeed(params.hyperparameters.seed, epoch);
        const numCpus = params.num_cpus ?? os.availableParallelism();
        ctx.setStep(`epoch ${epoch}/${epochs}`);

        // Where this epoch starts: a mid-epoch checkpoint of an earlier attempt, else the previous epoch.
        const saved = ctx.resumeState<TrainCheckpointState>();
        const partial = saved?.kind === 'train' && saved.partial?.epoch === epoch ? saved.partial : undefined;
        let startStep = 0;
        let startTotals: EpochTotals = {};
        let source: { bytes: () => Promise<Buffer>; what: string } | undefined;
        if (partial) {
          startStep = partial.step;
          startTotals = partial.totals ?? {};
          source = { bytes: async () => (await storageFor(partial.model.storage)).get(partial.model.key), what: `step ${partial.step} of epoch ${epoch}` };
        } else if (input.from) {
          const from = input.from;
          source = { bytes: async () => (await storageFor(from.storage)).get(from.key), what: `epoch ${epoch - 1}` };
        } else if (params.checkpoint !== undefined) {
          const model = await data.modelFor(action, params.checkpoint, 'checkpoint');
          source = { bytes: () => data.modelBytes(model), what: `model ${model.id} (${model.name})` };
        }
        ctx.logMessage(`epoch ${epoch}/${epochs} starts${source ? ` from ${source.what}` : ' from a new model'} (attempt ${activity.info.attempt})`);

        const partialKey = checkpointKey(input.runId, epoch, true);
        const saveStep = async (stepNo: number, bytes: Uint8Array, totals: EpochTotals | undefined): Promise<void> => {
          await storage.put(partialKey, Buffer.from(bytes));
          const state: TrainCheckpointState = {
            kind: 'train',
            epoch: epoch - 1,
            model: input.from,
            partial: { epoch, step: stepNo, model: { storage: storageNo, key: partialKey }, ...(totals ? { totals } : {}) },
          };
          await ctx.checkpoint(state);
          ctx.log('step_checkpoint', { epoch, step: stepNo });
        };

        const epochKey = checkpointKey(input.runId, epoch);
        let metrics: MetricValues;
        const work = host.workDir(input.runId, `epoch-${epoch}`);
        try {
          metrics = await host.run(
            trainer,
            ctx,
            input,
            async (hostRun) => {
              // In the plugin's host: prepare (once per dataset there), load or createModel, trainEpoch, save.
              const args: TrainEpochArgs = {
                dataset: hostDataset(dataset),
                epoch,
                epochs,
                seed,
                startStep,
                totals: startTotals,
                numCpus,
                model: source ? await source.bytes() : null,
              };
              // The trainer's ctx.checkpointStep(step, totals): its model's bytes, checked here (they come from plugin code).
              const target: EpochTarget = {
                saveStep: async (stepNo: unknown, bytes: unknown, totals: unknown) => {
                  if (typeof stepNo !== 'number' || !Number.isSafeInteger(stepNo) || stepNo < 0) {
                    throw new NonRetriableError(
                      `checkpointStep(step, totals): step must be a whole number >= 0, got ${JSON.stringify(stepNo) ?? String(stepNo)}`,
                    );
                  }
                  if (!(bytes instanceof Uint8Array)) throw new NonRetriableError(`${cls.name}.save() must return a Uint8Array, got ${typeof bytes}`);
                  await saveStep(stepNo, bytes, totals === undefined ? undefined : epochTotals(totals));
                },
              };
              const out = hostEpochResult(await hostRun.run('train-epoch', [args], hostOptions(ctx, dataset, { epoch: target })), cls);
              await storage.put(epochKey, Buffer.from(out.model));
              return out.metrics;
            },
            async (proc, silenceLimitMs) => {
              const modelIn = path.join(work, 'in.ckpt');
              if (source) writeFileSync(modelIn, await source.bytes());
              const modelOut = path.join(work, 'out.ckpt');
              const m = await proc.call<MetricValues>(
                'train_epoch',
                {
                  ...host.pythonArgs(trainer, input, dataset, params.num_cpus, activity.info.attempt),
                  epoch,
                  epochs,
                  seed,
                  hyperparameters: params.hyperparameters,
                  model_in: source ? modelIn : null,
                  model_out: modelOut,
                  start_step: startStep,
                  start_totals: startTotals,
                  partial_path: path.join(work, 'partial.ckpt'),
                },
                {
                  sink: pythonSink(ctx),
                  signal: ctx.signal,
                  silenceLimitMs,
                  onCheckpoint: async (stepNo, file, totals) => saveStep(stepNo, readFileSync(file), totals === undefined ? undefined : epochTotals(totals)),
                },
              );
              await storage.put(epochKey, readFileSync(modelOut));
              return m;
            },
          );
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
        const model = { storage: storageNo, key: epochKey };
        await ctx.checkpoint({ kind: 'train', epoch, model } satisfies TrainCheckpointState);
        ctx.setMetrics({ epoch, ...metrics }, 'train');
        ctx.log('epoch_end', { epoch, epochs, metrics });
        ctx.logMessage(`epoch ${epoch}/${epochs}: ${formatMetrics(metrics)}`);
        // The partial checkpoint is superseded by the epoch's.
        await storage.delete(partialKey);
        const { attempt: _attempt, ...report } = ctx.takeFinalReport();
        return { metrics, checkpoint: model, resumedAtStep: startStep, attempt: activity.info.attempt, seconds: (performance.now() - started) / 1000, report };
      });
    },

    async trainEvaluate(input: TrainActivityInput & { model: ModelRef; fingerprint?: string }): Promise<MetricValues> {
      return steps.step(input, TRAIN, {}, async ({ action, cls, params, ctx, host: hosted }) => {
        ctx.setStep('evaluate');
        const dataset = await data.runDataset(params.dataset, input.fingerprint);
        const split = pickSplit(dataset.items);
        const metrics = await host.evaluate(trainerOf(action, cls, hosted), ctx, input, dataset, split, params.num_cpus, async () =>
          (await storageFor(input.model.storage)).get(input.model.key),
        );
        ctx.logMessage(`evaluation on ${split} (${dataset.items.filter((i) => split === 'all' || i.split === split).length} items): ${formatMetrics(metrics)}`);
        // The workflow records these metrics from the result: no signal for them (bounded history).
        ctx.takeFinalReport();
        return { split, ...metrics };
      });
    },

    async trainRegister(input: TrainRegisterInput): Promise<RegisteredModel> {
      return steps.step(input, TRAIN, {}, async ({ params, ctx }) => {
        ctx.setStep('register model');
        await assertNameFree(db, store, params.name, input.runId);
        const storage = await storageFor(params.storage);
        const bytes = await (await storageFor(input.model.storage)).get(input.model.key);
        const numeric = Object.fromEntries(
          Object.entries(input.metrics).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])),
        );
        const meta = {
          name: params.name,
          ...(params.description !== undefined ? { description: params.description } : {}),
          plugin: { code: input.plugin.code, version: input.plugin.version },
          run: input.runId,
          dataset: params.dataset,
          classes: input.classes,
          epochs: input.epochs,
          hyperparameters: params.hyperparameters,
          metrics: numeric,
          ...(params.checkpoint !== undefined ? { trained_from: params.checkpoint } : {}),
        };
        const archive = packTarGz([
          { name: 'model.json', data: Buffer.from(JSON.stringify(meta, null, 2)) },
          { name: 'model.bin', data: bytes },
        ]);
        const key = `models/${input.runId}.tar.gz`;
        await storage.put(key, archive, { contentType: 'application/gzip' });
        ctx.setProgress(1, 1, 'model_upload');
        const storageNo = (await getStorage(db, params.storage)).id;
        const model = await createModel(db, {
          name: params.name,
          plugin: { code: input.plugin.code, version: input.plugin.version },
          file: { storage: storageNo, key },
          configuration: {
            ...(params.description !== undefined ? { description: params.description } : {}),
            action: input.action,
            dataset: params.dataset,
            classes: input.classes,
            epochs: input.epochs,
            hyperparameters: params.hyperparameters,
            ...(params.checkpoint !== undefined ? { trained_from: params.checkpoint } : {}),
          },
          metrics: numeric,
          runId: input.runId,
        });
        ctx.logMessage(`model ${model.id} "${model.name}" registered (${archive.length} bytes at ${key})`);
        // model_upload is the workflow's own progress: no signal for it (bounded history).
        ctx.takeFinalReport();
        return { id: model.id, name: model.name, file: { storage: storageNo, key }, metrics: model.metrics };
      });
    },
  };
}

/** The final evaluation's split: `test`, else `val`, else every item. */
function pickSplit(items: TrainDatasetItem[]): string {
  for (const s of ['test', 'val']) if (items.some((i) => i.split === s)) return s;
  return 'all';
}

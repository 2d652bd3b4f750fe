/**
 * The train run's activities (workflows/train.ts owns the loop):
 * - trainPrepare: checks params (name unique among models and active runs, the start model,
 *   the storage), makes the plugin's Python environment, downloads the dataset into the
 *   local cache (verified, heartbeating, reused);
 * - trainEpoch: one epoch of the plugin's `trainEpoch`, from the previous epoch's checkpoint
 *   (or a mid-epoch one of an earlier attempt), then the model saved to storage at a fixed
 *   key and recorded as the run's checkpoint;
 * - trainEvaluate: the final model's metrics on the test split;
 * - trainRegister: the model archive uploaded and the platform's model row written.
 * And the test and inference actions: modelTest and modelInference.
 *
 * TypeScript trainers run in this process; Python trainers in a warm child process
 * (python-runtime.ts). Every step is idempotent: keys are fixed per run and epoch, the model
 * row is keyed by (run, name), predictions are upserts.
 */
import { Context } from '@temporalio/activity';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../platform/repositories/common.js';
import { createModel, getModel, listModels, type Model } from '../platform/repositories/models.js';
import { getProject, listTasks, upsertAssignments } from '../platform/repositories/projects.js';
import { getStorage } from '../platform/repositories/storages.js';
import type { RunStore } from '../platform/run-store.js';
import { NonRetriableError, ParamsError, SynapseError } from '../contracts/errors.js';
import { loadRunAction, type ResolvedAction } from '../engine/plugin-loader.js';
import type { RunContext } from '../sdk/run-context.js';
import {
  isPythonTrainerClass,
  isTrainerClass,
  ModelInferenceParams,
  ModelTestParams,
  parseTrainParams,
  type BaseTrainer,
  type Prediction,
  type TrainContext,
  type TrainDataset,
  type TrainDatasetItem,
  type TrainParams,
} from '../sdk/trainer.js';
import { zodProblems } from '../contracts/problems.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { MetricValues } from '../contracts/run-state.js';
import type { ModelRef, RegisteredModel, TrainCheckpointState, TrainPrepareOutput, TrainResumePoint } from '../contracts/train.js';
import { assertNameFree } from '../platform/model-names.js';
import { ActivityRunContext } from './activity-run-context.js';
import { ensureDatasetCache, type CachedDataset } from './dataset-cache.js';
import { platformAccess } from './platform-access.js';
import { rethrowAsFailure } from './failures.js';
import { packTarGz, unpackTarGz } from './model-archive.js';
import { acquirePython, ensurePythonEnv, PythonRuntimeError, releasePython, type PythonProcess } from './python-runtime.js';

export interface TrainActivityInput extends Pick<RunActionInput, 'plugin' | 'action' | 'params'> {
  runId: string;
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
}


export interface TrainRegisterInput extends TrainActivityInput {
  model: ModelRef;
  metrics: MetricValues;
  epochs: number;
  classes: string[];
}


export interface TrainDeps {
  store: RunStore;
  dataDir: string;
}

/** The per-epoch seed: the same (seed, epoch) in every attempt and every resumed run. */
export function epochSeed(seed: number, epoch: number): number {
  return (seed * 100_003 + epoch) % 2 ** 32;
}

export function checkpointKey(runId: string, epoch: number, partial = false): string {
  return `train/${runId}/epoch-${String(epoch).padStart(5, '0')}${partial ? '.partial' : ''}.ckpt`;
}

type TrainerClass = Omit<typeof BaseTrainer, 'prototype'> & (new () => BaseTrainer);

interface Loaded {
  action: ResolvedAction;
  cls: TrainerClass;
  python?: { pluginDir: string; module: string; className: string };
}

/** TypeScript trainers and what they prepared, per worker process: like a warm Python process. */
const tsTrainers = new Map<TrainerClass, { trainer: BaseTrainer; prepared: string | undefined }>();

export function createTrainActivities({ store, dataDir }: TrainDeps) {
  // The platform database and the open storages of this worker's train activities.
  const { db, storageFor } = platformAccess(dataDir);
  const storageId = async (ref: number | string): Promise<number> => (await getStorage(await db(), ref)).id;

  async function load(input: Pick<TrainActivityInput, 'plugin' | 'action'>): Promise<Loaded> {
    const action = await loadRunAction(input.plugin, input.action);
    if (!isTrainerClass(action.cls)) {
      throw new NonRetriableError(`${input.plugin.code} ${input.action}: ${action.cls.name} is not a BaseTrainer (a train, test or inference run needs one)`);
    }
    const cls = action.cls as unknown as TrainerClass;
    return { action, cls, ...(isPythonTrainerClass(cls) ? { python: cls.python } : {}) };
  }

  /** Datasets this process has checked, by version and fingerprint: later epochs skip the database and the file checks. */
  const known = new Map<string, CachedDataset>();
  const dataset = async (versionId: number, verify: 'full' | 'size', onProgress?: (bytes: number, files: number, total: number) => void, signal?: AbortSignal): Promise<CachedDataset> => {
    const database = await db();
    const data = await ensureDatasetCache(versionId, { db: database, dataDir, storageFor: (id) => storageFor(id), verify, ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) });
    known.set(`${versionId}:${data.fingerprint}`, data);
    return data;
  };
  /** The run's dataset for an epoch: as prepared, from memory when this process has it. */
  const runDataset = async (versionId: number, fingerprint: string | undefined): Promise<CachedDataset> => {
    const hit = fingerprint === undefined ? undefined : known.get(`${versionId}:${fingerprint}`);
    if (hit && existsSync(hit.indexFile)) return hit;
    const data = await dataset(versionId, 'size');
    if (fingerprint !== undefined && data.fingerprint !== fingerprint) {
      throw new NonRetriableError(`ground-truth version ${versionId} changed after this run downloaded it (dataset ${fingerprint}, now ${data.fingerprint}): start a new run to train on the new data`);
    }
    return data;
  };

  /** A step's scratch folder, removed afterwards. */
  const workDir = (runId: string, name: string): string => {
    const dir = path.join(path.resolve(dataDir), 'cache', 'train-work', runId.replace(/[^\w.-]/g, '_'), `${name}-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  /** The bytes of a registered model (model.bin of its archive). */
  async function modelBytes(model: Model): Promise<Buffer> {
    if (!model.file) throw new NonRetriableError(`model ${model.id} has no file`);
    const archive = await (await storageFor(model.file.storage)).get(model.file.key);
    const bin = unpackTarGz(archive, `model ${model.id} (${model.file.key})`).get('model.bin');
    if (!bin) throw new NonRetriableError(`model ${model.id}'s archive has no model.bin`);
    return bin;
  }

  async function checkModelFor(loaded: Loaded, modelId: number, field: string): Promise<Model> {
    const model = await getModel(await db(), modelId).catch((err: unknown) => {
      throw new ParamsError(`invalid params for ${loaded.action.plugin.config.code} ${loaded.action.name}`, [{ path: field, message: (err as Error).message }]);
    });
    if (model.plugin.code !== loaded.action.plugin.config.code) {
      throw new ParamsError(`invalid params for ${loaded.action.plugin.config.code} ${loaded.action.name}`, [
        { path: field, message: `model ${modelId} was trained by plugin ${model.plugin.code}, not ${loaded.action.plugin.config.code}` },
      ]);
    }
    return model;
  }

  /** Runs a TypeScript trainer step or a Python call with the same inputs. */
  async function withTrainer<T>(
    loaded: Loaded,
    ctx: ActivityRunContext<unknown>,
    heartbeatTimeoutSeconds: number,
    ts: (trainer: BaseTrainer) => Promise<T>,
    py: (proc: PythonProcess, silenceLimitMs: number) => Promise<T>,
  ): Promise<T> {
    if (!loaded.python) {
      let entry = tsTrainers.get(loaded.cls);
      if (!entry) {
        entry = { trainer: new loaded.cls(), prepared: undefined };
        tsTrainers.set(loaded.cls, entry);
      }
      return ts(entry.trainer);
    }
    const python = await ensurePythonEnv(loaded.action.plugin, dataDir, (line) => ctx.logMessage(line, 'DEBUG'));
    const proc = await acquirePython(python, loaded.python.pluginDir, (pid) => {
      ctx.logMessage(`python runtime pid ${pid} started (${python})`);
      ctx.log('python_started', { pid });
    });
    let healthy = false;
    try {
      const value = await py(proc, Math.max(5, heartbeatTimeoutSeconds) * 1000);
      healthy = true;
      return value;
    } catch (err) {
      // A cancelled or refused call leaves a healthy process; a crash or hang does not.
      healthy = proc.alive && !(err instanceof PythonRuntimeError);
      throw err;
    } finally {
      releasePython(proc, healthy);
    }
  }

  async function preparedTs(trainer: BaseTrainer, tctx: TrainContext, data: CachedDataset): Promise<void> {
    const entry = [...tsTrainers.values()].find((e) => e.trainer === trainer);
    if (entry && entry.prepared === data.fingerprint) return;
    await trainer.prepare(tctx, data);
    if (entry) entry.prepared = data.fingerprint;
  }

  function pythonArgs(loaded: Loaded, input: { runId: string; params: unknown }, data: CachedDataset, numCpus: number | undefined, attempt: number): Record<string, unknown> {
    return {
      module: loaded.python!.module,
      class_name: loaded.python!.className,
      dataset_index: data.indexFile,
      run_id: input.runId,
      params: input.params,
      attempt,
      num_cpus: numCpus ?? null,
    };
  }

  function trainContext(ctx: ActivityRunContext<TrainParams>, numCpus: number, checkpointStep: (step: number) => Promise<void>): TrainContext {
    return {
      runId: ctx.runId,
      params: ctx.params,
      envs: ctx.envs,
      signal: ctx.signal,
      attempt: ctx.attempt,
      numCpus,
      logMessage: (m, l) => ctx.logMessage(m, l),
      log: (e, d) => ctx.log(e, d),
      // Batch progress inside an epoch is the `epoch` category; `train` counts epochs (the workflow's).
      setProgress: (c, t, cat) => ctx.setProgress(c, t, cat === undefined || cat === 'train' ? 'epoch' : cat),
      setMetrics: (v, cat) => ctx.setMetrics(v, cat),
      checkpointStep,
      checkpoint: () => Promise.reject(new NonRetriableError('a trainer saves with ctx.checkpointStep(step); the engine keeps the run checkpoint')),
      resumeState: () => undefined,
    };
  }

  /** Everything a step needs: the action, its params, a run context. */
  async function open(input: TrainActivityInput) {
    const loaded = await load(input);
    const params = parseTrainParams(loaded.cls, input.params, `invalid params for ${input.plugin.code} ${input.action}`);
    const ctx = await ActivityRunContext.create({ runId: input.runId, params, activity: Context.current(), store, progressCategories: loaded.action.progressCategories });
    return { loaded, params, ctx };
  }

  /** Runs `fn` with our errors turned into failures, cancellation kept as it is, the context closed. */
  async function step<T>(ctx: ActivityRunContext<unknown>, fn: () => Promise<T>): Promise<T> {
    const activity = Context.current();
    try {
      const value = await fn();
      if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
      return value;
    } catch (err) {
      if (activity.cancellationSignal.aborted) {
        ctx.logMessage('step cancelled', 'WARNING');
        throw activity.cancellationSignal.reason;
      }
      ctx.logMessage(`attempt ${activity.info.attempt} of ${activity.info.activityType} failed: ${err instanceof Error ? err.message : String(err)}`, 'ERROR');
      return rethrowAsFailure(err);
    } finally {
      await ctx.close();
    }
  }

  return {
    async trainPrepare(input: TrainActivityInput & { resume?: TrainResumePoint }): Promise<TrainPrepareOutput> {
      const { loaded, params, ctx } = await guard(() => open(input));
      return step(ctx, async () => {
        await store.updateRun(input.runId, { status: 'running' });
        const resume = input.resume;
        if (resume && ctx.resumeState() === undefined) {
          // This run starts where the earlier one stopped: recorded here, so that resuming *this*
          // run before it finishes an epoch keeps that point (and the earlier epochs' metrics).
          for (const h of resume.history) ctx.log('epoch_history', { epoch: h.epoch, metrics: h.metrics, run: resume.runId });
          await ctx.checkpoint({ kind: 'train', epoch: resume.epoch, model: resume.model } satisfies TrainCheckpointState);
          ctx.logMessage(`resuming run ${resume.runId} after epoch ${resume.epoch}`);
        }
        const database = await db();
        await assertNameFree(database, store, params.name, input.runId);
        if (params.checkpoint !== undefined) await checkModelFor(loaded, params.checkpoint, 'checkpoint');
        await storageFor(params.storage).catch((err: unknown) => {
          throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [{ path: 'storage', message: (err as Error).message }]);
        });
        if (loaded.python) await ensurePythonEnv(loaded.action.plugin, dataDir, (line) => ctx.logMessage(line));
        ctx.setStep('download dataset');
        const activity = Context.current();
        const data = await dataset(
          params.dataset,
          'full',
          (bytes, files, total) => {
            ctx.setProgress(files, total, 'dataset');
            activity.heartbeat({ bytes, files });
          },
          activity.cancellationSignal,
        ).catch((err: unknown) => {
          if (err instanceof SynapseError && /unknown ground-truth version/.test(err.message)) {
            throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [{ path: 'dataset', message: err.message }]);
          }
          throw err;
        });
        const splits: Record<string, number> = {};
        for (const item of data.items) splits[item.split] = (splits[item.split] ?? 0) + 1;
        if (!data.items.some((i) => i.label !== null)) throw new NonRetriableError(`ground-truth version ${params.dataset} has no annotated items`);
        ctx.setProgress(data.items.length, data.items.length, 'dataset');
        ctx.logMessage(
          data.downloaded > 0
            ? `dataset: ${data.items.length} items, ${data.downloaded} files (${data.bytes} bytes) downloaded to ${data.dir}`
            : `dataset: ${data.items.length} items, reused from ${data.dir}`,
        );
        return {
          epochs: params.hyperparameters.epochs,
          classes: data.classes,
          items: data.items.length,
          splits,
          fingerprint: data.fingerprint,
          downloadedBytes: data.bytes,
        };
      });
    },

    async trainEpoch(input: TrainEpochInput): Promise<TrainEpochOutput> {
      const started = performance.now();
      const { loaded, params, ctx } = await guard(() => open(input));
      const activity = Context.current();
      return step(ctx, async () => {
        const { epoch, epochs } = input;
        const storage = await storageFor(params.storage);
        const storageNo = await storageId(params.storage);
        const data = await runDataset(params.dataset, input.fingerprint);
        const seed = epochSeed(params.hyperparameters.seed, epoch);
        const numCpus = params.num_cpus ?? os.availableParallelism();
        ctx.setStep(`epoch ${epoch}/${epochs}`);

        // Where this epoch starts: a mid-epoch checkpoint of an earlier attempt, else the previous epoch.
        const saved = ctx.resumeState<TrainCheckpointState>();
        const partial = saved?.kind === 'train' && saved.partial?.epoch === epoch ? saved.partial : undefined;
        let startStep = 0;
        let source: { bytes: () => Promise<Buffer>; what: string } | undefined;
        if (partial) {
          startStep = partial.step;
          source = { bytes: async () => (await storageFor(partial.model.storage)).get(partial.model.key), what: `step ${partial.step} of epoch ${epoch}` };
        } else if (input.from) {
          const from = input.from;
          source = { bytes: async () => (await storageFor(from.storage)).get(from.key), what: `epoch ${epoch - 1}` };
        } else if (params.checkpoint !== undefined) {
          const model = await checkModelFor(loaded, params.checkpoint, 'checkpoint');
          source = { bytes: () => modelBytes(model), what: `model ${model.id} (${model.name})` };
        }
        ctx.logMessage(`epoch ${epoch}/${epochs} starts${source ? ` from ${source.what}` : ' from a new model'} (attempt ${activity.info.attempt})`);

        const partialKey = checkpointKey(input.runId, epoch, true);
        const saveStep = async (stepNo: number, bytes: Uint8Array): Promise<void> => {
          await storage.put(partialKey, Buffer.from(bytes));
          const state: TrainCheckpointState = {
            kind: 'train',
            epoch: epoch - 1,
            model: input.from,
            partial: { epoch, step: stepNo, model: { storage: storageNo, key: partialKey } },
          };
          await ctx.checkpoint(state);
          ctx.log('step_checkpoint', { epoch, step: stepNo });
        };

        const epochKey = checkpointKey(input.runId, epoch);
        let metrics: MetricValues;
        const work = workDir(input.runId, `epoch-${epoch}`);
        try {
          metrics = await withTrainer(
            loaded,
            ctx as ActivityRunContext<unknown>,
            input.heartbeatTimeoutSeconds,
            async (trainer) => {
              let state: { model: unknown } | undefined;
              const tctx = trainContext(ctx, numCpus, async (stepNo) => {
                if (!state) throw new Error('checkpointStep() is only available inside trainEpoch');
                await saveStep(stepNo, await trainer.save(state.model as never));
              });
              await preparedTs(trainer, tctx, data);
              const model = source ? await trainer.load(await source.bytes(), data) : await trainer.createModel(tctx, data);
              const epochState = { epoch, epochs, seed, model, startStep, dataset: data as TrainDataset, hyperparameters: params.hyperparameters };
              state = epochState;
              const m = await trainer.trainEpoch(tctx, epochState as never);
              if (ctx.signal.aborted) throw ctx.signal.reason;
              await storage.put(epochKey, Buffer.from(await trainer.save(epochState.model as never)));
              return m;
            },
            async (proc, silenceLimitMs) => {
              const modelIn = path.join(work, 'in.ckpt');
              if (source) writeFileSync(modelIn, await source.bytes());
              const modelOut = path.join(work, 'out.ckpt');
              const m = await proc.call<MetricValues>(
                'train_epoch',
                {
                  ...pythonArgs(loaded, input, data, params.num_cpus, activity.info.attempt),
                  epoch,
                  epochs,
                  seed,
                  hyperparameters: params.hyperparameters,
                  model_in: source ? modelIn : null,
                  model_out: modelOut,
                  start_step: startStep,
                  partial_path: path.join(work, 'partial.ckpt'),
                },
                {
                  sink: pythonSink(ctx),
                  signal: ctx.signal,
                  silenceLimitMs,
                  onCheckpoint: async (stepNo, file) => saveStep(stepNo, readFileSync(file)),
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
        return { metrics, checkpoint: model, resumedAtStep: startStep, attempt: activity.info.attempt, seconds: (performance.now() - started) / 1000 };
      });
    },

    async trainEvaluate(input: TrainActivityInput & { model: ModelRef; fingerprint?: string }): Promise<MetricValues> {
      const { loaded, params, ctx } = await guard(() => open(input));
      return step(ctx, async () => {
        ctx.setStep('evaluate');
        const data = await runDataset(params.dataset, input.fingerprint);
        const split = pickSplit(data.items);
        const metrics = await evaluateModel(loaded, ctx as ActivityRunContext<unknown>, input, data, split, params.num_cpus, async () => (await storageFor(input.model.storage)).get(input.model.key));
        ctx.logMessage(`evaluation on ${split} (${data.items.filter((i) => split === 'all' || i.split === split).length} items): ${formatMetrics(metrics)}`);
        return { split, ...metrics };
      });
    },

    async trainRegister(input: TrainRegisterInput): Promise<RegisteredModel> {
      const { params, ctx } = await guard(() => open(input));
      return step(ctx, async () => {
        ctx.setStep('register model');
        const database = await db();
        await assertNameFree(database, store, params.name, input.runId);
        const storage = await storageFor(params.storage);
        const bytes = await (await storageFor(input.model.storage)).get(input.model.key);
        const numeric = Object.fromEntries(Object.entries(input.metrics).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
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
        const storageNo = await storageId(params.storage);
        const model = await createModel(database, {
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
        return { id: model.id, name: model.name, file: { storage: storageNo, key }, metrics: model.metrics };
      });
    },

    /** The test action: a registered model's metrics on a dataset version. */
    async modelTest(input: TrainActivityInput): Promise<{ model: number; split: string; items: number; metrics: MetricValues }> {
      const loaded = await guard(() => load(input));
      const params = await guard(async () => parseWith(ModelTestParams, input));
      const ctx = await ActivityRunContext.create({ runId: input.runId, params, activity: Context.current(), store, progressCategories: loaded.action.progressCategories });
      return step(ctx, async () => {
        await store.updateRun(input.runId, { status: 'running' });
        const model = await checkModelFor(loaded, params.model, 'model');
        const data = await dataset(params.dataset, 'full');
        const items = data.items.filter((i) => params.split === 'all' || i.split === params.split);
        if (items.length === 0) throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [{ path: 'split', message: `ground-truth version ${params.dataset} has no items in split "${params.split}"` }]);
        const metrics = await evaluateModel(loaded, ctx as ActivityRunContext<unknown>, input, data, params.split, params.num_cpus, () => modelBytes(model));
        ctx.setMetrics(metrics, 'test');
        ctx.log('model_tested', { model: model.id, split: params.split, metrics });
        ctx.logMessage(`model ${model.id} on ${params.split} (${items.length} items): ${formatMetrics(metrics)}`);
        return { model: model.id, split: params.split, items: items.length, metrics };
      });
    },

    /**
     * The inference action, one batch of items per call (the workflow pages): predictions as
     * annotation documents; with `project`, written as assignments of annotator `model:<id>`
     * on the project's tasks of the same data units (an upsert: a retried batch writes the same).
     */
    async modelInference(input: TrainActivityInput & { offset: number }): Promise<{ done: number; total: number; written: number; predictions: { item: number; dataUnit: number; class_name: string | null; confidence: number | null }[] }> {
      const loaded = await guard(() => load(input));
      const params = await guard(async () => parseWith(ModelInferenceParams, input));
      const ctx = await ActivityRunContext.create({ runId: input.runId, params, activity: Context.current(), store, progressCategories: loaded.action.progressCategories });
      return step(ctx, async () => {
        await store.updateRun(input.runId, { status: 'running' });
        const model = await checkModelFor(loaded, params.model, 'model');
        const data = await dataset(params.dataset, input.offset === 0 ? 'full' : 'size');
        const all = data.items.filter((i) => params.split === 'all' || i.split === params.split);
        const batch = all.slice(input.offset, input.offset + params.batch_size);
        const bytes = () => modelBytes(model);
        const predictions = await withTrainer<Prediction[]>(
          loaded,
          ctx as ActivityRunContext<unknown>,
          input.heartbeatTimeoutSeconds,
          async (trainer) => {
            if (!trainer.predict) throw new NonRetriableError(`${loaded.cls.name} has no predict()`);
            return trainer.predict(ctx as RunContext<unknown>, await trainer.load(await bytes(), data), batch, data.classes);
          },
          async (proc, silenceLimitMs) => {
            const work = workDir(input.runId, `infer-${input.offset}`);
            try {
              const modelIn = path.join(work, 'model.ckpt');
              writeFileSync(modelIn, await bytes());
              const raw = await proc.call<{ itemId: number; annotations: unknown }[]>(
                'predict',
                { ...pythonArgs(loaded, input, data, params.num_cpus, Context.current().info.attempt), model_in: modelIn, item_ids: batch.map((i) => i.id) },
                { sink: pythonSink(ctx), signal: ctx.signal, silenceLimitMs },
              );
              return raw as Prediction[];
            } finally {
              rmSync(work, { recursive: true, force: true });
            }
          },
        );
        const byItem = new Map(batch.map((i) => [i.id, i]));
        let written = 0;
        if (params.project !== undefined) {
          const database = await db();
          const project = await getProject(database, params.project);
          const wanted = new Map<number, Prediction>();
          for (const p of predictions) {
            const item = byItem.get(p.itemId);
            if (item) wanted.set(item.dataUnitId, p);
          }
          const tasks = await tasksFor(database, project.id, new Set(wanted.keys()));
          const rows = [...tasks].map(([dataUnitId, taskId]) => ({ taskId, annotator: `model:${model.id}`, status: 'completed' as const, annotations: wanted.get(dataUnitId)!.annotations }));
          if (rows.length) await upsertAssignments(database, project.id, rows);
          written = rows.length;
        }
        ctx.setProgress(Math.min(all.length, input.offset + batch.length), all.length, 'inference');
        return {
          done: input.offset + batch.length,
          total: all.length,
          written,
          predictions: predictions.map((p) => {
            const first = p.annotations.annotations[0];
            return { item: p.itemId, dataUnit: byItem.get(p.itemId)?.dataUnitId ?? 0, class_name: first?.class_name ?? null, confidence: first?.confidence ?? null };
          }),
        };
      });
    },
  };

  async function evaluateModel(
    loaded: Loaded,
    ctx: ActivityRunContext<unknown>,
    input: TrainActivityInput,
    data: CachedDataset,
    split: string,
    numCpus: number | undefined,
    bytes: () => Promise<Buffer>,
  ): Promise<MetricValues> {
    return withTrainer(
      loaded,
      ctx,
      input.heartbeatTimeoutSeconds,
      async (trainer) => trainer.evaluate(ctx, await trainer.load(await bytes(), data), data, split),
      async (proc, silenceLimitMs) => {
        const work = workDir(input.runId, 'evaluate');
        try {
          const modelIn = path.join(work, 'model.ckpt');
          writeFileSync(modelIn, await bytes());
          return await proc.call<MetricValues>('evaluate', { ...pythonArgs(loaded, input, data, numCpus, Context.current().info.attempt), model_in: modelIn, split }, { sink: pythonSink(ctx), signal: ctx.signal, silenceLimitMs });
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
      },
    );
  }
}

function parseWith<S extends typeof ModelTestParams | typeof ModelInferenceParams>(schema: S, input: TrainActivityInput) {
  const parsed = schema.safeParse(input.params ?? {});
  if (!parsed.success) throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, zodProblems(parsed.error));
  return parsed.data as ReturnType<S['parse']>;
}

/** Task ids of a project by data unit, for the data units asked for. */
async function tasksFor(db: Db, projectId: number, dataUnits: Set<number>): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (let after = 0; ; ) {
    const page = await listTasks(db, { projectId, afterId: after, limit: 1000 });
    for (const t of page) if (dataUnits.has(t.dataUnit.id)) out.set(t.dataUnit.id, t.id);
    if (page.length < 1000 || out.size === dataUnits.size) return out;
    after = page[page.length - 1]!.id;
  }
}

/** The final evaluation's split: `test`, else `val`, else every item. */
function pickSplit(items: TrainDatasetItem[]): string {
  for (const s of ['test', 'val']) if (items.some((i) => i.split === s)) return s;
  return 'all';
}

function pythonSink(ctx: ActivityRunContext<unknown> | ActivityRunContext<TrainParams>) {
  return {
    logMessage: (m: string, l?: Parameters<RunContext['logMessage']>[1]) => ctx.logMessage(m, l),
    log: (e: string, d?: Record<string, unknown>) => ctx.log(e, d),
    setProgress: (c: number, t: number, cat?: string) => ctx.setProgress(c, t, cat === undefined || cat === 'train' ? 'epoch' : cat),
    setMetrics: (v: MetricValues, cat: string) => ctx.setMetrics(v, cat),
  };
}

export function formatMetrics(metrics: MetricValues): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v)}`)
    .join(', ');
}


async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rethrowAsFailure(err);
  }
}

/**
 * Where a trainer's code runs for a train, test or inference step. TypeScript trainers run
 * in this process, one instance per class kept between steps (like a warm Python process it
 * keeps what `prepare` made for a dataset); Python trainers run in a warm child process
 * (python-runtime.ts) over the line protocol, in the plugin's own environment. A step hands
 * the host both forms of its work, `ts(trainer)` and `py(proc, silenceLimitMs)`, and the host
 * runs the one the class needs. Also here: the TrainContext a TypeScript trainer gets, the
 * sink that forwards a Python trainer's reports, and the arguments every Python call shares.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MetricValues } from '../contracts/run-state.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { RunContext } from '../sdk/run-context.js';
import { EPOCH_PROGRESS, isPythonTrainerClass, trainerProgressCategory, type TrainContext, type TrainParams } from '../sdk/trainer.js';
import type { TrainerClass } from './action-kinds.js';
import type { ActivityRunContext } from './activity-run-context.js';
import type { CachedDataset } from './dataset-cache.js';
import { acquirePython, ensurePythonEnv, PythonRuntimeError, releasePython, type PythonProcess } from './python-runtime.js';
import { pythonProcessEnv } from './plugin-host-env.js';

/** A trainer instance (TypeScript). */
export type TrainerInstance = InstanceType<TrainerClass>;

/** A step's trainer: its action and class, and where its Python class is when it is Python code. */
export interface Trainer {
  action: ResolvedAction;
  cls: TrainerClass;
  python?: { pluginDir: string; module: string; className: string };
}

export function trainerOf(action: ResolvedAction, cls: TrainerClass): Trainer {
  return { action, cls, ...(isPythonTrainerClass(cls) ? { python: cls.python } : {}) };
}

/** What a trainer call needs of its step. */
export interface TrainerCall {
  runId: string;
  /** The step's params, as sent to Python. */
  params: unknown;
  /** Seconds without a sign of life before the step is retried (Python: the process is killed as hung). */
  heartbeatTimeoutSeconds: number;
}

export interface TrainerHost {
  /** Runs `ts` with this process's instance of a TypeScript trainer, or `py` with a warm Python process of the plugin. */
  run<T>(
    trainer: Trainer,
    ctx: ActivityRunContext<unknown>,
    call: TrainerCall,
    ts: (instance: TrainerInstance) => Promise<T>,
    py: (proc: PythonProcess, silenceLimitMs: number) => Promise<T>,
  ): Promise<T>;
  /** Calls a TypeScript trainer's `prepare` once per dataset (fingerprint) per process. */
  prepare(instance: TrainerInstance, tctx: TrainContext, data: CachedDataset): Promise<void>;
  /** The arguments every Python call shares. */
  pythonArgs(trainer: Trainer, call: TrainerCall, data: CachedDataset, numCpus: number | undefined, attempt: number): Record<string, unknown>;
  /** A step's scratch folder under `<data dir>/cache/train-work/`; the step removes it. */
  workDir(runId: string, name: string): string;
  /** A model's metrics on `split` of the dataset (`all`: every item); the model from `bytes`. */
  evaluate(
    trainer: Trainer,
    ctx: ActivityRunContext<unknown>,
    call: TrainerCall,
    data: CachedDataset,
    split: string,
    numCpus: number | undefined,
    bytes: () => Promise<Buffer>,
  ): Promise<MetricValues>;
}

/** TypeScript trainers of this process, one per class, and the dataset each has prepared. */
const instances = new Map<TrainerClass, TrainerInstance>();
const prepared = new WeakMap<TrainerInstance, string>();

export function trainerHost(dataDir: string): TrainerHost {
  const host: TrainerHost = {
    async run(trainer, ctx, call, ts, py) {
      if (!trainer.python) {
        let instance = instances.get(trainer.cls);
        if (!instance) {
          instance = new trainer.cls();
          instances.set(trainer.cls, instance);
        }
        return ts(instance);
      }
      const python = await ensurePythonEnv(trainer.action.plugin, dataDir, (line) => ctx.logMessage(line, 'DEBUG'));
      const proc = await acquirePython(
        python,
        trainer.python.pluginDir,
        (pid) => {
          ctx.logMessage(`python runtime pid ${pid} started (${python})`);
          ctx.log('python_started', { pid });
        },
        // Never the worker's database URL, storage keys or tokens (issue 18).
        pythonProcessEnv(trainer.action.plugin),
      );
      let healthy = false;
      try {
        const value = await py(proc, Math.max(5, call.heartbeatTimeoutSeconds) * 1000);
        healthy = true;
        return value;
      } catch (err) {
        // A cancelled or refused call leaves a healthy process; a crash or hang does not.
        healthy = proc.alive && !(err instanceof PythonRuntimeError);
        throw err;
      } finally {
        releasePython(proc, healthy);
      }
    },

    async prepare(instance, tctx, data) {
      if (prepared.get(instance) === data.fingerprint) return;
      await instance.prepare(tctx, data);
      prepared.set(instance, data.fingerprint);
    },

    pythonArgs(trainer, call, data, numCpus, attempt) {
      if (!trainer.python) throw new Error(`${trainer.cls.name} is not Python code`);
      return {
        module: trainer.python.module,
        class_name: trainer.python.className,
        dataset_index: data.indexFile,
        run_id: call.runId,
        params: call.params,
        attempt,
        num_cpus: numCpus ?? null,
      };
    },

    workDir(runId, name) {
      const dir = path.join(path.resolve(dataDir), 'cache', 'train-work', runId.replace(/[^\w.-]/g, '_'), `${name}-${process.pid}-${Date.now()}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },

    evaluate(trainer, ctx, call, data, split, numCpus, bytes) {
      return host.run(
        trainer,
        ctx,
        call,
        async (instance) => instance.evaluate(ctx, await instance.load(await bytes(), data), data, split),
        async (proc, silenceLimitMs) => {
          const work = host.workDir(call.runId, 'evaluate');
          try {
            const modelIn = path.join(work, 'model.ckpt');
            writeFileSync(modelIn, await bytes());
            const args = { ...host.pythonArgs(trainer, call, data, numCpus, ctx.attempt), model_in: modelIn, split };
            return await proc.call<MetricValues>('evaluate', args, { sink: pythonSink(ctx), signal: ctx.signal, silenceLimitMs });
          } finally {
            rmSync(work, { recursive: true, force: true });
          }
        },
      );
    },
  };
  return host;
}

/** The context a TypeScript trainer's hooks get: the run context's reporting, the CPUs to use, and mid-epoch checkpoints. */
export function trainContext(
  ctx: ActivityRunContext<TrainParams>,
  numCpus: number,
  checkpointStep: (step: number, totals?: Record<string, number>) => Promise<void>,
): TrainContext {
  return {
    runId: ctx.runId,
    params: ctx.params,
    envs: ctx.envs,
    signal: ctx.signal,
    attempt: ctx.attempt,
    numCpus,
    logMessage: (m, l) => ctx.logMessage(m, l),
    log: (e, d) => ctx.log(e, d),
    // Steps inside an epoch are the `epoch` category; `train` counts epochs (the workflow's).
    setProgress: (c, t, cat) => ctx.setProgress(c, t, trainerProgressCategory(cat)),
    setMetrics: (v, cat) => ctx.setMetrics(v, cat),
    checkpointStep,
  };
}

/** Where a Python trainer's reports go: the run context. */
export function pythonSink(ctx: ActivityRunContext<unknown>) {
  return {
    logMessage: (m: string, l?: Parameters<RunContext['logMessage']>[1]) => ctx.logMessage(m, l),
    log: (e: string, d?: Record<string, unknown>) => ctx.log(e, d),
    // The Python runtime refuses the engine's categories itself (set_progress); none means `epoch`.
    setProgress: (c: number, t: number, cat?: string) => ctx.setProgress(c, t, cat ?? EPOCH_PROGRESS),
    setMetrics: (v: MetricValues, cat: string) => ctx.setMetrics(v, cat),
  };
}

/** Metrics for a log line: `loss=0.1234, accuracy=0.9900, epoch=3`. */
export function formatMetrics(metrics: MetricValues): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v)}`)
    .join(', ');
}

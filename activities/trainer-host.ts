/**
 * Where a trainer's code runs for a train, test or inference step. TypeScript trainers run in
 * the plugin's host process (plugin-host*.ts: the host runners of plugin-host-run-train.ts,
 * one instance per class per host, kept between steps with what `prepare` made), never in the
 * worker (issue 18); Python trainers run in a warm child process (python-runtime.ts) over the
 * line protocol, in the plugin's own environment. A step hands the host both forms of its
 * work, `ts(host)` and `py(proc, silenceLimitMs)`, and the host runs the one the class needs.
 * What a TypeScript trainer sends back (metrics, model bytes, predictions) is checked here with
 * zod: it is untrusted input. Also here: the sink that forwards a Python trainer's reports and
 * the arguments every Python call shares.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { NonRetriableError } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import type { MetricValues } from '../contracts/run-state.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { AnnotationDocumentSchema } from '../sdk/annotations.js';
import type { RunContext } from '../sdk/run-context.js';
import { EPOCH_PROGRESS, isPythonTrainerClass, type Prediction } from '../sdk/trainer.js';
import type { TrainerClass } from './action-kinds.js';
import type { ActivityRunContext } from './activity-run-context.js';
import type { CachedDataset } from './dataset-cache.js';
import type { HostRun, HostRunOptions } from './plugin-host-step.js';
import type { HostDatasetRef, ModelEvaluateArgs } from './plugin-host-run-train.js';
import { acquirePython, ensurePythonEnv, PythonRuntimeError, releasePython, type PythonProcess } from './python-runtime.js';
import { pythonProcessEnv } from './plugin-host-env.js';

/** A step's trainer: its action and class, where its Python class is when it is Python code, else the plugin host it runs in. */
export interface Trainer {
  action: ResolvedAction;
  cls: TrainerClass;
  python?: { pluginDir: string; module: string; className: string };
  /** The step's plugin host (LoadedStep.host): a TypeScript trainer's hooks run there. */
  hosted?: HostRun;
}

export function trainerOf(action: ResolvedAction, cls: TrainerClass, hosted?: HostRun): Trainer {
  return { action, cls, ...(isPythonTrainerClass(cls) ? { python: cls.python } : hosted ? { hosted } : {}) };
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
  /** Runs `ts` with the step's plugin host (a TypeScript trainer), or `py` with a warm Python process of the plugin. */
  run<T>(
    trainer: Trainer,
    ctx: ActivityRunContext<unknown>,
    call: TrainerCall,
    ts: (host: HostRun) => Promise<T>,
    py: (proc: PythonProcess, silenceLimitMs: number) => Promise<T>,
  ): Promise<T>;
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

/** A dataset as a host runner names it: its cache folder (the only one of the data dir its host may read). */
export function hostDataset(data: CachedDataset): HostDatasetRef {
  return { dir: data.dir, fingerprint: data.fingerprint };
}

/** A host runner call's options for a trainer step: the step's context, and read access to the dataset's folder only. */
export function hostOptions(ctx: ActivityRunContext<unknown>, data: CachedDataset, targets?: Record<string, object>): HostRunOptions {
  return { ctx, readDirs: [data.dir], ...(targets ? { targets } : {}) };
}

const HostMetrics = z.record(z.string().max(200), z.union([z.number(), z.string().max(10_000), z.boolean(), z.null()]));
const HostEpoch = z.strictObject({ metrics: HostMetrics, model: z.instanceof(Uint8Array) });
const HostPredictions = z.array(z.object({ itemId: z.number().int(), annotations: AnnotationDocumentSchema }));

/**
 * What a TypeScript trainer's hook returned, checked: `what` names the hook in the error.
 * @throws NonRetriableError naming the field that does not match (the trainer's bug).
 */
function fromTrainer<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error)
    .slice(0, 5)
    .map((p) => `${p.path || '(the value)'}: ${p.message}`)
    .join('; ');
  throw new NonRetriableError(`${what} returned a value that does not match: ${problems}`);
}

/** `train-epoch`'s result, checked: the epoch's metrics and the model's bytes. */
export function hostEpochResult(value: unknown, cls: TrainerClass): { metrics: MetricValues; model: Uint8Array } {
  return fromTrainer(HostEpoch, value, `${cls.name}.trainEpoch() (metrics) or save() (model)`);
}

/** `model-predict`'s result, checked: predictions with annotation documents. */
export function hostPredictions(value: unknown, cls: TrainerClass): Prediction[] {
  return fromTrainer(HostPredictions, value, `${cls.name}.predict()`) as Prediction[];
}

export function trainerHost(dataDir: string): TrainerHost {
  const host: TrainerHost = {
    async run(trainer, ctx, call, ts, py) {
      if (!trainer.python) {
        if (!trainer.hosted) throw new NonRetriableError(`${trainer.cls.name}: a TypeScript trainer runs in a plugin host, and this step has none`);
        return ts(trainer.hosted);
      }
      const python = await ensurePythonEnv(trainer.action.plugin, dataDir, (line) => ctx.logMessage(line, 'DEBUG'));
      const proc = await acquirePython(
        python,
        trainer.python.pluginDir,
        // Never the worker's database URL, storage keys or tokens (issue 18).
        pythonProcessEnv(trainer.action.plugin),
        (pid) => {
          ctx.logMessage(`python runtime pid ${pid} started (${python})`);
          ctx.log('python_started', { pid });
        },
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
        async (hosted) => {
          const args: ModelEvaluateArgs = { dataset: hostDataset(data), split, model: await bytes() };
          return fromTrainer(HostMetrics, await hosted.run('model-evaluate', [args], hostOptions(ctx, data)), `${trainer.cls.name}.evaluate()`);
        },
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

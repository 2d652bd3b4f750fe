/**
 * The run shapes of neural_net trainer plugins: an action whose class is a trainer
 * (TypeScript, or Python through the loader) runs as the train workflow when it is `train`,
 * as the model-test workflow when it is `test`, and as the inference workflow when it is
 * `inference` (docs/training.md). Train runs check their references before they start, send
 * their epochs to the GPU queue when they ask for GPUs, and resume from their last epoch.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import type { TrainCheckpointState, TrainResumePoint } from '../../contracts/train.js';
import { NotFoundError, ParamsError, type Problem } from '../../contracts/errors.js';
import type { EpochMetrics, MetricValues } from '../../contracts/run-state.js';
import { assertNameFree } from '../../platform/model-names.js';
import { openDatabase } from '../../platform/db.js';
import { getGroundTruthVersion } from '../../platform/repositories/ground-truth.js';
import { getModel } from '../../platform/repositories/models.js';
import { getStorage } from '../../platform/repositories/storages.js';
import type { TrainParams } from '../../sdk/trainer.js';
import { defineRunShape, type ActionFacts, type PreflightContext, type ResumeContext } from '../run-shape.js';
import { taskQueueFor } from '../settings.js';

const subject = (action: ActionFacts): string => `invalid params for ${action.plugin.config.code} ${action.name}`;

export const trainShape = defineRunShape<TrainParams, TrainResumePoint>({
  name: 'train',
  // A trainer's `train` action; the seed's train params, the trainer's own schema checks `hyperparameters` (engine/run-params.ts).
  parser: 'train',
  workflow: WORKFLOW_TYPES.train,
  preflight: trainPreflight,
  /**
   * The task queue of the training steps (num_gpus > 0: `<prefix>-gpu-job`, served by a worker
   * started with `SYNAPSE_TASK_QUEUE_PREFIX=<prefix>-gpu synapse worker --methods job` on a
   * GPU machine), and the resume point of `synapse run resume`.
   */
  extraInput: ({ params, settings, resume }) => {
    const gpus = params.num_gpus ?? 0;
    return {
      ...(gpus > 0 ? { stepTaskQueue: taskQueueFor({ ...settings, taskQueuePrefix: `${settings.taskQueuePrefix}-gpu` }, 'job') } : {}),
      ...(resume ? { resume } : {}),
    };
  },
  resumePoint: trainResumePoint,
});

export const modelTestShape = defineRunShape({
  name: 'test',
  // A trainer's `test` action: ModelTestParams.
  parser: 'test',
  workflow: WORKFLOW_TYPES.test,
});

export const modelInferenceShape = defineRunShape({
  name: 'inference',
  // A trainer's `inference` action: ModelInferenceParams.
  parser: 'inference',
  workflow: WORKFLOW_TYPES.inference,
});

/**
 * Where an ended train run can be resumed from: its last finished epoch's checkpoint (from
 * the run store, where every epoch records it) and the metrics of the epochs up to it (its
 * `epoch_end` events, and the `epoch_history` events a resumed run inherits). A run that
 * never finished an epoch resumes from where it started: epoch 0, or, for a resumed run
 * cancelled before its first step wrote the point it started from (the prepare step does),
 * that point, so the chain keeps every earlier epoch.
 */
async function trainResumePoint({ store, run, startedFrom }: ResumeContext): Promise<TrainResumePoint> {
  const checkpoint = await store.latestCheckpoint(run.id);
  const saved = checkpoint?.state as TrainCheckpointState | undefined;
  if (saved?.kind !== 'train') {
    const from = await startedFrom();
    if (isTrainResumePoint(from)) return { ...from, runId: run.id };
  }
  const epoch = saved?.kind === 'train' ? saved.epoch : 0;
  const model = saved?.kind === 'train' ? saved.model : null;
  const byEpoch = new Map<number, EpochMetrics>();
  for (let after = 0; ;) {
    const events = await store.readEvents(run.id, after, 5000);
    for (const e of events) {
      after = e.id;
      if (e.data.kind !== 'event' || (e.data.event !== 'epoch_end' && e.data.event !== 'epoch_history')) continue;
      const n = Number(e.data.data.epoch);
      if (Number.isInteger(n) && n <= epoch) byEpoch.set(n, { epoch: n, metrics: (e.data.data.metrics ?? {}) as MetricValues });
    }
    if (events.length < 5000) break;
  }
  return { runId: run.id, epoch, model, history: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch) };
}

function isTrainResumePoint(value: unknown): value is TrainResumePoint {
  const p = value as Partial<TrainResumePoint> | undefined;
  return typeof p?.runId === 'string' && typeof p.epoch === 'number' && Array.isArray(p.history) && p.model !== undefined;
}

/** The references a train (or tune) run names: its model name, dataset version, storage and start model. */
export interface TrainReferences {
  name: string;
  dataset: number;
  storage: number | string;
  checkpoint?: number | undefined;
}

/**
 * Checks a train or tune run's references before it starts, so that a taken name, an unknown
 * dataset version, start model or storage is a params error (exit 2, HTTP 400) naming each, and
 * nothing starts. The prepare step checks the same again: another run may take the name in between.
 */
export async function trainPreflight<P extends TrainReferences>({ action, params: p, settings, store }: PreflightContext<P>): Promise<void> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    const problems: Problem[] = [];
    const check = async (path: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (err instanceof ParamsError) problems.push(...err.problems);
        else if (err instanceof NotFoundError) problems.push({ path, message: err.message });
        else throw err;
      }
    };
    await check('name', () => assertNameFree(platform.db, store, p.name, ''));
    await check('dataset', () => getGroundTruthVersion(platform.db, p.dataset));
    await check('storage', () => getStorage(platform.db, p.storage));
    if (p.checkpoint !== undefined) {
      const checkpoint = p.checkpoint;
      await check('checkpoint', async () => {
        const model = await getModel(platform.db, checkpoint);
        if (model.plugin.code !== action.plugin.config.code) {
          problems.push({ path: 'checkpoint', message: `model ${model.id} was trained by plugin ${model.plugin.code}, not ${action.plugin.config.code}` });
        }
      });
    }
    if (problems.length) throw new ParamsError(subject(action), problems);
  } finally {
    await platform.close();
  }
}

/**
 * The tune run shape of neural_net trainer plugins (docs/tune.md): an action named `tune`
 * whose class is a trainer runs as the tune workflow, a hyperparameter search whose trials
 * are that trainer's train runs. Its params are the trainer's train params (name, dataset,
 * storage, fixed hyperparameters) plus the search (contracts/tune-params.ts).
 *
 * Everything is checked before the tune starts: the search's own rules, and the trainer's
 * hyperparameter schema against every end of every searched range and every choice (a
 * learning rate the trainer refuses is a params error now, not nine failed trials later),
 * then the references (name free, dataset, storage). `synapse run resume` continues the
 * ended tune's study: its finished trials are kept, not run again.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import type { RunStore } from '../../platform/run-store.js';
import type { TuneParams } from '../../engine/run-params.js';
import { defineRunShape, type ResumeContext, type ResumePoint } from '../run-shape.js';
import { trainPreflight } from './train.js';
import { taskQueueFor } from '../settings.js';

// The tune's params parser lives with the class (engine/run-params.ts): re-exported for its tests.
export { parseTuneParams, type TuneParams } from '../../engine/run-params.js';

/** Where a resumed tune starts: the ended tune's study; `epoch` counts its finished trials. */
export interface TuneResume extends ResumePoint {
  study: string;
}

export const tuneShape = defineRunShape<TuneParams, TuneResume>({
  name: 'tune',
  // A trainer's `tune` action: the search and the train params (engine/run-params.ts parseTuneParams).
  parser: 'tune',
  workflow: WORKFLOW_TYPES.tune,
  preflight: trainPreflight,
  /** As a train run: the trials' training steps go to the GPU queue when they ask for GPUs. */
  extraInput: ({ params, settings, resume }) => {
    const gpus = params.num_gpus ?? 0;
    return {
      ...(gpus > 0 ? { stepTaskQueue: taskQueueFor({ ...settings, taskQueuePrefix: `${settings.taskQueuePrefix}-gpu` }, 'job') } : {}),
      ...(resume ? { resume: { runId: resume.runId, study: resume.study } } : {}),
    };
  },
  resumePoint: tuneResumePoint,
});

/**
 * Where an ended tune resumes: its study (the `study_open` event its first step wrote; a
 * resumed tune's study is the one it continued) and how many trials had finished (its
 * `trial_end` events). A resumed tune cancelled before its first step opened the study
 * continues the study it was started with (its workflow input), with that run's trials.
 */
async function tuneResumePoint({ store, run, startedFrom }: ResumeContext): Promise<TuneResume> {
  const own = await studyEvents(store, run.id);
  if (own.study === undefined) {
    const from = (await startedFrom()) as Partial<TuneResume> | undefined;
    if (typeof from?.study === 'string' && typeof from.runId === 'string') {
      return { runId: run.id, epoch: (await studyEvents(store, from.runId)).finished, study: from.study };
    }
  }
  return { runId: run.id, epoch: own.finished, study: own.study ?? run.id };
}

/** The study a tune run's events say it opened (undefined: none yet), and how many trials it finished. */
async function studyEvents(store: RunStore, runId: string): Promise<{ study: string | undefined; finished: number }> {
  let study: string | undefined;
  const finished = new Set<number>();
  for (let after = 0; ;) {
    const events = await store.readEvents(runId, after, 5000);
    for (const e of events) {
      after = e.id;
      if (e.data.kind !== 'event') continue;
      if (e.data.event === 'study_open' && typeof e.data.data.study === 'string') study = e.data.data.study;
      if (e.data.event === 'trial_end' && Number.isInteger(e.data.data.number)) finished.add(Number(e.data.data.number));
    }
    if (events.length < 5000) break;
  }
  return { study, finished: finished.size };
}

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
import { zodProblems } from '../../contracts/problems.js';
import { ParamsError, type Problem } from '../../contracts/errors.js';
import { probePoint, probeValues, TUNE_KEYS, type ParamValue, type TuneSearch } from '../../contracts/tune.js';
import { checkSearch, TuneSearchFields } from '../../contracts/tune-params.js';
import type { ResolvedAction } from '../../engine/plugin-loader.js';
import { isTrainerClass, parseTrainParams, type TrainParams } from '../../sdk/trainer.js';
import { defineRunShape, type ResumeContext, type ResumePoint } from '../run-shape.js';
import { trainPreflight } from './train.js';
import { taskQueueFor } from '../settings.js';

/** A tune's params once checked: the trainer's train params (fixed hyperparameters only) and the search. */
export type TuneParams = TrainParams & TuneSearch;

/** Where a resumed tune starts: the ended tune's study; `epoch` counts its finished trials. */
export interface TuneResume extends ResumePoint {
  study: string;
}

const subject = (action: ResolvedAction): string => `invalid params for ${action.plugin.config.code} ${action.name}`;

type TrainerClass = Parameters<typeof parseTrainParams>[0];

export const tuneShape = defineRunShape<TuneParams, TuneResume>({
  name: 'tune',
  matches: (action) => action.plugin.config.category === 'neural_net' && action.name === 'tune' && isTrainerClass(action.cls),
  parseParams: (action, raw) => parseTuneParams(action.cls as unknown as TrainerClass, raw, subject(action)),
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
 * Checks a tune's params: the search (ParamsError naming `search_space.<key>`, `sampler`,
 * `num_trials`, ...), the train params with the trainer's schema, and each searched value the
 * trainer's hyperparameters must accept. Returns the train params with the search; the
 * searched keys are not among the fixed hyperparameters.
 * @throws ParamsError listing every problem.
 */
export function parseTuneParams(cls: TrainerClass, raw: unknown, subjectText = 'invalid tune params'): TuneParams {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ParamsError(subjectText, [{ path: '', message: 'params must be an object' }]);
  const all = raw as Record<string, unknown>;
  const searchRaw: Record<string, unknown> = {};
  const trainRaw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) ((TUNE_KEYS as readonly string[]).includes(k) ? searchRaw : trainRaw)[k] = v;

  const problems: Problem[] = [];
  let search: TuneSearch | undefined;
  const parsed = TuneSearchFields.safeParse(searchRaw);
  if (!parsed.success) problems.push(...zodProblems(parsed.error));
  else {
    const checked = checkSearch(parsed.data);
    if ('problems' in checked) problems.push(...checked.problems);
    else search = checked.search;
  }

  const fixedRaw = trainRaw.hyperparameters;
  const fixed = fixedRaw !== null && typeof fixedRaw === 'object' && !Array.isArray(fixedRaw) ? (fixedRaw as Record<string, unknown>) : {};
  const searched = search ? Object.keys(search.search_space) : [];
  for (const key of searched) {
    if (Object.hasOwn(fixed, key))
      problems.push({ path: `hyperparameters.${key}`, message: `also in search_space: a hyperparameter is fixed or searched, not both` });
  }

  // The train params with one point of the space (each dimension's first probe value).
  const point: Record<string, ParamValue> = search ? probePoint(search.search_space) : {};
  const withPoint = (over: Record<string, ParamValue>) => ({ ...trainRaw, hyperparameters: { ...fixed, ...point, ...over } });
  let train: TrainParams | undefined;
  try {
    train = parseTrainParams(cls, withPoint({}), subjectText);
  } catch (err) {
    if (!(err instanceof ParamsError)) throw err;
    problems.push(...err.problems.map((p) => blame(p, search, point)));
  }
  // Every other end of every range, every other value: the trainer must accept them too.
  if (search && train) {
    for (const [key, d] of Object.entries(search.search_space)) {
      for (const value of probeValues(d).slice(1)) {
        try {
          parseTrainParams(cls, withPoint({ [key]: value }), subjectText);
        } catch (err) {
          if (!(err instanceof ParamsError)) throw err;
          const mine = err.problems.find((p) => p.path === `hyperparameters.${key}`);
          if (mine) {
            problems.push({ path: `search_space.${key}`, message: `the trainer's hyperparameters refuse ${key} = ${JSON.stringify(value)}: ${mine.message}` });
            break;
          }
        }
      }
    }
  }
  if (problems.length > 0 || !search || !train) throw new ParamsError(subjectText, problems);
  const hyperparameters = { ...(train.hyperparameters as Record<string, unknown>) };
  for (const key of searched) delete hyperparameters[key];
  return { ...train, hyperparameters, ...search } as TuneParams;
}

/** A train-params problem about a searched hyperparameter points at its search_space entry. */
function blame(p: Problem, search: TuneSearch | undefined, point: Record<string, ParamValue>): Problem {
  const m = /^hyperparameters\.([^.]+)$/.exec(p.path);
  const key = m?.[1];
  if (!search || key === undefined || !Object.hasOwn(search.search_space, key)) return p;
  return { path: `search_space.${key}`, message: `the trainer's hyperparameters refuse ${key} = ${JSON.stringify(point[key])}: ${p.message}` };
}

/**
 * Where an ended tune resumes: its study (the `study_open` event its first step wrote; a
 * resumed tune's study is the one it continued) and how many trials had finished (its
 * `trial_end` events).
 */
async function tuneResumePoint({ store, run }: ResumeContext): Promise<TuneResume> {
  let study = run.id;
  const finished = new Set<number>();
  for (let after = 0; ;) {
    const events = await store.readEvents(run.id, after, 5000);
    for (const e of events) {
      after = e.id;
      if (e.data.kind !== 'event') continue;
      if (e.data.event === 'study_open' && typeof e.data.data.study === 'string') study = e.data.data.study;
      if (e.data.event === 'trial_end' && Number.isInteger(e.data.data.number)) finished.add(Number(e.data.data.number));
    }
    if (events.length < 5000) break;
  }
  return { runId: run.id, epoch: finished.size, study };
}

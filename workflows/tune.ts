/**
 * The tune run shape (neural_net `tune`): a hyperparameter search as a durable parent run
 * over trial runs. The search is Optuna's, through ask-and-tell (activities/tune.ts) on a
 * study in durable storage named after the tune's run id; this workflow owns the loop:
 *
 *   open the study -> for n = 0, 1, ...: wait for a free slot (at most
 *   `max_concurrent_trials` trials at once), ask the study for trial n's params, start trial
 *   n as a child workflow `<tune run id>/trial-<n>` (tune-trial.ts) -> when every trial has
 *   ended: evaluate the best completed trial's last checkpoint and register it as the model,
 *   with its hyperparameters and metric.
 *
 * Trials are asked in order and `n` is Optuna's trial number, so every step is idempotent: a
 * retried ask returns the trial it created, a trial the study has finished already (a
 * resumed tune's, `synapse run resume`) is taken as it is and not run again. Each trial's
 * params, metric history and status are in `state.trials` (the `runState` query, `run
 * status`'s trials table, the gateway); trials send each epoch's value as a signal.
 *
 * A trial whose trainer does not report the metric fails the tune with the metric's name once
 * it ends (the other trials are cancelled). Other failed trials are told to the study as
 * failed and the search goes on. `time_budget_s` stops new trials from starting once spent.
 * Long searches continue as new every `trialsPerRun` trials, once the running ones have
 * ended, carrying the trials so far.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { MetricValues, RunState } from '../contracts/run-state.js';
import type { TrainPrepareOutput } from '../contracts/train.js';
import type { StudySpec, StudyTrial, TrialResult, TuneResult, TuneResumePoint, TuneSearch, TuneTrial, TuneTrialStatus } from '../contracts/tune.js';
import { better, probePoint, rankTrials, TUNE_KEYS } from '../contracts/tune.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import type { RunCarry } from './run-tracker.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';
import { METRIC_MISSING, STUDY_STEP, trialEpochSignal, tuneTrialWorkflow } from './tune-trial.js';

/** Trials started before the tune continues as new (after the running ones end). */
export const TRIALS_PER_RUN = 200;

export interface TuneWorkflowInput extends RunActionInput {
  /** Set by `synapse run resume`: continue this earlier tune's study. */
  resume?: TuneResumePoint;
  /** Task queue of the trials' training steps (num_gpus > 0); default the run's. */
  stepTaskQueue?: string;
  carry?: TuneCarry;
  /** Overrides for tests: trials before the tune continues as new, epochs before a trial does. */
  budget?: { trialsPerRun?: number; trialEpochsPerRun?: number };
}

/** What a continued tune carries over. */
export interface TuneCarry extends RunCarry {
  study: string;
  /** The next trial number to ask for. */
  next: number;
  trials: TuneTrial[];
  /** The tune's prepare step: the dataset every trial trains on. */
  prepared: TrainPrepareOutput;
  resumedFrom?: TuneResumePoint;
}

/** The tune's params split into the search and the train params every trial starts from. */
export function splitTuneParams(params: unknown): { search: TuneSearch; train: Record<string, unknown> } {
  const all = { ...(params as Record<string, unknown>) };
  const search: Record<string, unknown> = {};
  for (const key of TUNE_KEYS) {
    if (key in all) search[key] = all[key];
    delete all[key];
  }
  return { search: search as unknown as TuneSearch, train: all };
}

/** A trial's train params: the fixed hyperparameters with the trial's own on top. */
export function trialParams(train: Record<string, unknown>, params: Record<string, unknown>): Record<string, unknown> {
  return { ...train, hyperparameters: { ...((train.hyperparameters as Record<string, unknown> | undefined) ?? {}), ...params } };
}

const STATUS_OF_STUDY: Record<string, TuneTrialStatus> = { complete: 'completed', pruned: 'pruned', fail: 'failed' };

export async function tuneWorkflow(input: TuneWorkflowInput): Promise<RunState> {
  const info = workflowInfo();
  const tuneRunId = info.workflowId;
  const { search, train } = splitTuneParams(input.params);
  const run = trackRun(input, { carry: input.carry, own: { progress: ['trials', 'model_upload'], metrics: ['best'] } });
  const { state } = run;
  state.progressCategories = {
    dataset: { weight: 5, label: 'Download dataset' },
    trials: { weight: 90, label: 'Trials' },
    model_upload: { weight: 5, label: 'Upload model' },
  };
  const { tuneOpen, tuneAsk } = proxyLocalActivities<Activities>(STUDY_STEP);
  const { trainPrepare } = proxyActivities<Activities>(stepOptions(input));
  const { trainEvaluate, trainRegister } = proxyActivities<Activities>({
    ...stepOptions(input),
    ...(input.stepTaskQueue ? { taskQueue: input.stepTaskQueue } : {}),
  });
  const resumedFrom = input.carry?.resumedFrom ?? input.resume;
  const spec: StudySpec = {
    name: input.carry?.study ?? input.resume?.study ?? tuneRunId,
    direction: search.mode === 'min' ? 'minimize' : 'maximize',
    space: search.search_space,
    sampler: search.sampler,
    pruner: search.pruner,
    concurrency: search.max_concurrent_trials,
  };
  const trials: TuneTrial[] = input.carry?.trials ?? [];
  state.trials = trials;
  const trialsPerRun = input.budget?.trialsPerRun ?? TRIALS_PER_RUN;

  const byNumber = (n: number): TuneTrial | undefined => trials.find((t) => t.number === n);
  const bestOf = (history: { value: number }[]): number | null =>
    history.reduce<number | null>((b, h) => (b === null || better(search.mode, h.value, b) ? h.value : b), null);
  const show = (): void => {
    const ended = trials.filter((t) => t.status !== 'running' && t.status !== 'pending').length;
    state.progress.trials = { current: ended, total: search.num_trials };
    rankTrials(trials, search.mode);
    const best = bestTrial(trials, search.mode);
    if (best) state.metrics.best = { trial: best.number, [search.metric]: best.metric, ...best.params };
    run.publish();
  };

  // Each epoch of a running trial, live: the metric history in the tune's state.
  setHandler(trialEpochSignal, (e) => {
    const t = byNumber(e.number);
    if (!t || t.status !== 'running' || t.history.some((h) => h.epoch === e.epoch)) return;
    t.history.push({ epoch: e.epoch, value: e.value });
    t.epochs = Math.max(t.epochs, e.epoch);
    t.metric = e.value;
    t.best = bestOf(t.history);
    show();
  });

  /** A trial the study has finished already (a resumed tune's): taken as it is. */
  const fromStudy = (s: StudyTrial): TuneTrial => {
    const history = Object.entries(s.intermediate)
      .map(([epoch, value]) => ({ epoch: Number(epoch), value }))
      .sort((a, b) => a.epoch - b.epoch);
    const checkpoint = s.attrs.checkpoint as TuneTrial['checkpoint'] | undefined;
    return {
      number: s.number,
      runId: typeof s.attrs.run === 'string' ? s.attrs.run : `${tuneRunId}/trial-${s.number}`,
      status: STATUS_OF_STUDY[s.state] ?? 'failed',
      params: s.params,
      history,
      metric: s.value ?? history[history.length - 1]?.value ?? null,
      best: bestOf(history),
      epochs: typeof s.attrs.epochs === 'number' ? s.attrs.epochs : history.length,
      ...(checkpoint ? { checkpoint } : {}),
      ...(s.attrs.last && typeof s.attrs.last === 'object' ? { last: s.attrs.last as MetricValues } : {}),
      ...(s.state === 'fail' ? { error: 'failed in an earlier run of this study' } : {}),
    };
  };

  return runShape(run, async (): Promise<TuneResult> => {
    const running = new Map<number, CancellationScope>();
    let fatal: Error | undefined;

    const startTrial = (n: number, params: Record<string, unknown>, prepared: TrainPrepareOutput): void => {
      const childId = `${tuneRunId}/trial-${n}`;
      const record: TuneTrial = {
        number: n,
        runId: childId,
        status: 'running',
        params: params as TuneTrial['params'],
        history: [],
        metric: null,
        best: null,
        epochs: 0,
      };
      const at = trials.findIndex((t) => t.number === n);
      if (at >= 0) trials[at] = record;
      else trials.push(record);
      const scope = new CancellationScope();
      running.set(n, scope);
      const shown = Object.entries(params)
        .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : JSON.stringify(v)}`)
        .join(', ');
      scope
        .run(() =>
          executeChild(tuneTrialWorkflow, {
            workflowId: childId,
            args: [
              {
                plugin: input.plugin,
                action: input.action,
                category: input.category,
                method: input.method,
                params: trialParams(train, params),
                progressCategories: { dataset: { weight: 10 }, train: { weight: 90 } },
                heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
                startToCloseSeconds: input.startToCloseSeconds,
                trial: { tuneRunId, study: spec, number: n, metric: search.metric, prepared },
                ...(input.stepTaskQueue ? { stepTaskQueue: input.stepTaskQueue } : {}),
                ...(input.budget?.trialEpochsPerRun ? { budget: { epochsPerRun: input.budget.trialEpochsPerRun } } : {}),
              },
            ],
            staticSummary: `trial ${n} of ${tuneRunId} · ${shown}`,
            staticDetails: `Trial **${n}** of tune \`${tuneRunId}\` (metric \`${search.metric}\`, ${search.mode}).\n\n${Object.entries(params)
              .map(([k, v]) => `- \`${k}\` = ${JSON.stringify(v)}`)
              .join('\n')}`,
          }),
        )
        .then(
          (final) => {
            const r = final.result as TrialResult;
            Object.assign(record, {
              status: r.status,
              history: r.history,
              metric: r.metric,
              best: bestOf(r.history),
              epochs: r.epochs,
              last: r.last,
              ...(r.checkpoint ? { checkpoint: r.checkpoint } : {}),
            });
          },
          (err: unknown) => {
            record.status = isCancellation(err) || isCancellation((err as { cause?: unknown }).cause) ? 'cancelled' : 'failed';
            record.error = innermost(err);
            if (record.status === 'failed' && failureType(err) === METRIC_MISSING && !fatal) {
              fatal = ApplicationFailure.nonRetryable(`trial ${n}: ${record.error}`, METRIC_MISSING);
            }
          },
        )
        .finally(() => {
          running.delete(n);
          show();
        });
    };

    let prepared: TrainPrepareOutput | undefined = input.carry?.prepared;
    try {
      if (!input.carry) {
        await run.step('open study', () => tuneOpen.executeWithOptions({ summary: `study ${spec.name}` }, [{ runId: tuneRunId, study: spec }]));
      }
      // Once for all trials: the references checked, the dataset downloaded into the cache
      // (with one point of the space, so that the trainer's schema sees a complete set).
      prepared ??= await run.step('prepare dataset', () =>
        trainPrepare.executeWithOptions({ summary: 'download dataset' }, [
          {
            runId: tuneRunId,
            plugin: input.plugin,
            action: input.action,
            params: trialParams(train, probePoint(search.search_space)),
            heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
          },
        ]),
      );
      state.progress.dataset = { current: prepared.items, total: prepared.items };
      show();
      const deadline = search.time_budget_s !== undefined ? Date.parse(state.startedAt) + search.time_budget_s * 1000 : undefined;
      let n = input.carry?.next ?? 0;
      let startedThisRun = 0;
      while (n < search.num_trials) {
        await condition(() => running.size < search.max_concurrent_trials || fatal !== undefined);
        if (fatal) break;
        if (deadline !== undefined && Date.now() >= deadline) {
          state.step = `time budget of ${search.time_budget_s} s spent: no new trials`;
          break;
        }
        const asked = await tuneAsk.executeWithOptions({ summary: `ask trial ${n}` }, [{ runId: tuneRunId, study: spec, number: n }]);
        if (asked.state === 'complete' || asked.state === 'pruned' || asked.state === 'fail') {
          const done = fromStudy(asked);
          const at = trials.findIndex((t) => t.number === n);
          if (at >= 0) trials[at] = done;
          else trials.push(done);
          show();
        } else {
          startTrial(n, asked.params, prepared);
          state.step = `trials: ${running.size} running, next ${n + 1} of ${search.num_trials}`;
          show();
          startedThisRun++;
        }
        n++;
        if (n < search.num_trials && budgetSpent(startedThisRun, trialsPerRun)) {
          await condition(() => running.size === 0);
          if (fatal) break;
          const { resume: _done, ...rest } = input;
          await continueWithCarry(run, rest, {
            study: spec.name,
            next: n,
            trials,
            prepared,
            attempt: state.attempt,
            startedAt: state.startedAt,
            ...(resumedFrom ? { resumedFrom } : {}),
          });
        }
      }
      if (fatal) for (const scope of running.values()) scope.cancel();
      await condition(() => running.size === 0);
    } catch (err) {
      // Cancelled: the trials were asked to stop too (their scopes are inside this one); let
      // them say so before the tune ends, so that each trial's status is its own.
      if (isCancellation(err) && running.size > 0) await CancellationScope.nonCancellable(() => condition(() => running.size === 0));
      throw err;
    }
    if (fatal) throw fatal;
    if (!prepared) throw new Error('the tune was not prepared');

    const best = bestTrial(trials, search.mode);
    const counts = countTrials(trials);
    if (!best || !best.checkpoint || best.metric === null) {
      throw ApplicationFailure.nonRetryable(`no trial completed (${describeCounts(counts)}): nothing to register`, 'TuneNoTrialCompleted');
    }
    const bestParams = trialParams(train, best.params);
    const base = { runId: tuneRunId, plugin: input.plugin, action: input.action, params: bestParams, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds };
    const model = best.checkpoint;
    const { fingerprint, classes }: TrainPrepareOutput = prepared;
    const evaluation = await run.step(`evaluate trial ${best.number}`, () =>
      trainEvaluate.executeWithOptions({ summary: `evaluate trial ${best.number}` }, [{ ...base, model, fingerprint }]),
    );
    state.metrics.evaluation = evaluation;
    const metrics: MetricValues = {
      [search.metric]: best.metric,
      trial: best.number,
      ...Object.fromEntries(Object.entries(best.last ?? {}).map(([k, v]) => [`train_${k}`, v])),
      ...evaluation,
    };
    state.progress.model_upload = { current: 0, total: 1 };
    const registered = await run.step('register model', () =>
      trainRegister.executeWithOptions({ summary: `register trial ${best.number}` }, [{ ...base, model, metrics, epochs: best.epochs, classes }]),
    );
    state.progress.model_upload = { current: 1, total: 1 };
    show();
    return {
      study: spec.name,
      best: { number: best.number, runId: best.runId, params: best.params, metric: best.metric },
      model: registered,
      metrics,
      counts,
      ...(resumedFrom ? { resumedFrom } : {}),
    };
  });
}

/** The best completed trial by the tune's metric (its last value); ties go to the earlier trial. */
export function bestTrial(trials: readonly TuneTrial[], mode: 'min' | 'max'): TuneTrial | undefined {
  let best: TuneTrial | undefined;
  for (const t of trials) {
    if (t.status !== 'completed' || t.metric === null) continue;
    if (!best || better(mode, t.metric, best.metric as number) || (t.metric === best.metric && t.number < best.number)) best = t;
  }
  return best;
}

export function countTrials(trials: readonly TuneTrial[]): Record<TuneTrialStatus, number> {
  const counts: Record<TuneTrialStatus, number> = { pending: 0, running: 0, completed: 0, pruned: 0, failed: 0, cancelled: 0 };
  for (const t of trials) counts[t.status]++;
  return counts;
}

function describeCounts(counts: Record<TuneTrialStatus, number>): string {
  return (
    Object.entries(counts)
      .filter(([, c]) => c > 0)
      .map(([s, c]) => `${c} ${s}`)
      .join(', ') || 'no trials'
  );
}

/** The innermost message of a failure chain: what actually went wrong. */
function innermost(err: unknown): string {
  let current: unknown = err;
  let message = String(err);
  while (current instanceof Error) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}

/** The ApplicationFailure type inside a child's failure (`TuneMetricMissing`, ...). */
function failureType(err: unknown): string | undefined {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) return current.type;
    current = current.cause;
  }
  return undefined;
}

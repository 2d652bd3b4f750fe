/**
 * One trial of a tune (workflows/tune.ts starts it as a child workflow with the id
 * `<tune run id>/trial-<n>`): the trainer's own train steps with this trial's
 * hyperparameters (one `trainEpoch` activity per epoch, each from the previous epoch's
 * checkpoint, on the dataset the tune's prepare step downloaded once), and after each epoch the tune's metric reported to the study as an
 * intermediate value. When the study's pruner says stop, the trial ends early as `pruned`
 * (a completed workflow whose result says so, not a failure). At the end it tells the study
 * its value and its last checkpoint. It never evaluates or registers a model: the tune does
 * that for the best trial only.
 *
 * Each epoch's value also goes to the tune as a signal, so the tune's `runState` shows every
 * trial's metric history while it runs. A metric the trainer does not report fails the trial
 * at its first epoch with a TuneMetricMissing failure naming it; the tune then fails.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { MetricValues, RunState } from '../contracts/run-state.js';
import type { ModelRef, TrainPrepareOutput } from '../contracts/train.js';
import type { StudySpec, TrialResult } from '../contracts/tune.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import type { RunCarry } from './run-tracker.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';

/** Epochs a trial runs before it continues as new (its history stays bounded). */
export const TRIAL_EPOCHS_PER_RUN = 100;

/**
 * The study's steps (ask, report, tell) run as local activities: each takes milliseconds in
 * the worker's warm Optuna process, and a local activity costs no round trip through the
 * server (a trial reports every epoch). A worker lost mid-call loses its workflow task; the
 * next worker runs the step again, which the steps' idempotency makes harmless.
 */
export const STUDY_STEP = { startToCloseTimeout: '2m', retry: DEFAULT_RETRY_POLICY } as const;

/** Failure type of a trial whose trainer never reports the tune's metric. */
export const METRIC_MISSING = 'TuneMetricMissing';

/** What a trial tells its tune after each epoch. */
export interface TrialEpoch {
  number: number;
  epoch: number;
  epochs: number;
  value: number;
}
export const trialEpochSignal = defineSignal<[TrialEpoch]>('tuneTrialEpoch');

export interface TuneTrialWorkflowInput extends RunActionInput {
  /** `params` are this trial's train params: the tune's fixed ones and this trial's hyperparameters. */
  trial: {
    /** The tune run (the parent): it gets an epoch signal after each epoch. */
    tuneRunId: string;
    study: StudySpec;
    number: number;
    metric: string;
    /** The tune's prepare step (dataset downloaded, references checked), done once for all trials. */
    prepared: TrainPrepareOutput;
  };
  /** Task queue of the training steps (num_gpus > 0); default the run's. */
  stepTaskQueue?: string;
  carry?: TrialCarry;
  /** Overrides for tests: epochs before continuing as new. */
  budget?: { epochsPerRun?: number };
}

/** What a continued trial carries over. */
export interface TrialCarry extends RunCarry {
  prepared: TrainPrepareOutput;
  epoch: number;
  model: ModelRef | null;
  history: { epoch: number; value: number }[];
  last: MetricValues;
}

export async function tuneTrialWorkflow(input: TuneTrialWorkflowInput): Promise<RunState> {
  const run = trackRun(input, { carry: input.carry, own: { progress: ['train'], metrics: ['train'] } });
  const { state } = run;
  const { trial } = input;
  const { trainEpoch } = proxyActivities<Activities>({ ...stepOptions(input), ...(input.stepTaskQueue ? { taskQueue: input.stepTaskQueue } : {}) });
  const { tuneReport, tuneTell } = proxyLocalActivities<Activities>(STUDY_STEP);
  const base = {
    runId: workflowInfo().workflowId,
    plugin: input.plugin,
    action: input.action,
    params: input.params,
    heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
  };
  const study = { runId: trial.tuneRunId, study: trial.study, number: trial.number };
  const tune = getExternalWorkflowHandle(trial.tuneRunId);
  const epochsPerRun = input.budget?.epochsPerRun ?? TRIAL_EPOCHS_PER_RUN;

  const show = (c: TrialCarry): void => {
    state.progress.dataset = { current: c.prepared.items, total: c.prepared.items };
    state.progress.train = { current: c.epoch, total: c.prepared.epochs };
    state.metrics.train = { epoch: c.epoch, ...c.last };
    state.epochs = c.history.map((h) => ({ epoch: h.epoch, metrics: { [trial.metric]: h.value } }));
    run.publish();
  };
  const result = (c: TrialCarry, status: TrialResult['status']): TrialResult => ({
    number: trial.number,
    status,
    metric: c.history[c.history.length - 1]?.value ?? null,
    history: c.history,
    epochs: c.epoch,
    checkpoint: c.model,
    fingerprint: c.prepared.fingerprint,
    classes: c.prepared.classes,
    last: c.last,
  });

  return runShape(run, async (): Promise<TrialResult> => {
    try {
      const carry: TrialCarry = input.carry ?? {
        // The tune prepared the dataset once for all its trials; this trial's epochs are its own.
        prepared: { ...trial.prepared, epochs: trialEpochs(input.params, trial.prepared.epochs) },
        epoch: 0,
        model: null,
        history: [],
        last: {},
        attempt: 1,
        startedAt: state.startedAt,
      };
      show(carry);
      let epochsThisRun = 0;
      while (carry.epoch < carry.prepared.epochs) {
        const epoch = carry.epoch + 1;
        const label = `epoch ${epoch}/${carry.prepared.epochs}`;
        const out = await run.step(label, () =>
          trainEpoch.executeWithOptions({ summary: label }, [
            { ...base, epoch, epochs: carry.prepared.epochs, from: carry.model, fingerprint: carry.prepared.fingerprint },
          ]),
        );
        state.attempt = Math.max(state.attempt, out.attempt);
        const value = metricOf(out.metrics, trial.metric, epoch);
        carry.epoch = epoch;
        carry.model = out.checkpoint;
        carry.last = out.metrics;
        carry.history.push({ epoch, value });
        show(carry);
        // The tune hears of the epoch, not waited for (a tune that is gone does not stop its
        // trial); the study decides on pruning.
        void tune.signal(trialEpochSignal, { number: trial.number, epoch, epochs: carry.prepared.epochs, value }).catch(() => undefined);
        const { prune } = await tuneReport({ ...study, step: epoch, value });
        if (prune && epoch < carry.prepared.epochs) {
          await tuneTell({ ...study, state: 'pruned', attrs: attrsOf(carry) });
          return result(carry, 'pruned');
        }
        if (carry.epoch < carry.prepared.epochs && budgetSpent(++epochsThisRun, epochsPerRun)) await continueWithCarry(run, input, carry);
      }
      const value = carry.history[carry.history.length - 1]?.value;
      if (value === undefined) throw ApplicationFailure.nonRetryable('the trial trained no epoch', 'TuneTrialEmpty');
      await tuneTell({ ...study, state: 'complete', value, attrs: attrsOf(carry) });
      return result(carry, 'completed');
    } catch (err) {
      // A failed trial is told to the study (a cancelled one is left running: a resumed tune
      // runs it again); a continue-as-new and the tell's own failure pass on as they are.
      if (!isCancellation(err) && !(err instanceof ContinueAsNew)) {
        await CancellationScope.nonCancellable(() => tuneTell({ ...study, state: 'fail', attrs: { run: base.runId } })).catch(() => undefined);
      }
      throw err;
    }
  });

  function attrsOf(c: TrialCarry): Record<string, unknown> {
    return {
      run: base.runId,
      epochs: c.epoch,
      ...(c.model ? { checkpoint: c.model } : {}),
      last: c.last,
      fingerprint: c.prepared.fingerprint,
      classes: c.prepared.classes,
    };
  }
}

/** The tune's metric in an epoch's metrics: a finite number, else a non-retryable failure naming it. */
function metricOf(metrics: MetricValues, metric: string, epoch: number): number {
  if (!(metric in metrics)) {
    const reported = Object.keys(metrics);
    throw ApplicationFailure.nonRetryable(
      `metric "${metric}" is never reported by the trainer: its epochs report ${reported.length ? reported.map((k) => `"${k}"`).join(', ') : 'no metrics'}`,
      METRIC_MISSING,
    );
  }
  const value = metrics[metric];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw ApplicationFailure.nonRetryable(`metric "${metric}" is ${JSON.stringify(value)} after epoch ${epoch}, not a finite number`, 'TuneMetricNotNumber');
  }
  return value;
}

/** A trial's epochs: its own `hyperparameters.epochs` (fixed or searched), else the tune's. */
function trialEpochs(params: unknown, fallback: number): number {
  const epochs = (params as { hyperparameters?: { epochs?: unknown } } | null)?.hyperparameters?.epochs;
  return typeof epochs === 'number' && Number.isSafeInteger(epochs) && epochs >= 1 ? epochs : fallback;
}

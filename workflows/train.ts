/**
 * The train run shape (category neural_net, a BaseTrainer): prepare (params, Python
 * environment, dataset into the local cache) -> one activity per epoch, each starting from
 * the previous epoch's checkpoint and saving its own to storage (mid-epoch checkpoints of a
 * retried attempt come from the run store) -> evaluate -> register the model.
 *
 * The workflow owns the `train` progress (epochs done) and the `model_upload` progress;
 * `dataset` comes from the prepare activity. Every epoch's metrics are kept in
 * `state.epochs` (the `runState` query). Long runs continue as new every `epochsPerRun`
 * epochs (or when Temporal suggests it), carrying the epoch, the checkpoint and the metrics
 * history, so a run's event history stays bounded however many epochs it trains.
 */
import { ActivityCancellationType, ContinueAsNew, continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { ModelRef, TrainPrepareOutput, TrainResult, TrainResumePoint } from '../contracts/train.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { EpochMetrics, MetricValues, RunState } from '../contracts/run-state.js';
import { trackRun } from './run-tracker.js';

/** Epochs run before the workflow continues as new. */
export const EPOCHS_PER_RUN = 50;
/** Epoch metrics kept in the run state and carried over; the oldest go first. */
export const MAX_EPOCH_HISTORY = 1000;


/** What a continued train run carries over. */
export interface TrainCarry {
  prepared: TrainPrepareOutput;
  epoch: number;
  model: ModelRef | null;
  history: EpochMetrics[];
  attempt: number;
  startedAt: string;
  resumedFrom?: { runId: string; epoch: number };
}

export interface TrainWorkflowInput extends RunActionInput {
  carry?: TrainCarry;
  /** Set by `synapse run resume`: start after this run's last checkpoint. */
  resume?: TrainResumePoint;
  /** Task queue of the steps that train (num_gpus > 0: the gpu resource class); default the run's. */
  stepTaskQueue?: string;
  /** Overrides for tests: epochs before continuing as new. */
  budget?: { epochsPerRun?: number };
}


export async function trainWorkflow(input: TrainWorkflowInput): Promise<RunState> {
  const info = workflowInfo();
  const startedAt = input.carry?.startedAt ?? info.startTime.toISOString();
  const run = trackRun(input, {
    startedAt,
    ...(input.carry ? { attempt: input.carry.attempt } : {}),
    own: { progress: ['train', 'model_upload'], metrics: ['train'] },
  });
  const { state, publish } = run;

  const stepOptions = {
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    // The step sees the cancellation (ctx.signal / Python's ctx.cancelled) and stops cleanly.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  } as const;
  const { trainPrepare, trainRegister } = proxyActivities<typeof activities>({ ...stepOptions, startToCloseTimeout: `${input.startToCloseSeconds}s` });
  const { trainEpoch, trainEvaluate } = proxyActivities<typeof activities>({
    ...stepOptions,
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    ...(input.stepTaskQueue ? { taskQueue: input.stepTaskQueue } : {}),
  });

  const base = { runId: info.workflowId, plugin: input.plugin, action: input.action, params: input.params, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds };
  let carry: TrainCarry | undefined = input.carry;

  const show = (c: TrainCarry): void => {
    state.progress.dataset = { current: c.prepared.items, total: c.prepared.items };
    state.progress.train = { current: c.epoch, total: c.prepared.epochs };
    state.epochs = c.history;
    const last = c.history[c.history.length - 1];
    if (last) state.metrics.train = { epoch: last.epoch, ...last.metrics };
    publish();
  };

  let result: TrainResult;
  try {
    if (!carry) {
      state.step = 'prepare dataset';
      publish();
      const resume = input.resume;
      const prepared = await trainPrepare.executeWithOptions({ summary: 'download dataset' }, [{ ...base, ...(resume ? { resume } : {}) }]);
      carry = {
        prepared,
        epoch: resume ? Math.min(resume.epoch, prepared.epochs) : 0,
        model: resume?.model ?? null,
        history: resume ? resume.history.filter((h) => h.epoch <= resume.epoch).slice(-MAX_EPOCH_HISTORY) : [],
        attempt: 1,
        startedAt,
        ...(resume ? { resumedFrom: { runId: resume.runId, epoch: resume.epoch } } : {}),
      };
    }
    show(carry);

    let epochsThisRun = 0;
    while (carry.epoch < carry.prepared.epochs) {
      const epoch = carry.epoch + 1;
      state.step = `epoch ${epoch}/${carry.prepared.epochs}`;
      publish();
      const out = await trainEpoch.executeWithOptions({ summary: `epoch ${epoch}/${carry.prepared.epochs}` }, [
        { ...base, epoch, epochs: carry.prepared.epochs, from: carry.model, fingerprint: carry.prepared.fingerprint },
      ]);
      state.attempt = Math.max(state.attempt, out.attempt);
      carry.epoch = epoch;
      carry.model = out.checkpoint;
      carry.history.push({ epoch, metrics: out.metrics });
      if (carry.history.length > MAX_EPOCH_HISTORY) carry.history.splice(0, carry.history.length - MAX_EPOCH_HISTORY);
      show(carry);
      epochsThisRun++;
      if (carry.epoch < carry.prepared.epochs && (epochsThisRun >= (input.budget?.epochsPerRun ?? EPOCHS_PER_RUN) || workflowInfo().continueAsNewSuggested)) {
        carry.attempt = state.attempt;
        // `resume` has done its work: the carry holds where the run is.
        const { resume: _done, ...rest } = input;
        await continueAsNew<typeof trainWorkflow>({ ...rest, carry });
      }
    }
    if (!carry.model) throw new Error('no epoch was trained: nothing to evaluate');

    state.step = 'evaluate';
    publish();
    const evaluation = await trainEvaluate.executeWithOptions({ summary: 'evaluate' }, [{ ...base, model: carry.model, fingerprint: carry.prepared.fingerprint }]);
    state.metrics.evaluation = evaluation;

    state.step = 'register model';
    state.progress.model_upload = { current: 0, total: 1 };
    publish();
    const last = carry.history[carry.history.length - 1];
    const metrics: MetricValues = {
      ...Object.fromEntries(Object.entries(last?.metrics ?? {}).map(([k, v]) => [`train_${k}`, v])),
      ...evaluation,
    };
    const model = await trainRegister.executeWithOptions({ summary: 'register model' }, [
      { ...base, model: carry.model, metrics, epochs: carry.prepared.epochs, classes: carry.prepared.classes },
    ]);
    state.progress.model_upload = { current: 1, total: 1 };
    result = { model, epochs: carry.epoch, metrics, ...(carry.resumedFrom ? { resumedFrom: carry.resumedFrom } : {}) };
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return run.fail(err);
  }
  return run.complete(result);
}

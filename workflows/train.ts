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
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { EpochMetrics, MetricValues, RunState } from '../contracts/run-state.js';
import type { ModelRef, TrainPrepareOutput, TrainResult, TrainResumePoint } from '../contracts/train.js';
import { budgetSpent, continueWithCarry, runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';

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
  const run = trackRun(input, { carry: input.carry, own: { progress: ['train', 'model_upload'], metrics: ['train'] } });
  const { state } = run;
  // Steps see a cancellation (ctx.signal / Python's ctx.cancelled) and stop cleanly.
  const { trainPrepare, trainRegister } = proxyActivities<Activities>(stepOptions(input));
  const { trainEpoch, trainEvaluate } = proxyActivities<Activities>({
    ...stepOptions(input),
    ...(input.stepTaskQueue ? { taskQueue: input.stepTaskQueue } : {}),
  });
  const base = {
    runId: workflowInfo().workflowId,
    plugin: input.plugin,
    action: input.action,
    params: input.params,
    heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
  };
  const epochsPerRun = input.budget?.epochsPerRun ?? EPOCHS_PER_RUN;

  const show = (c: TrainCarry): void => {
    state.progress.dataset = { current: c.prepared.items, total: c.prepared.items };
    state.progress.train = { current: c.epoch, total: c.prepared.epochs };
    state.epochs = c.history;
    const last = c.history[c.history.length - 1];
    if (last) state.metrics.train = { epoch: last.epoch, ...last.metrics };
    run.publish();
  };
  const prepare = async (resume: TrainResumePoint | undefined): Promise<TrainCarry> => {
    const prepared = await trainPrepare.executeWithOptions({ summary: 'download dataset' }, [{ ...base, ...(resume ? { resume } : {}) }]);
    return startingCarry(prepared, resume, state.startedAt);
  };

  return runShape(run, async (): Promise<TrainResult> => {
    const carry = input.carry ?? (await run.step('prepare dataset', () => prepare(input.resume)));
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
      // The epoch's last progress comes with its result, not by signal (bounded history); older
      // workers' results have none. No command: replays the same.
      if (out.report) run.merge(out.report);
      carry.epoch = epoch;
      carry.model = out.checkpoint;
      carry.history.push({ epoch, metrics: out.metrics });
      if (carry.history.length > MAX_EPOCH_HISTORY) carry.history.splice(0, carry.history.length - MAX_EPOCH_HISTORY);
      show(carry);
      if (carry.epoch < carry.prepared.epochs && budgetSpent(++epochsThisRun, epochsPerRun)) {
        // `resume` has done its work: the carry holds where the run is.
        const { resume: _done, ...rest } = input;
        await continueWithCarry(run, rest, carry);
      }
    }
    const model = carry.model;
    if (!model) throw new Error('no epoch was trained: nothing to evaluate');

    const evaluation = await run.step('evaluate', () =>
      trainEvaluate.executeWithOptions({ summary: 'evaluate' }, [{ ...base, model, fingerprint: carry.prepared.fingerprint }]),
    );
    state.metrics.evaluation = evaluation;
    const last = carry.history[carry.history.length - 1];
    const metrics: MetricValues = {
      ...Object.fromEntries(Object.entries(last?.metrics ?? {}).map(([k, v]) => [`train_${k}`, v])),
      ...evaluation,
    };
    state.progress.model_upload = { current: 0, total: 1 };
    const registered = await run.step('register model', () =>
      trainRegister.executeWithOptions({ summary: 'register model' }, [
        { ...base, model, metrics, epochs: carry.prepared.epochs, classes: carry.prepared.classes },
      ]),
    );
    state.progress.model_upload = { current: 1, total: 1 };
    return { model: registered, epochs: carry.epoch, metrics, ...(carry.resumedFrom ? { resumedFrom: carry.resumedFrom } : {}) };
  });
}

/** The carry of a run's first execution: from scratch, or from a resume point (`synapse run resume`). */
function startingCarry(prepared: TrainPrepareOutput, resume: TrainResumePoint | undefined, startedAt: string): TrainCarry {
  return {
    prepared,
    epoch: resume ? Math.min(resume.epoch, prepared.epochs) : 0,
    model: resume?.model ?? null,
    history: resume ? resume.history.filter((h) => h.epoch <= resume.epoch).slice(-MAX_EPOCH_HISTORY) : [],
    attempt: 1,
    startedAt,
    ...(resume ? { resumedFrom: { runId: resume.runId, epoch: resume.epoch } } : {}),
  };
}

/**
 * The tune run's study steps (workflows/tune.ts and tune-trial.ts own the loop): Optuna's
 * ask-and-tell through the worker's warm Optuna process (tune-optuna.ts), on a study kept in
 * Optuna's durable storage, so that a crashed worker, a retried step or a resumed tune finds
 * the same study:
 *
 * - tuneOpen: creates the study or loads it (a resumed tune's), checks it was made with the
 *   same search space; returns its trials;
 * - tuneAsk: trial n's params; creates the trial only when the study has none numbered n
 *   (a retried ask never makes a second one);
 * - tuneReport: one epoch's metric of trial n as an intermediate value (an epoch reported
 *   before is ignored), and whether the pruner stops the trial;
 * - tuneTell: the end of trial n (complete with its value, pruned, or failed), with what the
 *   tune keeps of it (its run id, its last checkpoint); a no-op once the trial is finished;
 * - tuneTrials: every trial of the study (the tests' and the result's view of it).
 *
 * None runs plugin code; each writes a line to the tune's run log where it changes the study.
 */
import { Context } from '@temporalio/activity';
import type { StudySpec, StudyTrial, StudyTrialState } from '../contracts/tune.js';
import type { RunStore } from '../platform/run-store.js';
import { rethrowAsFailure } from './failures.js';
import { optunaProcess, studyStorage } from './tune-optuna.js';

export interface TuneStudyInput {
  /** The tune run (its log gets a line per change to the study). */
  runId: string;
  study: StudySpec;
}

export interface TuneTrialInput extends TuneStudyInput {
  /** Optuna's trial number, 0-based. */
  number: number;
}

export interface TuneReportInput extends TuneTrialInput {
  /** The epoch (Optuna's step). */
  step: number;
  value: number;
}

export interface TuneTellInput extends TuneTrialInput {
  state: Exclude<StudyTrialState, 'running' | 'waiting'>;
  /** With `complete`: the trial's result. */
  value?: number;
  /** Kept with the trial (Optuna user attributes): its run id, its last checkpoint. */
  attrs?: Record<string, unknown>;
}

export function createTuneActivities({ store, dataDir }: { store: RunStore; dataDir: string }) {
  const storage = (): string => studyStorage(dataDir);

  const call = async <T>(cmd: string, args: Record<string, unknown>): Promise<T> => {
    // A sign of life while Optuna works (a TPE ask over many trials takes seconds): a worker
    // that dies mid-call is noticed after the heartbeat timeout, not the step's whole timeout.
    // (Run as local activities they need none: the workflow task is their sign of life.)
    const activity = currentActivity();
    const beat = activity && !activity.info.isLocal ? setInterval(() => activity.heartbeat(), 1000) : undefined;
    try {
      return await optunaProcess().call<T>(cmd, { ...args, storage: storage() });
    } catch (err) {
      return rethrowAsFailure(err);
    } finally {
      clearInterval(beat);
    }
  };

  /** A line in the tune's run log, and an event when there is one (`run watch --json`, resume points). */
  const log = async (runId: string, message: string, event?: { name: string; data: Record<string, unknown> }): Promise<void> => {
    const attempt = safeAttempt();
    const at = new Date().toISOString();
    await store.appendEvents([
      { runId, attempt, at, data: { kind: 'log', level: 'INFO', message } },
      ...(event ? [{ runId, attempt, at, data: { kind: 'event' as const, event: event.name, data: event.data } }] : []),
    ]);
  };
  /** What `run status` shows of an ended tune's trials when the workflow is gone (trialsFromEvents). */
  const ended = (t: StudyTrial) => ({
    name: 'trial_end',
    data: {
      number: t.number,
      state: t.state,
      value: t.value,
      params: t.params,
      history: Object.entries(t.intermediate).map(([epoch, value]) => ({ epoch: Number(epoch), value })),
      ...(typeof t.attrs.epochs === 'number' ? { epochs: t.attrs.epochs } : {}),
      ...(typeof t.attrs.run === 'string' ? { run: t.attrs.run } : {}),
    },
  });
  const finished = (t: StudyTrial): boolean => t.state === 'complete' || t.state === 'pruned' || t.state === 'fail';

  return {
    async tuneOpen(input: TuneStudyInput): Promise<StudyTrial[]> {
      await store.updateRun(input.runId, { status: 'running' });
      const trials = await call<StudyTrial[]>('open', { study: input.study });
      const kind = storage().split(':')[0];
      await log(
        input.runId,
        trials.length === 0
          ? `study ${input.study.name} created (${kind} storage; sampler ${input.study.sampler.type}, pruner ${input.study.pruner.type})`
          : `study ${input.study.name} loaded (${kind} storage): ${trials.length} trials so far, ${trials.filter(finished).length} finished`,
        { name: 'study_open', data: { study: input.study.name, direction: input.study.direction, trials: trials.length } },
      );
      return trials;
    },

    async tuneAsk(input: TuneTrialInput): Promise<StudyTrial> {
      const trial = await call<StudyTrial>('ask', { study: input.study, number: input.number });
      if (finished(trial))
        await log(input.runId, `trial ${trial.number} ${trial.state} in the study already (${formatParams(trial.params)}): kept, not run again`, ended(trial));
      else await log(input.runId, `trial ${trial.number}: ${formatParams(trial.params)}`);
      return trial;
    },

    async tuneReport(input: TuneReportInput): Promise<{ prune: boolean; state: StudyTrialState }> {
      return call('report', { study: input.study, number: input.number, step: input.step, value: input.value });
    },

    async tuneTell(input: TuneTellInput): Promise<StudyTrial> {
      const trial = await call<StudyTrial>('tell', {
        study: input.study,
        number: input.number,
        state: input.state,
        ...(input.value !== undefined ? { value: input.value } : {}),
        ...(input.attrs ? { attrs: input.attrs } : {}),
      });
      await log(input.runId, `trial ${trial.number} ${trial.state}${trial.value !== null ? `: ${trial.value}` : ''}`, ended(trial));
      return trial;
    },

    async tuneTrials(input: TuneStudyInput): Promise<StudyTrial[]> {
      return call('trials', { study: input.study });
    },
  };
}

/** `lr=0.01, width=16`: a trial's params for logs and summaries. */
export function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : JSON.stringify(v)}`)
    .join(', ');
}

/** The running activity's context; undefined outside one (tests call these functions directly). */
function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function safeAttempt(): number {
  return currentActivity()?.info.attempt ?? 1;
}

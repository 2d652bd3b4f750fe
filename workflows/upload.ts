/**
 * The upload run shape (category `upload`, DESIGN.md section 6): discover (files, Excel
 * metadata, the plugin's hooks, validation; the plan is written to the worker's disk) ->
 * upload batches, a few in flight -> register data units, batch by batch -> finalize (the
 * report). Data units are registered only once every batch is stored, so a unit never points
 * at a missing file. History carries batch numbers and counts, never file lists; long
 * uploads continue as new, carrying the phase and counts. Progress categories are the seed's:
 * analyze_collection, upload_data_files, generate_data_units. A run that fails or is cancelled
 * discards what it stored and nothing points at (uploadDiscard), even when cancelled: no orphans.
 */
import { CancellationScope, ContinueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { continueWithCarry, runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';
import { inWindow, range } from './window.js';

export const UPLOAD_PROGRESS = { analyze: 'analyze_collection', files: 'upload_data_files', units: 'generate_data_units' } as const;
export const UPLOAD_METRICS = { files: 'data_file', units: 'data_unit' } as const;
/** Data units per batch activity. */
export const UNITS_PER_BATCH = 100;
/** Upload batches in flight at once (each stores a few files at a time). */
export const UPLOAD_BATCHES_IN_FLIGHT = 4;
/** Register batches in flight (one database writer is enough; two hide the latency). */
export const REGISTER_BATCHES_IN_FLIGHT = 2;
/** Batch activities run before the workflow continues as new (bounds history). */
export const BATCHES_PER_RUN = 400;

export interface UploadCarry {
  phase: 'upload' | 'register';
  batches: number;
  units: number;
  files: number;
  rejected: number;
  /** The next batch of the phase. */
  next: number;
  filesDone: number;
  filesFailed: number;
  unitsDone: number;
  unitsSkipped: number;
  attempt: number;
  startedAt: string;
}

export interface UploadWorkflowInput extends RunActionInput {
  carry?: UploadCarry;
  /** Overrides (tests, bench): units per batch, batch activities before continuing as new, batches in flight. */
  budget?: { unitsPerBatch?: number; batchesPerRun?: number; batchesInFlight?: number };
}

export async function uploadWorkflow(input: UploadWorkflowInput): Promise<RunState> {
  const run = trackRun(input, { carry: input.carry, own: { progress: Object.values(UPLOAD_PROGRESS), metrics: Object.values(UPLOAD_METRICS) } });
  const { state } = run;
  const { uploadDiscover, uploadFinalize } = proxyActivities<Activities>({
    ...stepOptions(input),
    startToCloseTimeout: '1h',
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 60)}s`,
  });
  const { uploadBatch, uploadRegister } = proxyActivities<Activities>(stepOptions(input));
  const { uploadDiscard } = proxyActivities<Activities>({
    startToCloseTimeout: '1h',
    heartbeatTimeout: '60s',
    retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
  });

  const base = { runId: workflowInfo().workflowId, plugin: input.plugin, action: input.action, params: input.params };
  const carry: UploadCarry = input.carry ?? {
    phase: 'upload',
    batches: 0,
    units: 0,
    files: 0,
    rejected: 0,
    next: 0,
    filesDone: 0,
    filesFailed: 0,
    unitsDone: 0,
    unitsSkipped: 0,
    attempt: 1,
    startedAt: state.startedAt,
  };
  const show = (): void => {
    state.progress[UPLOAD_PROGRESS.analyze] = { current: 1, total: 1 };
    state.progress[UPLOAD_PROGRESS.files] = { current: carry.filesDone + carry.filesFailed, total: carry.files };
    state.progress[UPLOAD_PROGRESS.units] = { current: carry.unitsDone + carry.unitsSkipped, total: carry.units };
    state.metrics[UPLOAD_METRICS.files] = {
      success: carry.filesDone,
      failed: carry.filesFailed,
      stand_by: Math.max(0, carry.files - carry.filesDone - carry.filesFailed),
    };
    state.metrics[UPLOAD_METRICS.units] = {
      success: carry.unitsDone,
      failed: carry.unitsSkipped + carry.rejected,
      stand_by: Math.max(0, carry.units - carry.unitsDone - carry.unitsSkipped),
    };
    run.publish();
  };

  const perRun = Math.max(1, input.budget?.batchesPerRun ?? BATCHES_PER_RUN);
  let ranThisRun = 0;
  /** Set when the run fails or is cancelled: no further batch starts. */
  let stopping = false;
  /** Batch steps running now: the clean-up waits for them, so none stores after it. */
  const running = new Set<Promise<void>>();
  /** Runs the phase's batches from `carry.next` on, `limit` in flight; true when none is left, false when the run's budget ran out. */
  const batches = async (limit: number, step: (batch: number) => Promise<void>): Promise<boolean> => {
    const startWhile = (): boolean => !stopping && ranThisRun < perRun && !workflowInfo().continueAsNewSuggested;
    await inWindow(
      range(carry.next, carry.batches),
      limit,
      async (batch) => {
        carry.next = batch + 1;
        ranThisRun++;
        const done = step(batch);
        running.add(done);
        try {
          await done;
        } finally {
          running.delete(done);
        }
      },
      { startWhile },
    );
    return carry.next >= carry.batches;
  };
  const uploadFiles = async (batch: number): Promise<void> => {
    const out = await uploadBatch.executeWithOptions({ summary: `upload batch ${batch + 1}/${carry.batches}` }, [{ ...base, batch }]);
    carry.filesDone += out.files;
    carry.filesFailed += out.failed;
    show();
  };
  const registerUnits = async (batch: number): Promise<void> => {
    const out = await uploadRegister.executeWithOptions({ summary: `register batch ${batch + 1}/${carry.batches}` }, [{ ...base, batch }]);
    carry.unitsDone += out.registered;
    carry.unitsSkipped += out.skipped;
    show();
  };

  /** Runs the steps; on a failure or a cancel, the clean-up first (its own failure is logged, the run's error stays). */
  const discardingOnFailure = async <T>(steps: () => Promise<T>): Promise<T> => {
    try {
      return await steps();
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      stopping = true;
      try {
        const out = await CancellationScope.nonCancellable(async () => {
          await Promise.allSettled([...running]);
          return uploadDiscard({ runId: base.runId });
        });
        log.info('upload discarded', { ...out });
      } catch (cleanup) {
        log.warn('upload clean-up failed', { error: String(cleanup) });
      }
      throw err;
    }
  };

  return runShape(run, () =>
    discardingOnFailure(async () => {
      if (!input.carry) {
        state.progress[UPLOAD_PROGRESS.analyze] = { current: 0, total: 1 };
        const plan = await run.step('analyze collection', () => uploadDiscover({ ...base, unitsPerBatch: input.budget?.unitsPerBatch ?? UNITS_PER_BATCH }));
        Object.assign(carry, { batches: plan.batches, units: plan.units, files: plan.files, rejected: plan.rejected } satisfies Partial<UploadCarry>);
      }
      show();
      if (carry.phase === 'upload') {
        const inFlight = Math.max(1, input.budget?.batchesInFlight ?? UPLOAD_BATCHES_IN_FLIGHT);
        if (!(await run.step('upload data files', () => batches(inFlight, uploadFiles)))) return continueWithCarry(run, input, carry);
        carry.phase = 'register';
        carry.next = 0;
      }
      if (!(await run.step('generate data units', () => batches(REGISTER_BATCHES_IN_FLIGHT, registerUnits)))) return continueWithCarry(run, input, carry);
      return run.step('finalize', () => uploadFinalize(base));
    }),
  );
}

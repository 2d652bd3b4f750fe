/**
 * The upload run shape (category `upload`, DESIGN.md section 6): discover (files, Excel
 * metadata, the plugin's hooks, validation; the plan is written to the worker's disk) ->
 * upload batches, a few in flight -> register data units, batch by batch -> finalize (the
 * report). Data units are registered only once every batch is stored, so a unit never points
 * at a missing file. History carries batch numbers and counts, never file lists; long
 * uploads continue as new, carrying the phase and counts. Progress categories are the seed's:
 * analyze_collection, upload_data_files, generate_data_units.
 */
import { ActivityCancellationType, ContinueAsNew, continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { trackRun } from './run-tracker.js';

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
  const info = workflowInfo();
  const startedAt = input.carry?.startedAt ?? info.startTime.toISOString();
  const run = trackRun(input, {
    startedAt,
    ...(input.carry ? { attempt: input.carry.attempt } : {}),
    own: { progress: Object.values(UPLOAD_PROGRESS), metrics: Object.values(UPLOAD_METRICS) },
  });
  const { state, publish } = run;

  const { uploadDiscover, uploadFinalize } = proxyActivities<typeof activities>({
    startToCloseTimeout: '1h',
    heartbeatTimeout: `${Math.max(input.heartbeatTimeoutSeconds, 60)}s`,
    retry: DEFAULT_RETRY_POLICY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const { uploadBatch, uploadRegister } = proxyActivities<typeof activities>({
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  const base = { runId: info.workflowId, plugin: input.plugin, action: input.action, params: input.params };
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
    startedAt,
  };
  const show = (): void => {
    state.progress[UPLOAD_PROGRESS.analyze] = { current: 1, total: 1 };
    state.progress[UPLOAD_PROGRESS.files] = { current: carry.filesDone + carry.filesFailed, total: carry.files };
    state.progress[UPLOAD_PROGRESS.units] = { current: carry.unitsDone + carry.unitsSkipped, total: carry.units };
    state.metrics[UPLOAD_METRICS.files] = { success: carry.filesDone, failed: carry.filesFailed, stand_by: Math.max(0, carry.files - carry.filesDone - carry.filesFailed) };
    state.metrics[UPLOAD_METRICS.units] = {
      success: carry.unitsDone,
      failed: carry.unitsSkipped + carry.rejected,
      stand_by: Math.max(0, carry.units - carry.unitsDone - carry.unitsSkipped),
    };
    publish();
  };

  const inFlight = Math.max(1, input.budget?.batchesInFlight ?? UPLOAD_BATCHES_IN_FLIGHT);
  const perRun = Math.max(1, input.budget?.batchesPerRun ?? BATCHES_PER_RUN);
  let ranThisRun = 0;
  /** Runs batches `carry.next ..` with `lanes` in flight until done or the run's budget is spent. */
  const runPhase = async (lanes: number, step: (batch: number) => Promise<void>): Promise<boolean> => {
    const lane = async (): Promise<void> => {
      while (carry.next < carry.batches && ranThisRun < perRun && !workflowInfo().continueAsNewSuggested) {
        const batch = carry.next++;
        ranThisRun++;
        await step(batch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, Math.max(0, carry.batches - carry.next)) }, lane));
    return carry.next >= carry.batches;
  };

  let result: unknown;
  try {
    if (!input.carry) {
      state.step = 'analyze collection';
      state.progress[UPLOAD_PROGRESS.analyze] = { current: 0, total: 1 };
      publish();
      const plan = await uploadDiscover({ ...base, unitsPerBatch: input.budget?.unitsPerBatch ?? UNITS_PER_BATCH });
      carry.batches = plan.batches;
      carry.units = plan.units;
      carry.files = plan.files;
      carry.rejected = plan.rejected;
    }
    show();
    if (carry.phase === 'upload') {
      state.step = 'upload data files';
      publish();
      const done = await runPhase(inFlight, async (batch) => {
        const out = await uploadBatch.executeWithOptions({ summary: `upload batch ${batch + 1}/${carry.batches}` }, [{ ...base, batch }]);
        carry.filesDone += out.files;
        carry.filesFailed += out.failed;
        show();
      });
      if (!done) return await continueAsNewWith(input, carry, state.attempt);
      carry.phase = 'register';
      carry.next = 0;
    }
    state.step = 'generate data units';
    publish();
    const done = await runPhase(REGISTER_BATCHES_IN_FLIGHT, async (batch) => {
      const out = await uploadRegister.executeWithOptions({ summary: `register batch ${batch + 1}/${carry.batches}` }, [{ ...base, batch }]);
      carry.unitsDone += out.registered;
      carry.unitsSkipped += out.skipped;
      show();
    });
    if (!done) return await continueAsNewWith(input, carry, state.attempt);
    state.step = 'finalize';
    publish();
    const summary = await uploadFinalize(base);
    result = summary;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return run.fail(err);
  }
  return run.complete(result);
}

async function continueAsNewWith(input: UploadWorkflowInput, carry: UploadCarry, attempt: number): Promise<never> {
  return continueAsNew<typeof uploadWorkflow>({ ...input, carry: { ...carry, attempt } });
}

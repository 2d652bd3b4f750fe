/**
 * The upload run shape against stub activities (test/workflow-test-env.ts): a fake plan of
 * batches whose upload and register steps the stubs count, so the test sees the batches in
 * flight per phase, that units are registered only once every batch is stored, and what a
 * continue-as-new carries (phase, next batch, counts), in seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import { REGISTER_BATCHES_IN_FLIGHT, uploadWorkflow, type UploadWorkflowInput } from '../../workflows/upload.js';
import { executionOfActivity, InFlight, startWorkflowTestEnv, stubRunInput, type StubActivities, type WorkflowTestEnv } from '../workflow-test-env.js';

/** `batches` batches of 10 units with one file each; in batch 3, one file fails and its unit is skipped. */
function fakeUpload(batches: number, fill?: { uploads: number; registers: number }) {
  const uploads = new InFlight(fill ? { slots: fill.uploads, total: batches } : undefined);
  const registers = new InFlight(fill ? { slots: fill.registers, total: batches } : undefined);
  /** Upload batches still in flight when a register batch started (must stay 0). */
  let uploadsAtRegister = 0;
  const log: { step: 'upload' | 'register'; batch: number; runId: string }[] = [];
  const step = (kind: 'upload' | 'register', batch: number) => log.push({ step: kind, batch, runId: executionOfActivity() });
  const pause = () => new Promise((r) => setTimeout(r, 15));
  const activities: StubActivities = {
    async uploadDiscover() {
      return { batches, units: batches * 10, files: batches * 10, bytes: batches * 1000, rejected: 1 };
    },
    async uploadBatch(input) {
      step('upload', input.batch);
      return uploads.run(async () => {
        await pause();
        return input.batch === 3 ? { files: 9, bytes: 900, failed: 1 } : { files: 10, bytes: 1000, failed: 0 };
      });
    },
    async uploadRegister(input) {
      step('register', input.batch);
      uploadsAtRegister = Math.max(uploadsAtRegister, uploads.now);
      return registers.run(async () => {
        await pause();
        return input.batch === 3 ? { registered: 9, skipped: 1 } : { registered: 10, skipped: 0 };
      });
    },
    async uploadFinalize() {
      const count = (kind: 'upload' | 'register') => new Set(log.filter((l) => l.step === kind).map((l) => l.batch)).size;
      return {
        name: 'fake',
        data_collection: 'c',
        storage: 'default',
        planned_units: batches * 10,
        planned_files: batches * 10,
        uploaded_files: count('upload') * 10 - 1,
        uploaded_bytes: count('upload') * 1000 - 100,
        failed_files: 1,
        data_units_registered: count('register') * 10 - 1,
        data_units_skipped: 1,
        rejected_units: 1,
        skipped_files: 0,
        duplicates_replaced: 0,
        metadata_file: null,
        metadata_rows_matched: 0,
        metadata_rows_unmatched: 0,
        failures: [{ file: 'batch-3/file', reason: 'stub' }],
        rejected: [{ key: 'unit', reason: 'stub' }],
      };
    },
    async recordRunProgress() {},
    async recordRunStatus() {},
  };
  return { activities, uploads, registers, log, uploadsAtRegister: () => uploadsAtRegister };
}

function uploadInput(budget?: UploadWorkflowInput['budget']): UploadWorkflowInput {
  return {
    ...stubRunInput('upload', { analyze_collection: { weight: 10 }, upload_data_files: { weight: 60 }, generate_data_units: { weight: 30 } }),
    ...(budget ? { budget } : {}),
  };
}

describe('upload workflow (stub activities)', () => {
  let t: WorkflowTestEnv;
  let seq = 0;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  });
  afterAll(async () => {
    await t?.teardown();
  });

  async function runUpload(fake: ReturnType<typeof fakeUpload>, input: UploadWorkflowInput): Promise<{ final: RunState; executions: number }> {
    return t.withWorker(fake.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(uploadWorkflow, { workflowId: `upload-${Date.now()}-${++seq}`, taskQueue, args: [input] });
      const final = await handle.result();
      return { final, executions: new Set(fake.log.map((l) => l.runId)).size };
    });
  }

  it('keeps each phase within its batches in flight, and registers only after every batch is stored', async () => {
    const fake = fakeUpload(12, { uploads: 3, registers: REGISTER_BATCHES_IN_FLIGHT });
    const { final } = await runUpload(fake, uploadInput({ batchesInFlight: 3 }));
    expect(final.status).toBe('completed');
    expect(fake.uploads.max).toBe(3);
    expect(fake.registers.max).toBe(REGISTER_BATCHES_IN_FLIGHT);
    expect(fake.uploadsAtRegister()).toBe(0);
    const firstRegister = fake.log.findIndex((l) => l.step === 'register');
    // Batches in flight start on the worker in any order.
    expect(
      fake.log
        .slice(0, firstRegister)
        .map((l) => l.batch)
        .sort((x, y) => x - y),
    ).toEqual([...Array(12).keys()]);
    expect(fake.log.slice(firstRegister).map((l) => l.step)).toEqual(Array(12).fill('register'));
  });

  it('continues as new after batchesPerRun batches, carrying phase, next batch and counts: the result equals a run without', async () => {
    const straight = fakeUpload(7);
    const continued = fakeUpload(7);
    const a = await runUpload(straight, uploadInput());
    const b = await runUpload(continued, uploadInput({ batchesPerRun: 3 }));
    expect(a.executions).toBe(1);
    // upload 3 | upload 3 | upload 1 + register 2 | register 3 | register 2
    expect(b.executions).toBe(5);
    const perRun = new Map<string, string[]>();
    for (const l of continued.log) perRun.set(l.runId, [...(perRun.get(l.runId) ?? []), `${l.step}${l.batch}`]);
    // Each run's steps, sorted by name (steps in flight start on the worker in any order).
    expect([...perRun.values()].map((steps) => steps.sort())).toEqual([
      ['upload0', 'upload1', 'upload2'],
      ['upload3', 'upload4', 'upload5'],
      ['register0', 'register1', 'upload6'],
      ['register2', 'register3', 'register4'],
      ['register5', 'register6'],
    ]);
    for (const key of ['status', 'result', 'progress', 'metrics', 'percent', 'attempt'] as const) expect(b.final[key], key).toEqual(a.final[key]);
    expect(b.final.progress.upload_data_files).toEqual({ current: 70, total: 70 });
    expect(b.final.metrics.data_unit).toEqual({ success: 69, failed: 2, stand_by: 0 });
  });
});

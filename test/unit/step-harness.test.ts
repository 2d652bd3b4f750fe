/**
 * The step harness (activities/step.ts) that every activity of a run goes through, run in
 * Temporal's mock activity context against an in-memory run store: the class kind is checked
 * before anything happens, params errors list every problem, the run is marked running only
 * by the steps that say so, a step's log gets its failure or cancellation, and our permanent
 * errors stop retries while anything else retries.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { ANY_ACTION, EXPORTER, type ActionInstanceClass } from '../../activities/action-kinds.js';
import { stepRunner, type StepInput, type StepSpec } from '../../activities/step.js';
import { NotFoundError } from '../../contracts/errors.js';
import type { RunStatus } from '../../contracts/run-state.js';
import { parseParams } from '../../engine/plugin-loader.js';
import type { Checkpoint, RunEventInput, RunRecord, RunStore } from '../../platform/run-store.js';
import { parseExportParams } from '../../sdk/exporter.js';

/** The run store's writes, in memory. */
class MemoryStore implements RunStore {
  readonly statuses: RunStatus[] = [];
  readonly events: RunEventInput[] = [];
  async createRun(): Promise<void> {}
  async updateRun(_id: string, patch: Partial<Pick<RunRecord, 'status'>>): Promise<void> {
    if (patch.status) this.statuses.push(patch.status);
  }
  async getRun(): Promise<RunRecord | undefined> {
    return undefined;
  }
  async deletePendingRun(): Promise<boolean> {
    return false;
  }
  async listRuns(): Promise<RunRecord[]> {
    return [];
  }
  async appendEvents(events: RunEventInput[]): Promise<void> {
    this.events.push(...events);
  }
  async readEvents() {
    return [];
  }
  async highestAttempt(): Promise<number> {
    return Math.max(0, ...this.events.map((e) => e.attempt));
  }
  async saveCheckpoint(): Promise<void> {}
  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    return undefined;
  }
  async close(): Promise<void> {}
  logs(): string[] {
    return this.events.flatMap((e) => (e.data.kind === 'log' ? [`${e.data.level} ${e.data.message}`] : []));
  }
}

const ANY: StepSpec<ActionInstanceClass, unknown> = { kind: ANY_ACTION, params: (raw, { action }) => parseParams(action, raw) };
const EXPORT = {
  kind: EXPORTER,
  params: (raw: unknown, { cls, subject }: { cls: Parameters<typeof parseExportParams>[0]; subject: string }) => parseExportParams(cls, raw, subject),
};

const input = (plugin: string, action: string, params: unknown = {}): StepInput => ({
  runId: 'run-1',
  plugin: { code: plugin, version: '1.0.0' },
  action,
  params,
});

/** Runs `fn` as activity `activityType`, attempt `attempt`, in a mock activity context. */
function inActivity<T>(
  fn: () => Promise<T>,
  info: { activityType?: string; attempt?: number } = {},
  env = new MockActivityEnvironment({ activityType: info.activityType ?? 'exportPage', attempt: info.attempt ?? 1 }),
): Promise<T> {
  return env.run(fn);
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the step to fail');
    },
    (err: unknown) => err,
  );
}

describe('the step harness', () => {
  it('refuses a class of the wrong kind before it marks the run or runs anything', async () => {
    const store = new MemoryStore();
    let ran = false;
    const err = await failure(
      inActivity(() =>
        stepRunner(store).step(input('noop', 'validation'), EXPORT, { marksRunning: true }, async () => {
          ran = true;
        }),
      ),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({
      type: 'NonRetriableError',
      nonRetryable: true,
      message: 'noop validation: Noop is not a BaseExporter (an export run needs one)',
    });
    expect(ran).toBe(false);
    expect(store.statuses).toEqual([]);
  });

  it('refuses bad params as a non-retryable ParamsError listing every problem', async () => {
    const store = new MemoryStore();
    const err = await failure(
      inActivity(() =>
        stepRunner(store).bareStep(input('demo-validation', 'validation', { count: 'many', delayMs: -1 }), ANY, { marksRunning: true }, async () => 1),
      ),
    );
    expect(err).toMatchObject({ type: 'ParamsError', nonRetryable: true });
    expect((err as Error).message).toContain('invalid params for demo-validation validation');
    expect(store.statuses).toEqual([]);
  });

  it('hands the step its checked class, parsed params and a run context, marks the run running, and writes its events', async () => {
    const store = new MemoryStore();
    const result = await inActivity(() =>
      stepRunner(store).step(
        input('export-json', 'export', { name: 'n', storage: 'default', target: 'task', filter: { project: 1 } }),
        EXPORT,
        { marksRunning: true },
        async ({ cls, params, ctx }) => {
          ctx.logMessage('working');
          // Typed as the exporter it is: no cast to construct it or read its statics.
          return { pageSize: cls.pageSize, exporter: new cls().constructor.name, path: params.path, runId: ctx.runId };
        },
      ),
    );
    expect(result).toEqual({ pageSize: 1000, exporter: 'Exporter', path: '', runId: 'run-1' });
    expect(store.statuses).toEqual(['running']);
    expect(store.logs()).toEqual(['INFO working']);
  });

  it('lets other errors retry and logs the attempt that failed; our permanent errors stop retries', async () => {
    const store = new MemoryStore();
    const steps = stepRunner(store);
    const boom = new Error('disk on fire');
    expect(
      await failure(
        inActivity(() => steps.step(input('noop', 'validation'), ANY, {}, async () => Promise.reject(boom)), { attempt: 3, activityType: 'exportPage' }),
      ),
    ).toBe(boom);
    const gone = await failure(
      inActivity(() => steps.step(input('noop', 'validation'), ANY, {}, async () => Promise.reject(new NotFoundError('unknown storage "s3"')))),
    );
    expect(gone).toMatchObject({ type: 'NotFoundError', nonRetryable: true, message: 'unknown storage "s3"' });
    // The simple shape's step is the whole run: its log says so.
    await failure(
      inActivity(() => steps.step(input('noop', 'validation'), ANY, { scope: 'run' }, async () => Promise.reject(boom)), {
        attempt: 2,
        activityType: 'runAction',
      }),
    );
    expect(store.logs()).toEqual([
      'ERROR attempt 3 of exportPage failed: disk on fire',
      'ERROR attempt 1 of exportPage failed: unknown storage "s3"',
      'ERROR attempt 2 failed: disk on fire',
    ]);
    expect(store.statuses).toEqual([]);
  });

  it('passes a cancellation through as it is, logged, even when the step turned it into its own error', async () => {
    const store = new MemoryStore();
    const env = new MockActivityEnvironment({ activityType: 'trainEpoch' });
    let started!: () => void;
    const startedPromise = new Promise<void>((r) => (started = r));
    const running = inActivity(
      () =>
        stepRunner(store).step(input('noop', 'validation'), ANY, {}, async ({ ctx }) => {
          started();
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped by the plugin'))));
        }),
      {},
      env,
    );
    await startedPromise;
    env.cancel();
    expect(await failure(running)).toBeInstanceOf(CancelledFailure);
    expect(store.logs()).toEqual(['WARNING step cancelled']);
  });

  it('a bare step writes nothing to the run log and maps its errors the same way', async () => {
    const store = new MemoryStore();
    const steps = stepRunner(store);
    expect(await inActivity(() => steps.bareStep(input('noop', 'validation'), ANY, {}, async ({ cls }) => cls.name))).toBe('Noop');
    const err = await failure(
      inActivity(() => steps.bareStep(input('noop', 'validation'), ANY, {}, async () => Promise.reject(new NotFoundError('unknown project 9')))),
    );
    expect(err).toMatchObject({ type: 'NotFoundError', nonRetryable: true });
    expect(store.events).toEqual([]);
  });
});

/**
 * The RunContext plugin code gets inside a run. It keeps Temporal out of plugin code:
 * - heartbeats on a timer, every second at most (so cancellation is delivered within about
 *   a second even to a quiet action) with the latest checkpoint in the heartbeat details,
 * - appends run events to the run store in batches (logs as they come, progress and
 *   metrics coalesced to their latest value per flush; timer flushes are fire-and-forget,
 *   written in order, and a failed write is logged and retried with the next flush),
 * - reports a progress snapshot to the workflow by signal, at most every 5 s and at the step's
 *   end, for the query and UI (bounded history: PROGRESS_REPORT_INTERVAL_MS),
 * - makes checkpoints durable in the run store before `checkpoint()` resolves.
 */
import type { Context } from '@temporalio/activity';
import type { Checkpoint, RunEventData, RunEventInput, RunStore } from '../platform/run-store.js';
import type { LogLevel, RunContext } from '../sdk/run-context.js';
import type { CategoryProgress, MetricValues, ProgressCategoryDef, ProgressSnapshot } from '../contracts/run-state.js';
import { reportProgressSignal } from '../contracts/run-messages.js';

/** Heartbeat details: what a retried attempt reads to resume. */
export interface HeartbeatDetails {
  checkpoint?: Checkpoint;
  /** Seq of the latest checkpoint when its state was too large to carry here. */
  checkpointSeq?: number;
  progress: Record<string, CategoryProgress>;
}

export interface ActivityRunContextOptions<P> {
  runId: string;
  params: P;
  activity: Context;
  store: RunStore;
  progressCategories: Record<string, ProgressCategoryDef>;
  /** What `ctx.envs` holds: the variables the plugin declares in config.yaml `envs` (plugin-host-env.ts), never the worker's whole environment. */
  envs?: Record<string, string>;
  /** How often buffered events are written to the run store. */
  flushIntervalMs?: number;
  /** How often, at most, progress is signalled to the workflow (default PROGRESS_REPORT_INTERVAL_MS). */
  reportIntervalMs?: number;
}

/** Checkpoint states larger than this travel only through the run store, not heartbeats. */
const MAX_HEARTBEAT_CHECKPOINT_BYTES = 64 * 1024;
/** The longest between two heartbeats of a step, whatever its heartbeat timeout. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/**
 * How often, at most, a step signals its progress to the workflow (for the query and the Web
 * UI), besides once at its end (close()). Each signal is four history events (the signal and a
 * workflow task), so this bounds a run's history: at most 48 events a minute per running step,
 * a 50 s training run under 100 events in all. `run watch` and the gateway read the run
 * store, written every 250 ms, so they stay live.
 */
export const PROGRESS_REPORT_INTERVAL_MS = 5000;
/** Buffered events past this count are written at once instead of waiting for the timer. */
const MAX_BUFFERED_EVENTS = 500;

export class ActivityRunContext<P = unknown> implements RunContext<P> {
  readonly runId: string;
  readonly params: P;
  readonly envs: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
  readonly attempt: number;

  private readonly activity: Context;
  private readonly store: RunStore;
  private readonly progressCategories: Record<string, ProgressCategoryDef>;
  private buffer: RunEventInput[] = [];
  private readonly progress: Record<string, CategoryProgress> = {};
  private readonly metrics: Record<string, MetricValues> = {};
  private dirtyProgress = new Set<string>();
  private dirtyMetrics: Record<string, MetricValues> = {};
  private reportDirty = false;
  private step: string | undefined;
  private lastCheckpoint: Checkpoint | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private reporting: Promise<void> = Promise.resolve();
  /** Event writes, chained so they reach the store in order. */
  private writing: Promise<void> = Promise.resolve();

  /**
   * `storedCheckpoint`: the run's newest checkpoint in the run store (`store.latestCheckpoint`),
   * read by the caller before (the step harness reads it while the action loads); the context
   * resumes from it or from the attempt's last heartbeat, whichever is newer.
   */
  constructor(options: ActivityRunContextOptions<P>, storedCheckpoint?: Checkpoint) {
    this.runId = options.runId;
    this.params = options.params;
    this.activity = options.activity;
    this.store = options.store;
    this.progressCategories = options.progressCategories;
    this.envs = Object.freeze({ ...options.envs });
    this.signal = options.activity.cancellationSignal;
    this.attempt = options.activity.info.attempt;
    this.lastCheckpoint = this.findResumeCheckpoint(storedCheckpoint);
    // Every second (the worker's heartbeat throttle, workers/worker.ts): a cancel comes back
    // in the answer to a heartbeat, so this bounds how late ctx.signal fires.
    const heartbeatMs = Math.max(200, Math.min(HEARTBEAT_INTERVAL_MS, (options.activity.info.heartbeatTimeoutMs ?? 30_000) / 3));
    this.timers.push(
      setInterval(() => this.heartbeat(), heartbeatMs),
      setInterval(() => this.flush(), options.flushIntervalMs ?? 250),
      setInterval(() => this.report(), options.reportIntervalMs ?? PROGRESS_REPORT_INTERVAL_MS),
    );
  }

  /** The newest checkpoint of this run: from the last heartbeat or from the run store. */
  private findResumeCheckpoint(fromStore: Checkpoint | undefined): Checkpoint | undefined {
    const details = this.activity.info.heartbeatDetails as HeartbeatDetails | undefined;
    const fromHeartbeat = details?.checkpoint;
    if (details?.progress) Object.assign(this.progress, details.progress);
    if (!fromHeartbeat) return fromStore;
    if (!fromStore) return fromHeartbeat;
    return fromStore.seq >= fromHeartbeat.seq ? fromStore : fromHeartbeat;
  }

  logMessage(message: string, level: LogLevel = 'INFO'): void {
    this.push({ kind: 'log', level, message: String(message) });
  }

  log(event: string, data: Record<string, unknown> = {}): void {
    this.push({ kind: 'event', event, data });
  }

  setProgress(current: number, total: number, category?: string): void {
    if (!Number.isFinite(current) || !Number.isFinite(total) || current < 0 || total < 0) {
      throw new RangeError(`setProgress(${current}, ${total}): current and total must be finite and >= 0`);
    }
    const name = category ?? this.defaultCategory();
    this.progress[name] = { current: Math.min(current, total === 0 ? current : total), total };
    this.dirtyProgress.add(name);
    this.reportDirty = true;
  }

  setMetrics(values: MetricValues, category: string): void {
    this.metrics[category] = { ...this.metrics[category], ...values };
    this.dirtyMetrics[category] = { ...this.dirtyMetrics[category], ...values };
    this.reportDirty = true;
  }

  /** Names the step now running, for the Web UI. */
  setStep(step: string): void {
    this.step = step;
    this.reportDirty = true;
  }

  async checkpoint(state: unknown): Promise<void> {
    const checkpoint: Checkpoint = {
      seq: (this.lastCheckpoint?.seq ?? 0) + 1,
      state: structuredClone(state),
      attempt: this.attempt,
      at: new Date().toISOString(),
    };
    this.flush();
    await this.writing;
    await this.store.saveCheckpoint(this.runId, checkpoint);
    this.lastCheckpoint = checkpoint;
    this.heartbeat();
  }

  resumeState<T = unknown>(): T | undefined {
    // A copy: plugin code may mutate what it gets without changing the saved checkpoint.
    return structuredClone(this.lastCheckpoint?.state) as T | undefined;
  }

  /** The latest progress and metrics, as the workflow should see them. */
  snapshot(): ProgressSnapshot {
    return { progress: { ...this.progress }, metrics: structuredClone(this.metrics), ...(this.step ? { step: this.step } : {}) };
  }

  /**
   * The step's last progress report, handed over to travel with its result instead of a
   * signal: close() then sends none for it (four history events fewer per step). The step
   * returns it and its workflow merges it (run-tracker's `merge`); a step whose workflow sets
   * the same progress itself may drop it. Changes after this call are signalled as usual.
   */
  takeFinalReport(): ProgressSnapshot & { attempt: number } {
    this.reportDirty = false;
    return { ...this.snapshot(), attempt: this.attempt };
  }

  /**
   * Stops the timers, writes everything still buffered, and signals the last progress to the
   * workflow: reports are throttled, so without it a step's last steps (an epoch's last
   * batches) would never reach the run's state (`epoch 47/51` after the epoch ended).
   */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.report();
    this.flush();
    await this.writing;
    await this.reporting;
  }

  private defaultCategory(): string {
    const declared = Object.keys(this.progressCategories);
    return declared.length === 1 ? (declared[0] as string) : 'default';
  }

  private push(data: RunEventData): void {
    this.buffer.push({ runId: this.runId, attempt: this.attempt, at: new Date().toISOString(), data });
    if (this.buffer.length >= MAX_BUFFERED_EVENTS) this.flush();
  }

  private flush(): void {
    const at = new Date().toISOString();
    for (const category of this.dirtyProgress) {
      const p = this.progress[category] as CategoryProgress;
      this.buffer.push({ runId: this.runId, attempt: this.attempt, at, data: { kind: 'progress', category, ...p } });
    }
    for (const [category, values] of Object.entries(this.dirtyMetrics)) {
      this.buffer.push({ runId: this.runId, attempt: this.attempt, at, data: { kind: 'metrics', category, values } });
    }
    this.dirtyProgress.clear();
    this.dirtyMetrics = {};
    if (this.buffer.length === 0) return;
    const events = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() =>
      this.store.appendEvents(events).catch((err: unknown) => {
        // Kept for the next flush, in front of what came since, so the order holds.
        this.buffer = events.concat(this.buffer);
        this.activity.log.warn('writing run events failed; retrying with the next flush', { error: String(err) });
      }),
    );
  }

  private heartbeat(): void {
    const details: HeartbeatDetails = { progress: this.progress };
    const c = this.lastCheckpoint;
    if (c) {
      const size = JSON.stringify(c.state ?? null).length;
      if (size <= MAX_HEARTBEAT_CHECKPOINT_BYTES) details.checkpoint = c;
      else details.checkpointSeq = c.seq;
    }
    this.activity.heartbeat(details);
  }

  private report(): void {
    if (!this.reportDirty) return;
    this.reportDirty = false;
    const report = { ...this.snapshot(), attempt: this.attempt };
    // Best effort: the run store has the same data, the query is a convenience view.
    this.reporting = this.reporting.then(async () => {
      try {
        await this.activity.client.workflow.getHandle(this.runId).signal(reportProgressSignal, report);
      } catch (err) {
        // Never fails close(): the run store has the same data.
        this.activity.log.warn('progress signal failed', { error: String(err) });
      }
    });
  }
}

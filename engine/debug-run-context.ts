/**
 * The RunContext of `synapse plugin run --debug`: the action runs in this process, without
 * Temporal, and everything it reports is printed. Checkpoints stay in memory.
 */
import type { MetricValues } from '../contracts/run-state.js';
import type { LogLevel, RunContext } from '../sdk/run-context.js';

export interface DebugSink {
  log(level: LogLevel, message: string): void;
  event(name: string, data: Record<string, unknown>): void;
  progress(category: string, current: number, total: number): void;
  metrics(category: string, values: MetricValues): void;
  checkpoint(seq: number): void;
}

export class DebugRunContext<P = unknown> implements RunContext<P> {
  readonly envs = process.env;
  readonly attempt = 1;
  private saved: { seq: number; state: unknown } | undefined;

  constructor(
    readonly runId: string,
    readonly params: P,
    readonly signal: AbortSignal,
    private readonly sink: DebugSink,
    private readonly defaultCategory = 'default',
  ) {}

  logMessage(message: string, level: LogLevel = 'INFO'): void {
    this.sink.log(level, message);
  }
  log(event: string, data: Record<string, unknown> = {}): void {
    this.sink.event(event, data);
  }
  setProgress(current: number, total: number, category?: string): void {
    if (!Number.isFinite(current) || !Number.isFinite(total) || current < 0 || total < 0) {
      throw new RangeError(`setProgress(${current}, ${total}): current and total must be finite and >= 0`);
    }
    this.sink.progress(category ?? this.defaultCategory, current, total);
  }
  setMetrics(values: MetricValues, category: string): void {
    this.sink.metrics(category, values);
  }
  async checkpoint(state: unknown): Promise<void> {
    this.saved = { seq: (this.saved?.seq ?? 0) + 1, state: structuredClone(state) };
    this.sink.checkpoint(this.saved.seq);
  }
  resumeState<T = unknown>(): T | undefined {
    return structuredClone(this.saved?.state) as T | undefined;
  }
}

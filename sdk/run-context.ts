/**
 * RunContext: everything plugin code may do while its action runs. Inside a run it
 * heartbeats to Temporal and appends run events to the run store; in `--debug` mode it
 * prints to the terminal. Plugin code never sees Temporal.
 */
import type { MetricValues } from '../contracts/run-state.js';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];

export interface RunContext<P = unknown> {
  /** The run id (the Temporal workflow id). */
  readonly runId: string;
  /** The action's params, already validated by its schema. */
  readonly params: P;
  /** The environment variables config.yaml `envs` declares, with their values on the worker. Never logged. */
  readonly envs: Readonly<Record<string, string | undefined>>;
  /** Fires when the run is cancelled; long loops should check it and stop. */
  readonly signal: AbortSignal;
  /** 1 on the first try, 2+ when a failed or lost attempt is retried. */
  readonly attempt: number;
  /** A line for the run's log. */
  logMessage(message: string, level?: LogLevel): void;
  /** A structured event, e.g. `log('model_checkpoint', { epoch: 10 })`. */
  log(event: string, data?: Record<string, unknown>): void;
  /** Progress of one category; `total` 0 means nothing to do (done, not an error). */
  setProgress(current: number, total: number, category?: string): void;
  /** Latest metric values of a category; later calls merge over earlier ones. */
  setMetrics(values: MetricValues, category: string): void;
  /**
   * Saves resumable state. When the promise resolves the state is durable: a retried
   * attempt (worker killed, error thrown) gets it back from `resumeState()`.
   */
  checkpoint(state: unknown): Promise<void>;
  /** The last checkpointed state of this run, or undefined on a fresh start. */
  resumeState<T = unknown>(): T | undefined;
}

/**
 * The run store: runs and their events (logs, progress, metrics, checkpoints, status).
 * Activities append events in batches; the CLI and the gateway read them to show a run
 * without polling Temporal for every tick. One implementation over SQLite and Postgres
 * (kysely-run-store.ts); every method is async because Postgres is.
 */
import type { MetricValues, RunStatus } from '../contracts/run-state.js';

export interface RunRecord {
  id: string;
  pluginCode: string;
  pluginVersion: string;
  action: string;
  category: string;
  method: string;
  status: RunStatus;
  params: unknown;
  result?: unknown;
  error?: string;
  createdAt: string;
  updatedAt: string;
}

export type RunEventData =
  | { kind: 'log'; level: string; message: string }
  | { kind: 'event'; event: string; data: Record<string, unknown> }
  | { kind: 'progress'; category: string; current: number; total: number }
  | { kind: 'metrics'; category: string; values: MetricValues }
  | { kind: 'status'; status: RunStatus; message?: string };

export interface RunEventInput {
  runId: string;
  attempt: number;
  /** ISO time the event happened (not when it was written). */
  at: string;
  data: RunEventData;
}

export interface RunEvent extends RunEventInput {
  /** Increasing across the store; a cursor for `follow` and SSE `Last-Event-ID`. */
  id: number;
}

export interface Checkpoint {
  /** Increases with every checkpoint of the run, across attempts. */
  seq: number;
  state: unknown;
  attempt: number;
  at: string;
}

export interface RunFilter {
  pluginCode?: string;
  action?: string;
  category?: string;
  status?: RunStatus;
  limit?: number;
}

export interface RunStore {
  /** Inserts the run, or leaves an existing row with the same id as it is. */
  createRun(run: RunRecord): Promise<void>;
  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'result' | 'error'>>): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /**
   * Deletes a run that never started: its row while its status is still `pending`, with any
   * events and checkpoint under its id. Resolves true when a row was deleted; a run of any
   * other status is left as it is (false). For a start whose workflow could not be created.
   */
  deletePendingRun(id: string): Promise<boolean>;
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;
  /** Appends many events in one transaction. */
  appendEvents(events: RunEventInput[]): Promise<void>;
  /** Events of a run with id greater than `afterId`, oldest first. */
  readEvents(runId: string, afterId?: number, limit?: number): Promise<RunEvent[]>;
  /** The highest attempt any event of the run was written by (0: no events): a failed run's last attempt. */
  highestAttempt(runId: string): Promise<number>;
  /** Saves a checkpoint; an older `seq` than the stored one is ignored. Durable when it resolves. */
  saveCheckpoint(runId: string, checkpoint: Checkpoint): Promise<void>;
  latestCheckpoint(runId: string): Promise<Checkpoint | undefined>;
  close(): Promise<void>;
}

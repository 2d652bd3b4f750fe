/**
 * What the train run shape's workflow, activities and clients exchange: where a model lives,
 * what prepare returns, the checkpoint kept in the run store, the resume point of
 * `synapse run resume`, and the run's result.
 */
import type { EpochMetrics, MetricValues } from './run-state.js';

export interface TrainPrepareOutput {
  epochs: number;
  classes: string[];
  items: number;
  splits: Record<string, number>;
  fingerprint: string;
  /** Bytes downloaded now (0 when the cache was complete). */
  downloadedBytes: number;
}

/** Where an epoch's model lives: a storage id and a key. */
export interface ModelRef {
  storage: number;
  key: string;
}

/** The run's checkpoint in the run store: the last finished epoch and, mid-epoch, the partial one. */
export interface TrainCheckpointState {
  kind: 'train';
  epoch: number;
  model: ModelRef | null;
  /**
   * A mid-epoch checkpoint: the model after `step` steps, and the trainer's running sums over
   * those steps (`checkpointStep(step, totals)`), so a resumed epoch's metrics cover all its steps.
   */
  partial?: { epoch: number; step: number; model: ModelRef; totals?: EpochTotals };
}

/** Running sums of an epoch's steps (a loss sum, correct predictions, items seen): finite numbers by name. */
export type EpochTotals = Record<string, number>;

export interface RegisteredModel {
  id: number;
  name: string;
  file: ModelRef;
  metrics: Record<string, number>;
}

/** Where a resumed run starts: the last finished epoch of an earlier run and its checkpoint. */
export interface TrainResumePoint {
  runId: string;
  epoch: number;
  model: ModelRef | null;
  history: EpochMetrics[];
}

export interface TrainResult {
  model: RegisteredModel;
  epochs: number;
  metrics: MetricValues;
  resumedFrom?: { runId: string; epoch: number };
}

/**
 * What a run shape is, seen from the client (DESIGN.md section 6, "run shapes per category"):
 * which actions it runs, how their params are checked at the edge, which workflow type runs
 * them, and the optional hooks a category needs around the start. `client/run-start.ts`
 * calls the hooks and never asks which category it holds; each shape lives in its own file
 * under `client/shapes/` and is listed once in `client/run-shapes.ts`.
 *
 * This file imports types only, so that shapes and the registry import it and never each other.
 */
import type { WorkflowType } from '../contracts/run-input.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { RunRecord, RunStore } from '../platform/run-store.js';
import type { Settings } from './settings.js';

/**
 * Where a new run of a resumable shape starts: after `epoch` of the ended run `runId`. A
 * shape's own resume point adds what its workflow needs (a train run: the model and the
 * metrics of the epochs so far, contracts/train.ts TrainResumePoint).
 */
export interface ResumePoint {
  runId: string;
  /** The last finished unit of work (an epoch for train runs); 0 when none finished. */
  epoch: number;
}

/** Who starts a run, as far as checking its params cares. */
export interface StartEdge {
  /**
   * Local folders the run may read files from (upload sources), set by an edge acting for
   * someone else (the gateway: SYNAPSE_UPLOAD_ROOTS, client/input-checks.ts); absent for a
   * local caller (the CLI), who may name any folder of their own, relative to their folder.
   */
  localRoots?: readonly string[];
}

/** What `preflight` gets: the action, its checked params, and where to look things up. */
export interface PreflightContext<P> {
  action: ResolvedAction;
  params: P;
  settings: Settings;
  store: RunStore;
}

/** What `extraInput` gets; `resume` only for a shape with `resumePoint`, when resuming. */
export interface ExtraInputContext<P, R extends ResumePoint> {
  action: ResolvedAction;
  params: P;
  settings: Settings;
  resume?: R;
}

/** What `resumePoint` gets: the ended run to resume and the run store that holds its events and checkpoints. */
export interface ResumeContext {
  run: RunRecord;
  store: RunStore;
}

/**
 * One run shape. Hooks are optional: a shape without `resumePoint` does not resume (the
 * client says so, naming the shapes that do).
 */
export interface RunShape<P = unknown, R extends ResumePoint = ResumePoint> {
  /** A name for messages and docs, e.g. `export`. */
  name: string;
  /** Whether this shape runs the action. The registry asks each shape in turn; the first that matches wins. */
  matches(action: ResolvedAction): boolean;
  /** Checks the raw params once, at the edge; throws ParamsError / InvalidInputError naming every field. */
  parseParams(action: ResolvedAction, raw: unknown, edge?: StartEdge): P;
  /** The workflow type that runs it; its first argument is a RunActionInput plus `extraInput`. */
  workflow: WorkflowType;
  /**
   * Checks the params against the platform before anything starts (a taken name, an unknown
   * dataset): throws ParamsError (exit 2, HTTP 400) and nothing is created.
   */
  preflight?(ctx: PreflightContext<P>): Promise<void>;
  /** Fields the workflow input gets besides the RunActionInput (a task queue for its steps, the resume point). */
  extraInput?(ctx: ExtraInputContext<P, R>): Record<string, unknown>;
  /** Where an ended run of this shape resumes from (`synapse run resume`). */
  resumePoint?(ctx: ResumeContext): Promise<R>;
}

/**
 * Declares a shape with its own params and resume point types (checked inside the shape),
 * and hands it to the registry as a plain RunShape (hook parameters are bivariant methods).
 * Sound because the client only ever passes a shape the output of its own `parseParams` and
 * of its own `resumePoint`.
 */
export function defineRunShape<P, R extends ResumePoint = ResumePoint>(shape: RunShape<P, R>): RunShape {
  return shape;
}

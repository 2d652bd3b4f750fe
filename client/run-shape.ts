/**
 * What a run shape is, seen from the client (DESIGN.md section 6, "run shapes per category"):
 * which actions it runs, how their params are checked at the edge, which workflow type runs
 * them, and the optional hooks a category needs around the start. `client/run-start.ts`
 * calls the hooks and never asks which category it holds; each shape lives in its own file
 * under `client/shapes/` and is listed once in `client/run-shapes.ts`.
 *
 * A shape never sees the plugin's class: the action's description (engine/run-params.ts
 * ActionDescription: its shape, its params parsed by the shape's parser, its secret fields)
 * comes from a describer, which loads the class in a plugin host (the gateway) or in this
 * process (the CLI). What a shape reads of an action is ActionFacts, which both have.
 *
 * This file imports types only, so that shapes and the registry import it and never each other.
 */
import type { WorkflowType } from '../contracts/run-input.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { ShapeParser } from '../engine/run-params.js';
import type { RunRecord, RunStore } from '../platform/run-store.js';
import type { Settings } from './settings.js';

/** What the hooks read of an action: its plugin and config (an ActionDescription, or a ResolvedAction). */
export type ActionFacts = Pick<ResolvedAction, 'plugin' | 'name' | 'config' | 'method' | 'progressCategories'>;

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
  action: ActionFacts;
  params: P;
  settings: Settings;
  store: RunStore;
}

/** What `extraInput` gets; `resume` only for a shape with `resumePoint`, when resuming. */
export interface ExtraInputContext<P, R extends ResumePoint> {
  action: ActionFacts;
  params: P;
  settings: Settings;
  resume?: R;
}

/** What `resumePoint` gets: the ended run to resume and the run store that holds its events and checkpoints. */
export interface ResumeContext {
  run: RunRecord;
  store: RunStore;
  /**
   * The resume point the run was itself started from (its workflow input's `resume`), when it
   * was a resumed run: where it stands if it ended before its first checkpoint. Reads the run's
   * history from Temporal (UnavailableError when it cannot).
   */
  startedFrom(): Promise<ResumePoint | undefined>;
}

/**
 * One run shape. Hooks are optional: a shape without `resumePoint` does not resume (the
 * client says so, naming the shapes that do).
 */
export interface RunShape<P = unknown, R extends ResumePoint = ResumePoint> {
  /** A name for messages and docs, e.g. `export`. */
  name: string;
  /**
   * The parser of the actions this shape runs (engine/run-params.ts shapeParserOf picks it from
   * the class, where the class is); the describer parses the raw params with it, once, at the edge.
   */
  parser: ShapeParser;
  /**
   * Checks the parsed params against the edge (paths a local or remote caller may name);
   * throws ParamsError naming every field. Returns the params the workflow gets.
   */
  checkParams?(action: ActionFacts, params: P, edge: StartEdge): P;
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
 * Sound because the client only ever passes a shape the output of its own parser and
 * of its own `resumePoint`.
 */
export function defineRunShape<P, R extends ResumePoint = ResumePoint>(shape: RunShape<P, R>): RunShape {
  return shape;
}

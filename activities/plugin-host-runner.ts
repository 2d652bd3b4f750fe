/**
 * What a host runner is: shape-specific code that runs inside a plugin host (never in the
 * worker) and drives the plugin's class for one step: an export page's items through the
 * exporter's hooks, a trainer's epochs, a served action's requests. The worker's step sends a
 * `run` message (plugin-host-protocol.ts) naming the runner; the host looks it up in
 * plugin-host-runners.ts and calls it with the loaded action and parsed params.
 *
 * A runner reaches what only the worker may hold (storages, the database, the dataset cache)
 * through `remote(target)`: a proxy whose methods are `ctx-call` messages answered by the
 * worker object the step offered under that name (HostSink.targets). Arguments and results
 * cross the IPC channel by structured clone: plain data, Buffers, Uint8Arrays, Dates, Maps;
 * never functions or class instances (they arrive as plain objects).
 *
 * Runners are bundled into every plugin host: they import the SDK and the engine's pure code
 * only, never Temporal, the storages or the platform repositories.
 */
import type { ResolvedAction } from '../engine/plugin-loader.js';
import type { RunContext } from '../sdk/run-context.js';

/** A worker object seen from the host: each method resolves with what the worker's resolved with. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface HostRunnerCall {
  /** The action as the host loaded it: `action.cls` is the plugin's own class. */
  action: ResolvedAction;
  /** The params as the step's parser read them (what `ctx.params` is). */
  params: unknown;
  /** The step's run context: reports and checkpoints are messages to the worker. */
  ctx: RunContext;
  /** The step's arguments (structured-clone data). */
  args: unknown[];
  /** The worker object the step offered as `target`; a method it does not have rejects naming it. */
  remote<T extends object>(target: string): Remote<T>;
}

/** A runner: what it resolves with is the step's result (structured-clone data). */
export type HostRunner = (call: HostRunnerCall) => Promise<unknown>;

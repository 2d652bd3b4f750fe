/**
 * Keeping an action's secret params (sdk/secret.ts) out of what a step stores: its run events
 * (log lines, structured events, status messages), the run's error and result, and the error
 * that leaves the activity (and so Temporal's failure, the run state and the worker's log).
 * The step harness (step.ts) wraps the run store it gives the run context with `scrubbingStore`
 * and passes every error through `scrubError`. Checkpoints are not touched: a resumed attempt
 * needs them as they were (they are encrypted in Temporal by the codec all the same).
 */
import type { RunEventInput, RunStore } from '../platform/run-store.js';
import { MIN_SCRUBBED, scrubSecrets } from '../sdk/secret.js';

/** `value` with every string inside it scrubbed (plain data: objects, arrays, scalars). */
export function scrubValue<T>(value: T, secrets: readonly string[], depth = 0): T {
  if (secrets.length === 0 || depth > 64) return value;
  if (typeof value === 'string') return scrubSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrubValue(v, secrets, depth + 1)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrubSecrets(k, secrets), scrubValue(v, secrets, depth + 1)])) as T;
  }
  return value;
}

/** The store, with events, errors and results scrubbed of `secrets` on the way in. */
export function scrubbingStore(store: RunStore, secrets: readonly string[]): RunStore {
  if (secrets.length === 0) return store;
  return {
    createRun: (run) => store.createRun(run),
    updateRun: (id, patch) => store.updateRun(id, scrubValue(patch, secrets)),
    getRun: (id) => store.getRun(id),
    deletePendingRun: (id) => store.deletePendingRun(id),
    listRuns: (filter) => store.listRuns(filter),
    appendEvents: (events: RunEventInput[]) => store.appendEvents(events.map((e) => ({ ...e, data: scrubValue(e.data, secrets) }))),
    readEvents: (runId, afterId, limit) => store.readEvents(runId, afterId, limit),
    highestAttempt: (runId) => store.highestAttempt(runId),
    saveCheckpoint: (runId, checkpoint) => store.saveCheckpoint(runId, checkpoint),
    latestCheckpoint: (runId) => store.latestCheckpoint(runId),
    close: () => store.close(),
  };
}

/** The same error with its message and stack scrubbed (in place: its class and fields stay). */
export function scrubError(err: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return err;
  if (err instanceof Error) {
    err.message = scrubSecrets(err.message, secrets);
    if (err.stack) err.stack = scrubSecrets(err.stack, secrets);
    if (err.cause !== undefined) err.cause = scrubError(err.cause, secrets);
    return err;
  }
  return typeof err === 'string' ? scrubSecrets(err, secrets) : err;
}

/**
 * A step's secrets: its secret params' values and the values of the variables its plugin
 * declares in config.yaml `envs` (credentials the worker hands it: docs/secrets.md), those of
 * MIN_SCRUBBED characters or more, longest first.
 */
export function withEnvSecrets(paramSecrets: readonly string[], envs: Readonly<Record<string, string>>): string[] {
  const all = new Set([...paramSecrets, ...Object.values(envs).filter((v) => v.length >= MIN_SCRUBBED)]);
  return [...all].sort((a, b) => b.length - a.length);
}

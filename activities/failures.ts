/**
 * How errors leave an activity: our permanent ones stop retries, a bug in plugin code stops
 * them too (named with its file:line in the plugin folder), the rest back off.
 *
 * Why a plugin's TypeError is not retried: retrying runs the same code on the same input, so a
 * `Cannot read properties of undefined` fails ten times over about ten minutes before anyone
 * hears of it. What retrying can fix is the world outside (a network call, a full disk), and
 * Node reports a failed `fetch` as a TypeError too: that one carries a network cause (or says
 * `fetch failed` after crossing the plugin host's boundary) and is retried as before.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { InvalidInputError, NonRetriableError, NotFoundError, SynapseError } from '../contracts/errors.js';
import { pluginLocation } from '../engine/plugin-code-location.js';

export { pluginLocation };

/** Our own permanent errors become non-retryable failures named after their class. */
export function rethrowAsFailure(err: unknown): never {
  if (err instanceof InvalidInputError || err instanceof NotFoundError || err instanceof NonRetriableError) {
    throw ApplicationFailure.create({ type: err.constructor.name, message: err.message, nonRetryable: true });
  }
  if (err instanceof SynapseError) throw ApplicationFailure.create({ type: err.constructor.name, message: err.message });
  throw err;
}

/** Runs `fn`; our errors become failures as above, anything else (a cancellation too) goes on as it is. */
export async function asFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rethrowAsFailure(err);
  }
}

/** JavaScript's own errors for code that is wrong, not for a world that misbehaved. */
const BUG_NAMES = new Set(['TypeError', 'ReferenceError', 'SyntaxError', 'RangeError']);
/** Causes of a TypeError that are the network's doing (undici's `fetch failed`). */
const NETWORK_CODE = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/;

/**
 * A programming error (TypeError, ReferenceError, SyntaxError, RangeError) thrown while a
 * step ran plugin code becomes a NonRetriableError: `TypeError in plugin code at
 * plugin/main.ts:12:7: <message> (a bug in the plugin: not retried)`, the location being the
 * first stack frame inside `pluginDir` when there is one. A network TypeError (`fetch failed`
 * with a cause such as ECONNRESET) and anything else are returned as they are (retried).
 */
export function asPluginBug(err: unknown, pluginDir: string): unknown {
  if (!(err instanceof Error) || err instanceof SynapseError) return err;
  const name = errorName(err);
  if (!BUG_NAMES.has(name) || isNetworkError(err)) return err;
  const location = pluginLocation(err.stack, pluginDir);
  const bug = new NonRetriableError(`${name} in plugin code${location ? ` at ${location}` : ''}: ${err.message} (a bug in the plugin: not retried)`, {
    cause: err,
  });
  if (err.stack) bug.stack = `${bug.name}: ${bug.message}\n${err.stack.split('\n').slice(1).join('\n')}`;
  return bug;
}

/** The error's class name; across the plugin host's boundary it is only in the stack's first line. */
function errorName(err: Error): string {
  if (err.name !== 'Error') return err.name;
  return /^([A-Z][A-Za-z]*Error)\b/.exec(err.stack ?? '')?.[1] ?? err.name;
}

function isNetworkError(err: Error): boolean {
  if (err.message === 'fetch failed' || /^fetch failed\b/.test(err.message)) return true;
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' && NETWORK_CODE.test(cause.code);
}

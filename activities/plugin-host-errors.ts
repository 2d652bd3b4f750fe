/**
 * Errors across the plugin host boundary, both ways: `describeError` turns an error into the
 * protocol's HostError (its class name when it is one of contracts/errors.ts, its problems when
 * it lists some), `errorFromHost` turns one back into that class. The worker uses it for what
 * the host's calls throw, so the step harness (failures.ts) treats them as it would the same
 * error thrown in the worker (our permanent errors are not retried, the plugin's own errors
 * are); the host uses it for what its ctx calls (checkpoint, ctx.platform) throw in the worker.
 *
 * A refusal of Node's permission model (ERR_ACCESS_DENIED: plugin code read outside its folder,
 * wrote, started a process) says only `Access to this API has been restricted`, and retrying it
 * cannot help: describeError reports it as a NonRetriableError naming what was refused and the
 * rule (refusalMessage), so the step fails on its first attempt with a message that says why.
 */
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  NonRetriableError,
  NotFoundError,
  ParamsError,
  SynapseError,
  UnavailableError,
} from '../contracts/errors.js';
import type { HostError } from './plugin-host-protocol.js';

/** What Node's permission model refused, from an ERR_ACCESS_DENIED error. */
export interface Refusal {
  /** `FileSystemRead`, `FileSystemWrite`, `ChildProcess`, `WorkerThreads`. */
  permission: string;
  /** The path refused, when the permission is about files ('' otherwise). */
  resource: string;
  /** The ERR_ACCESS_DENIED error itself (its stack has the plugin's frames). */
  error: object;
}

/** Why each permission is refused, and what to use instead. */
const RULES: Record<string, string> = {
  FileSystemRead: 'plugin code may read only its plugin folder (and a trainer its dataset); use ctx / this.readFile / storage calls',
  FileSystemWrite: 'plugin code may not write files; write through ctx / the output the step gives / storage calls',
  ChildProcess: 'plugin code may not start processes',
  WorkerThreads: 'plugin code may not start worker threads',
};

/** The ERR_ACCESS_DENIED error in `err` or its causes (a plugin may wrap one), as a Refusal. */
export function refusalOf(err: unknown): Refusal | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, permission, resource } = e as { code?: unknown; permission?: unknown; resource?: unknown };
    if (code === 'ERR_ACCESS_DENIED') {
      return { permission: typeof permission === 'string' ? permission : 'access', resource: typeof resource === 'string' ? resource : '', error: e };
    }
  }
  return undefined;
}

/**
 * `the plugin host refused FileSystemRead of /data/synapse.db: plugin code may read only its
 * plugin folder (...)` for an error holding an ERR_ACCESS_DENIED (refusalOf), else undefined.
 * A plugin's own error wrapping one keeps its message in front (`<message>: the plugin host refused ...`).
 */
export function refusalMessage(err: unknown): string | undefined {
  const refusal = refusalOf(err);
  if (!refusal) return undefined;
  const rule =
    RULES[refusal.permission] ?? 'plugin code runs under a permission model: it may read only its plugin folder, not write, start processes or threads';
  const text = `the plugin host refused ${refusal.permission}${refusal.resource ? ` of ${refusal.resource}` : ''}: ${rule}`;
  const own = err instanceof Error && (err as { code?: unknown }).code !== 'ERR_ACCESS_DENIED' ? err.message : '';
  return own ? `${own}: ${text}` : text;
}

/** An error as the protocol carries it; a permission refusal becomes a NonRetriableError saying what was refused. */
export function describeError(err: unknown): HostError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const refused = refusalMessage(err);
  if (refused !== undefined) {
    const message = `${refused} (not retried)`;
    // The stack's frames show where in plugin code; its first line says what the message says.
    const refusedStack = (refusalOf(err)?.error as { stack?: unknown } | undefined)?.stack;
    const frames = (typeof refusedStack === 'string' ? refusedStack : (err.stack ?? '')).split('\n').filter((line) => /^\s+at /.test(line));
    return { name: 'NonRetriableError', message, stack: [`NonRetriableError: ${message}`, ...frames].join('\n').slice(0, 16_000) };
  }
  const ours = err instanceof SynapseError;
  return {
    name: ours ? err.constructor.name : 'Error',
    message: err.message,
    ...(err.stack ? { stack: err.stack.slice(0, 16_000) } : {}),
    ...(err instanceof InvalidInputError ? { subject: err.subject, problems: err.problems } : {}),
  };
}

/** A HostError as its class (a plain Error for the plugin's own); the stack is kept. */
export function errorFromHost(error: HostError): Error {
  const problems = error.problems ?? [];
  let err: Error;
  switch (error.name) {
    case 'ParamsError':
      err = new ParamsError(error.subject ?? error.message, problems);
      break;
    case 'ConfigError':
      err = new ConfigError(error.subject ?? error.message, problems);
      break;
    case 'InvalidInputError':
      err = new InvalidInputError(error.subject ?? error.message, problems);
      break;
    case 'NotFoundError':
      err = new NotFoundError(error.message);
      break;
    case 'NonRetriableError':
      err = new NonRetriableError(error.message);
      break;
    case 'UnavailableError':
      err = new UnavailableError(error.message);
      break;
    case 'ConflictError':
      err = new ConflictError(error.message);
      break;
    case 'SynapseError':
      err = new SynapseError(error.message);
      break;
    default:
      err = new Error(error.message);
  }
  if (error.stack) err.stack = error.stack;
  return err;
}

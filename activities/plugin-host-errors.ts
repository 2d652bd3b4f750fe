/**
 * Errors across the plugin host boundary, both ways: `describeError` turns an error into the
 * protocol's HostError (its class name when it is one of contracts/errors.ts, its problems when
 * it lists some), `errorFromHost` turns one back into that class. The worker uses it for what
 * the host's calls throw, so the step harness (failures.ts) treats them as it would the same
 * error thrown in the worker (our permanent errors are not retried, the plugin's own errors
 * are); the host uses it for what its ctx calls (checkpoint, ctx.platform) throw in the worker.
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

/** An error as the protocol carries it. */
export function describeError(err: unknown): HostError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
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

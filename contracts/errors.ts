/**
 * Errors people see. Each class carries the CLI exit code and HTTP status of DESIGN.md
 * section 8, so the CLI and the gateway map failures the same way without flags.
 */

/** One problem with an input: where it is (`field`, optionally `file:line:column`) and what is wrong. */
export interface Problem {
  /** Dotted key path inside the input, e.g. `actions.train.method`; empty for the whole input. */
  path: string;
  message: string;
  /** `file:line:column` when the input came from a file we can point into. */
  location?: string;
}

export function formatProblem(p: Problem): string {
  const where = [p.location, p.path].filter(Boolean).join(' ');
  return where ? `${where}: ${p.message}` : p.message;
}

/** Base of every error this project raises on purpose. Never carries a stack trace to users. */
export class SynapseError extends Error {
  /** Exit status for the `synapse` CLI. */
  readonly exitCode: number = 1;
  /** Status for the HTTP gateway. */
  readonly httpStatus: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: a config file, params, a flag. Exit 2, HTTP 400. Lists every problem. */
export class InvalidInputError extends SynapseError {
  override readonly exitCode = 2;
  override readonly httpStatus = 400;
  constructor(
    readonly subject: string,
    readonly problems: Problem[],
  ) {
    super(`${subject}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
  }
}

/** A config.yaml that does not parse or does not match the schema. */
export class ConfigError extends InvalidInputError {}

/** Action params that fail the action's schema. */
export class ParamsError extends InvalidInputError {}

/** Unknown plugin, action or run. Exit 3, HTTP 404. */
export class NotFoundError extends SynapseError {
  override readonly exitCode = 3;
  override readonly httpStatus = 404;
}

/** Temporal, the database or storage cannot be reached. Exit 4, HTTP 503. */
export class UnavailableError extends SynapseError {
  override readonly exitCode = 4;
  override readonly httpStatus = 503;
}

/** What was asked cannot be done in the state things are in (cancelling a run that has ended). Exit 5, HTTP 409. */
export class ConflictError extends SynapseError {
  override readonly exitCode = 5;
  override readonly httpStatus = 409;
}

/** A run ended in failure. Exit 1. */
export class RunFailedError extends SynapseError {
  override readonly exitCode = 1;
  override readonly httpStatus = 500;
}

/**
 * Thrown by plugin code to fail a run without retrying it (bad data, an impossible request).
 * Any other error thrown by plugin code is treated as transient and retried with backoff.
 */
export class NonRetriableError extends SynapseError {}

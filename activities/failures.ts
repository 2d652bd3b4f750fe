/** How our own errors leave an activity: permanent ones stop retries, the rest back off. */
import { ApplicationFailure } from '@temporalio/activity';
import { InvalidInputError, NonRetriableError, NotFoundError, SynapseError } from '../contracts/errors.js';

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

/** The one default retry policy for plugin steps: transient errors back off, permanent ones stop. */
import type { RetryPolicy } from '@temporalio/common';

/** Failure types that never succeed on retry (bad params, bad config, missing plugin). */
export const NON_RETRYABLE_TYPES = ['ParamsError', 'ConfigError', 'InvalidInputError', 'NotFoundError', 'NonRetriableError'];

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
};

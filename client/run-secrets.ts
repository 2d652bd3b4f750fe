/**
 * Secret params at the client's edge (sdk/secret.ts): a run whose action marks params secret
 * starts only when payloads are encrypted (a codec key is configured, client/codec.ts), and
 * its run store row keeps "[secret]" in their place. Resuming such a run takes the values back
 * from the workflow input in Temporal's history (decrypted with the codec), the only place
 * that holds them.
 */
import type { Payload } from '@temporalio/common';
import { InvalidInputError } from '../contracts/errors.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunFacts } from '../engine/run-params.js';
import { CODEC_KEY_VARIABLE } from './codec.js';
import { wrapTemporalError, type RunsParts } from './run-read.js';
import type { Settings } from './settings.js';

/**
 * The params as the run store keeps them: secret fields redacted. InvalidInputError naming
 * each secret field when no codec key is configured (they would be stored in Temporal in clear).
 */
export function storedParams(action: Pick<RunFacts, 'secretFields' | 'redactedParams'>, params: unknown, settings: Settings): unknown {
  const fields = action.secretFields;
  if (fields.length === 0) return params;
  if (!settings.codec) {
    throw new InvalidInputError(
      'cannot start a run with secret params without payload encryption',
      fields.map((f) => ({
        path: `params.${f}`,
        message: `is secret: set ${CODEC_KEY_VARIABLE} (the same key on the worker and every client; see docs/secrets.md) so that Temporal stores it encrypted`,
      })),
    );
  }
  // The described params with each secret field "[secret]" (engine/run-params.ts, where the class is).
  return action.redactedParams;
}

/**
 * The input of a run's first workflow execution, decoded with this client's data converter
 * (the codec's keys); undefined when the history has none. UnavailableError when Temporal is down.
 */
export async function startedRunInput(parts: RunsParts, runId: string): Promise<Partial<RunActionInput> | undefined> {
  let payload: Payload | null | undefined;
  try {
    const history = await parts.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: parts.temporal.options.namespace,
      execution: { workflowId: runId },
      maximumPageSize: 1,
    });
    payload = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  } catch (err) {
    throw wrapTemporalError(parts.settings, err);
  }
  if (!payload) return undefined;
  const converter = parts.temporal.options.loadedDataConverter;
  let decoded: Payload = payload;
  for (const codec of [...converter.payloadCodecs].reverse()) [decoded] = (await codec.decode([decoded])) as [Payload];
  const input: unknown = converter.payloadConverter.fromPayload(decoded);
  return input && typeof input === 'object' ? (input as Partial<RunActionInput>) : undefined;
}

/**
 * The params to resume a run with: the stored ones, with the secret fields taken from the run's
 * workflow input. InvalidInputError when that input is gone (the history passed its retention).
 */
export async function resumeParams(parts: RunsParts, runId: string, action: Pick<RunFacts, 'secretFields'>, stored: unknown): Promise<unknown> {
  if (action.secretFields.length === 0) return stored;
  const input = await startedRunInput(parts, runId);
  if (!input || input.params === undefined) {
    throw new InvalidInputError('cannot resume', [
      { path: 'run', message: `run ${runId} has secret params, kept only in its Temporal history, which no longer holds its input` },
    ]);
  }
  return input.params;
}

/**
 * Filtering a run's events by kind: `synapse run logs <id> --kind progress,metrics` and
 * `GET /v1/runs/{id}/events?kind=...` / `GET /v1/runs/{id}/logs?kind=...`. A 500-item
 * validation run writes 500 `event` rows (item_checked); a client that wants the progress
 * asks for it instead of reading them all. Unknown kinds are refused (exit 2, HTTP 400)
 * naming the allowed ones, never ignored.
 */
import { InvalidInputError } from '../contracts/errors.js';
import type { RunEventData } from '../platform/run-store.js';

/** Every kind the run store records (platform/run-store.ts RunEventData). */
export const RUN_EVENT_KINDS = ['log', 'event', 'progress', 'metrics', 'status'] as const satisfies readonly RunEventData['kind'][];
export type RunEventKind = (typeof RUN_EVENT_KINDS)[number];

/** One or more kinds, comma-separated, as a JSON Schema pattern (for /openapi.json; parseEventKinds checks). */
export const KIND_PATTERN = `^(${RUN_EVENT_KINDS.join('|')})(,(${RUN_EVENT_KINDS.join('|')}))*$`;

/**
 * Kinds from a comma-separated value (or several values, as a repeated query parameter
 * gives); undefined when none was given (no filter). `field` names the flag or parameter
 * in the InvalidInputError for an unknown or empty kind.
 */
export function parseEventKinds(value: string | readonly string[] | undefined, field = 'kind'): Set<RunEventKind> | undefined {
  if (value === undefined) return undefined;
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(',')).map((k) => k.trim());
  const unknown = parts.filter((k) => !(RUN_EVENT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0 || parts.length === 0) {
    const named = unknown.filter((k) => k !== '');
    throw new InvalidInputError('invalid event kind', [
      {
        path: field,
        message: `${named.length ? `unknown kind ${named.map((k) => JSON.stringify(k)).join(', ')}` : 'an empty kind'}; use one or more of ${RUN_EVENT_KINDS.join(', ')} (comma-separated)`,
      },
    ]);
  }
  return new Set(parts as RunEventKind[]);
}

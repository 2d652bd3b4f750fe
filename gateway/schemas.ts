/**
 * The gateway's request and response shapes, as zod schemas. Requests are validated with
 * them; /openapi.json is generated from the very same objects, so the two cannot drift.
 */
import { z } from 'zod';
import { KIND_PATTERN } from '../client/event-kinds.js';
import { RUN_ID_PATTERN } from '../client/ids.js';
import { CATEGORIES, METHODS, RUNTIMES } from '../sdk/categories.js';
import type { RunStatus } from '../contracts/run-state.js';
import { ProblemSchema } from './problem.js';

/** Every named schema of the API; /openapi.json lists them under components.schemas. */
export const apiSchemas = z.registry<{ id: string; description?: string }>();
apiSchemas.add(ProblemSchema, { id: 'Problem' });

export const RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'] as const satisfies readonly RunStatus[];
/** Statuses visibility can filter on (a run is `pending` only in the run store, before Temporal has it). */
export const LISTABLE_STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'] as const satisfies readonly RunStatus[];

/** A plugin by code or code@version; never a folder path over HTTP. */
export const PluginRef = z
  .string()
  .regex(/^[a-z0-9_-]+(@[0-9A-Za-z.+-]+)?$/, 'a plugin code such as demo-validation, or code@version')
  .describe('plugin code, or code@version');

export const RunIdParam = z.string().regex(RUN_ID_PATTERN, 'use 1-200 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const StartRunBody = z
  .strictObject({
    plugin: PluginRef,
    action: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'an action name such as validation')
      .describe('action name from the plugin config'),
    params: z.record(z.string(), z.unknown()).optional().describe("the action's params; see GET /v1/plugins/{code}"),
    runId: RunIdParam.optional().describe('run id to use; generated (<plugin>-<action>-<ulid>) when absent; never reused'),
  })
  .register(apiSchemas, { id: 'StartRunRequest' });

export const ListRunsQuery = z
  .strictObject({
    plugin: z.string().min(1).optional().describe('plugin code'),
    action: z.string().min(1).optional(),
    category: z.enum(CATEGORIES).optional(),
    status: z.enum(LISTABLE_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(50).describe('page size'),
    pageToken: z.string().min(1).max(4096).optional().describe('nextPageToken of the previous page'),
  })
  .register(apiSchemas, { id: 'ListRunsQuery' });

export const EventsQuery = z
  .strictObject({
    after: z.coerce.number().int().min(0).optional().describe('resume after this event id (like the Last-Event-ID header)'),
    kind: z
      .union([z.string().meta({ pattern: KIND_PATTERN }), z.array(z.string().meta({ pattern: KIND_PATTERN }))])
      .optional()
      .describe('only these kinds, comma-separated or repeated: log, event, progress, metrics, status (client/event-kinds.ts); unknown kinds are a 400'),
  })
  .register(apiSchemas, { id: 'EventsQuery' });

const Links = z.object({
  self: z.string(),
  events: z.string(),
  cancel: z.string(),
  ui: z.string().optional().describe('the run in the Temporal Web UI'),
});

export const StartedRunResponse = z
  .object({
    runId: z.string(),
    plugin: z.object({ code: z.string(), version: z.string() }),
    action: z.string(),
    links: Links,
  })
  .register(apiSchemas, { id: 'StartedRun' });

export const CancelResponse = z.object({ runId: z.string(), cancelRequested: z.literal(true), links: Links }).register(apiSchemas, { id: 'CancelRequested' });

export const RunSummarySchema = z
  .object({
    runId: z.string(),
    plugin: z.string(),
    version: z.string(),
    action: z.string(),
    category: z.string(),
    status: z.enum(RUN_STATUSES),
    startedAt: z.string().optional(),
    closedAt: z.string().optional(),
  })
  .register(apiSchemas, { id: 'RunSummary' });

export const RunListResponse = z
  .object({
    runs: z.array(RunSummarySchema),
    nextPageToken: z.string().optional().describe('absent on the last page'),
  })
  .register(apiSchemas, { id: 'RunList' });

const CategoryProgress = z.object({ current: z.number(), total: z.number() });
const MetricValues = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));

export const RunStateSchema = z
  .object({
    runId: z.string(),
    plugin: z.object({ code: z.string(), version: z.string() }),
    action: z.string(),
    category: z.string(),
    method: z.string(),
    status: z.enum(RUN_STATUSES),
    cancelRequested: z.boolean().optional().describe('a cancel was asked for and the run has not ended yet (its steps stop within about a second)'),
    percent: z.number().describe('weighted overall progress, 0..100'),
    progress: z.record(z.string(), CategoryProgress),
    metrics: z.record(z.string(), MetricValues),
    progressCategories: z.record(z.string(), z.object({ weight: z.number(), label: z.string().optional() })),
    step: z.string().optional(),
    attempt: z.number().int(),
    lastFailure: z.string().optional().describe('a running run whose step is being retried: why its last attempt failed'),
    trials: z
      .array(
        z.object({
          number: z.number().int(),
          runId: z.string().describe('the trial run (a child workflow): <tune run id>/trial-<n>'),
          status: z.enum(['pending', 'running', 'completed', 'pruned', 'failed', 'cancelled']),
          params: MetricValues,
          history: z.array(z.object({ epoch: z.number().int(), value: z.number() })),
          metric: z.number().nullable(),
          best: z.number().nullable(),
          epochs: z.number().int(),
          rank: z.number().int().optional().describe('1 = best'),
          error: z.string().optional(),
        }),
      )
      .optional()
      .describe('tune runs: every trial (docs/tune.md)'),
    result: z.unknown().optional(),
    error: z.string().optional(),
    startedAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
  })
  .register(apiSchemas, { id: 'RunState' });

export const RunEventSchema = z
  .object({
    id: z.number().int().describe('also the SSE id: resume with Last-Event-ID'),
    attempt: z.number().int(),
    at: z.string(),
    kind: z.enum(['log', 'event', 'progress', 'metrics', 'status']),
  })
  .catchall(z.unknown())
  .register(apiSchemas, { id: 'RunEvent', description: 'one SSE `data:` line; the rest of the fields depend on kind' });

export const PluginSummarySchema = z
  .object({
    code: z.string(),
    name: z.string(),
    version: z.string(),
    category: z.enum(CATEGORIES),
    description: z.string().optional(),
    actions: z.array(z.string()),
    source: z.enum(['folder', 'release']).describe('a plugin folder of the server, or a published release (the newest version)'),
  })
  .register(apiSchemas, { id: 'PluginSummary' });

export const PluginListResponse = z.object({ plugins: z.array(PluginSummarySchema) }).register(apiSchemas, { id: 'PluginList' });

export const PluginDetailResponse = z
  .object({
    code: z.string(),
    version: z.string(),
    name: z.string(),
    category: z.enum(CATEGORIES),
    description: z.string().optional(),
    source: z.enum(['folder', 'release']),
    environment: z.record(z.string(), z.unknown()).describe('runtime, packageManager, dataType, tasks'),
    releases: z.array(z.object({ version: z.string(), checksum: z.string(), createdAt: z.string() })).describe('published releases, newest first'),
    config: z.record(z.string(), z.unknown()).describe('the plugin config.yaml, parsed'),
    actions: z.record(
      z.string(),
      z.object({
        method: z.enum(METHODS),
        description: z.string().optional(),
        runtime: z.enum(RUNTIMES).optional(),
        heartbeatTimeout: z.number().optional().describe('seconds, when config.yaml sets it'),
        paramsSchema: z.record(z.string(), z.unknown()).describe("JSON Schema of the action's params"),
        progressCategories: z.record(z.string(), z.object({ weight: z.number(), label: z.string().optional() })),
        error: z.string().optional().describe('why the action cannot be loaded, if it cannot'),
      }),
    ),
  })
  .register(apiSchemas, { id: 'PluginDetail' });

export const HealthResponse = z.object({ status: z.literal('ok'), checks: z.record(z.string(), z.string()).optional() }).register(apiSchemas, { id: 'Health' });

/** One payload of the Temporal codec-server protocol (gateway/routes/codec.ts). */
const Base64 = z
  .string()
  .max(8 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (standard alphabet)');

const CodecPayloadSchema = z.strictObject({
  metadata: z.record(z.string().max(256), Base64).optional().describe('each value base64'),
  data: Base64.optional(),
});

export const CodecBody = z
  .strictObject({ payloads: z.array(CodecPayloadSchema).max(10_000) })
  .register(apiSchemas, { id: 'CodecPayloads', description: 'Temporal codec-server payloads: metadata values and data in base64' });

export type CodecPayload = z.output<typeof CodecPayloadSchema>;

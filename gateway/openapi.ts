/**
 * /openapi.json: OpenAPI 3.1, generated from the zod schemas the routes validate with
 * (gateway/schemas.ts), so the document and the behaviour cannot disagree.
 */
import { z } from 'zod';
import { resourcePaths } from './openapi-resources.js';
import { apiSchemas, EventsQuery, ListRunsQuery } from './schemas.js';
import { finalizePaths } from './openapi-params.js';

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string, description: string): Json => ({ description, content: { 'application/json': { schema: ref(id) } } });
const anyJson = (description: string): Json => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });

const AUTH_ERRORS = {
  '401': problem('missing, malformed, unknown or revoked token'),
  '403': problem('the token lacks the scope this route needs'),
  '429': problem('rate limited'),
  '503': problem('Temporal or the database unreachable'),
};

/** Query parameters from a strict object schema, one per field. */
function queryParameters(schema: z.ZodObject): Json[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const s = z.toJSONSchema(field as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Json;
    delete s.$schema;
    const description = s.description;
    delete s.description;
    return { name, in: 'query', required: false, schema: s, ...(description ? { description } : {}) };
  });
}

const idParam = (what: string): Json => ({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: what });

export function openApiDocument(options: { version?: string; serverUrl?: string } = {}): Json {
  const generated = z.toJSONSchema(apiSchemas, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any' }) as { schemas: Record<string, Json> };
  const schemas: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _drop, $id: _id, ...rest } = schema;
    schemas[id] = rest;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Synapse gateway',
      version: options.version ?? '1',
      description:
        'Start, list, follow and cancel plugin runs (durable Temporal workflows). Every /v1 route needs `Authorization: Bearer <token>` (`synapse token create`). Errors are application/problem+json.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearerAuth: [] }],
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'syn_<id>_<secret>, from `synapse token create`' } },
    },
    paths: finalizePaths({
      '/v1/runs': {
        post: {
          operationId: 'startRun',
          summary: 'Start a run of a plugin action (scope runs:write)',
          requestBody: { required: true, content: { 'application/json': { schema: ref('StartRunRequest') } } },
          responses: {
            '202': json('StartedRun', 'started; follow links.events'),
            '400': problem('invalid body or params: every problem with its field path'),
            '404': problem('unknown plugin or action'),
            '413': problem('body over the size limit'),
            '415': problem('not application/json'),
            ...AUTH_ERRORS,
          },
        },
        get: {
          operationId: 'listRuns',
          summary: 'List runs from Temporal visibility, newest first (scope runs:read)',
          parameters: queryParameters(ListRunsQuery),
          responses: { '200': json('RunList', 'one page of runs'), '400': problem('invalid query'), ...AUTH_ERRORS },
        },
      },
      '/v1/runs/{id}': {
        get: {
          operationId: 'getRun',
          summary: "A run's state: status, progress per category, metrics, result or error (scope runs:read)",
          parameters: [idParam('run id')],
          responses: { '200': json('RunState', 'the run'), '404': problem('unknown run'), ...AUTH_ERRORS },
        },
      },
      '/v1/runs/{id}/events': {
        get: {
          operationId: 'runEvents',
          summary: "A run's events as server-sent events, until it ends (scope runs:read)",
          description:
            'Each message: `id:` the event id, `event:` its kind (log, event, progress, metrics, status), `data:` a RunEvent. Then `event: end` with the final RunState. Resume with the `Last-Event-ID` header or `?after=`.',
          parameters: [
            idParam('run id'),
            ...queryParameters(EventsQuery),
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'resume after this event id' },
          ],
          responses: {
            '200': {
              description: 'the event stream: each `data:` line a RunEvent (components.schemas.RunEvent), then `event: end` with the RunState',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            '404': problem('unknown run'),
            ...AUTH_ERRORS,
          },
        },
      },
      '/v1/runs/{id}/cancel': {
        post: {
          operationId: 'cancelRun',
          summary: 'Request cancellation; the action sees it through ctx.signal (scope runs:write)',
          parameters: [idParam('run id')],
          responses: {
            '202': json('CancelRequested', 'cancellation requested'),
            '404': problem('unknown run'),
            '409': problem('the run has already ended'),
            ...AUTH_ERRORS,
          },
        },
      },
      '/v1/plugins': {
        get: {
          operationId: 'listPlugins',
          summary: 'Plugins this gateway can run (scope runs:read)',
          responses: { '200': json('PluginList', 'plugins'), ...AUTH_ERRORS },
        },
      },
      '/v1/plugins/{code}': {
        get: {
          operationId: 'getPlugin',
          summary: "A plugin's config and each action's params as JSON Schema (scope runs:read)",
          parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' }, description: 'plugin code or code@version' }],
          responses: { '200': json('PluginDetail', 'the plugin'), '404': problem('unknown plugin'), ...AUTH_ERRORS },
        },
      },
      // Deployments (docs/serving.md); bodies are each deployment action's own schemas.
      '/v1/deployments': {
        get: {
          operationId: 'listDeployments',
          summary: 'Running deployments; ?all=true for ended ones too (scope runs:read)',
          responses: { '200': anyJson('deployments'), ...AUTH_ERRORS },
        },
      },
      '/v1/deployments/{id}': {
        get: {
          operationId: 'getDeployment',
          summary: 'Status, desired and ready replicas, each replica (scope runs:read)',
          parameters: [idParam('deployment (run) id')],
          responses: { '200': anyJson('the deployment'), '404': problem('unknown deployment'), ...AUTH_ERRORS },
        },
        delete: {
          operationId: 'undeploy',
          summary: 'Undeploy: cancel the run, answer once every replica drained (scope runs:write)',
          parameters: [idParam('deployment (run) id')],
          responses: { '200': anyJson('the ended deployment'), '404': problem('unknown deployment'), '409': problem('already ended'), ...AUTH_ERRORS },
        },
      },
      '/v1/deployments/{id}/scale': {
        post: {
          operationId: 'scaleDeployment',
          summary: 'Set the replica count, 1..64 (scope runs:write)',
          parameters: [idParam('deployment (run) id')],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { replicas: { type: 'integer', minimum: 1, maximum: 64 } },
                  required: ['replicas'],
                  additionalProperties: false,
                },
              },
            },
          },
          responses: {
            '200': anyJson('the deployment after scaling'),
            '400': problem('replicas out of range, or the deployment ended'),
            '404': problem('unknown deployment'),
            ...AUTH_ERRORS,
          },
        },
      },
      '/v1/deployments/{id}/predict': {
        post: {
          operationId: 'predict',
          summary: "One prediction by a ready replica; the body is the action's input (scope runs:read)",
          parameters: [idParam('deployment (run) id')],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: {
            '200': anyJson("the action's output; X-Synapse-Replica names the replica"),
            '400': problem('the body fails the input schema; `errors` names each field'),
            '404': problem('unknown or ended deployment'),
            '413': problem('body too large'),
            '504': problem('the replica did not answer in time'),
            ...AUTH_ERRORS,
            '503': problem('no replica ready (Retry-After), or Temporal or the database unreachable'),
          },
        },
      },
      // Platform resources, run logs and artifacts, resume, GET / (gateway/openapi-resources.ts).
      ...resourcePaths(),
      // The Temporal Web UI's codec server (gateway/routes/codec.ts).
      '/codec/decode': codecOperation('decode'),
      '/codec/encode': codecOperation('encode'),
      '/healthz': { get: { operationId: 'health', summary: 'The process answers', security: [], responses: { '200': json('Health', 'alive') } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Temporal, database and storage reachable',
          security: [],
          responses: { '200': json('Health', 'ready'), '503': problem('not ready; `checks` says what is wrong') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          security: [],
          responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
    }),
  };
}

/** One of the codec-server operations (POST, payloads in and out). */
function codecOperation(direction: 'encode' | 'decode'): Json {
  return {
    post: {
      operationId: `codec_${direction}`,
      summary: `${direction === 'decode' ? 'Decrypt' : 'Encrypt'} Temporal payloads for the Web UI (the codec-server protocol; scope codec)`,
      description:
        'Bearer token or the `synapse_token` cookie; CORS for the Temporal UI origin (SYNAPSE_CODEC_CORS_ORIGINS). Point the UI at `<gateway>/codec` (README, "Secrets").',
      parameters: [
        {
          name: 'X-Namespace',
          in: 'header',
          required: false,
          schema: { type: 'string' },
          description: 'sent by the Web UI; every namespace uses the same keys',
        },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('CodecPayloads') } } },
      responses: {
        '200': json('CodecPayloads', 'the payloads, encoded or decoded, in the same order'),
        '400': problem('invalid body, or a payload under a key this gateway does not have'),
        '413': problem('body over the size limit (8 MB)'),
        '415': problem('not application/json'),
        '501': problem('no codec key configured on this gateway'),
        ...AUTH_ERRORS,
      },
    },
  };
}

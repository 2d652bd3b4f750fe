/**
 * The /openapi.json paths of the platform resource routes (gateway/routes/resources.ts,
 * storages.ts, publish.ts) and of what a run leaves behind (gateway/routes/run-files.ts), and `GET /`. Kept beside
 * gateway/openapi.ts, which spreads them into its `paths`; the schemas come from
 * gateway/resource-schemas.ts, registered in the same registry, so `components.schemas`
 * lists them too.
 */
import { z } from 'zod';
import { RUN_ID_PATTERN } from '../client/ids.js';
// Importing the schemas registers them (and the request bodies below) in the API's registry.
import { LogsQuery, ModelsQuery, PublishQuery, ReleasesQuery, StorageFilesQuery, VersionsQuery } from './resource-schemas.js';

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const listOf = (key: string, id: string, description: string): Json =>
  json({ type: 'object', properties: { [key]: { type: 'array', items: ref(id) } }, required: [key] }, description);
const file = (description: string): Json => ({ description, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } });

const AUTH_ERRORS = {
  '401': problem('missing, malformed, unknown or revoked token'),
  '403': problem('the token lacks the scope this route needs'),
  '429': problem('rate limited'),
  '503': problem('Temporal or the database unreachable'),
};

function inline(schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

function query(schema: z.ZodObject): Json[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const s = inline(field as z.ZodType);
    const description = s.description;
    delete s.description;
    return { name, in: 'query', required: false, schema: s, ...(description ? { description } : {}) };
  });
}

/** Path parameters with the pattern the route checks (a value outside it is the documented 400). */
const PATTERNS = {
  id: RUN_ID_PATTERN.source,
  ref: '^[\\w.@+-]{1,200}$',
  versionId: '^\\d{1,15}$',
  code: '^[\\w.@+-]{1,200}$',
  version: '^[\\w.@+-]{1,200}$',
  name: '^.{1,1000}$',
};
const pathParam = (name: keyof typeof PATTERNS, description: string, param: string = name): Json => ({
  name: param,
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: PATTERNS[name] },
  description,
});
const BAD_PATH = problem('a path parameter outside its pattern, or an invalid query');
const body = (id: string): Json => ({ required: true, content: { 'application/json': { schema: ref(id) } } });

/** Every operation that takes parameters or a body documents its 400 (the routes check them all). */
function with400(paths: Record<string, Record<string, Json>>): Record<string, Json> {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      const responses = op.responses as Json;
      if ((Array.isArray(op.parameters) || op.requestBody) && !('400' in responses)) responses['400'] = BAD_PATH;
    }
  }
  return paths;
}

export function resourcePaths(): Record<string, Json> {
  return with400({
    '/': {
      get: {
        operationId: 'root',
        summary: 'Where the API docs are (/docs, /openapi.json); browsers are redirected to /docs',
        security: [],
        responses: { '200': json({ type: 'object' }, 'links to the docs and the API'), '302': { description: 'to /docs (Accept: text/html)' } },
      },
    },
    '/v1/collections': {
      get: {
        operationId: 'listCollections',
        summary: 'Data collections with file specifications and unit counts (scope runs:read)',
        responses: { '200': listOf('collections', 'DataCollection', 'collections'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'createCollection',
        summary: 'Create a data collection with its file specifications; the same again changes nothing (scope runs:write)',
        requestBody: body('CreateCollectionRequest'),
        responses: {
          '201': json(ref('DataCollection'), 'created'),
          '200': json(ref('DataCollection'), 'it existed with the same specifications'),
          '400': problem('invalid body: `errors` names each field'),
          '409': problem('a collection of that name exists with other specifications'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/collections/{ref}': {
      get: {
        operationId: 'getCollection',
        summary: 'One data collection (scope runs:read)',
        parameters: [pathParam('ref', 'id or name')],
        responses: { '200': json(ref('DataCollection'), 'the collection'), '404': problem('unknown collection'), ...AUTH_ERRORS },
      },
    },
    '/v1/projects': {
      get: {
        operationId: 'listProjects',
        summary: 'Projects with their collection and tasks per status (scope runs:read)',
        responses: { '200': listOf('projects', 'Project', 'projects'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'createProject',
        summary: 'Create a project of a data collection; the same again changes nothing (scope runs:write)',
        requestBody: body('CreateProjectRequest'),
        responses: {
          '201': json(ref('Project'), 'created'),
          '200': json(ref('Project'), 'it existed with the same settings'),
          '400': problem('invalid body: `errors` names each field'),
          '409': problem('a project of that name exists with another collection or configuration'),
          '404': problem('unknown collection'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/projects/{ref}': {
      get: {
        operationId: 'getProject',
        summary: 'One project (scope runs:read)',
        parameters: [pathParam('ref', 'id or name')],
        responses: { '200': json(ref('Project'), 'the project'), '404': problem('unknown project'), ...AUTH_ERRORS },
      },
    },
    '/v1/storages': {
      get: {
        operationId: 'listStorages',
        summary: 'Storages: where files live; their options without secrets or server paths (scope runs:read)',
        responses: { '200': listOf('storages', 'Storage', 'storages'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'addStorage',
        summary:
          'Add a storage: a local folder of the data dir, or an S3 bucket with its keys (kept in a secrets file, never shown again); the same again changes nothing (scope storages:write)',
        requestBody: body('AddStorageRequest'),
        responses: {
          '201': json(ref('Storage'), 'added'),
          '200': json(ref('Storage'), 'it existed with the same options and keys'),
          '400': problem('invalid body: `errors` names each field'),
          '409': problem('a storage of that name exists with other options or keys'),
          '413': problem('body over the size limit'),
          '415': problem('not application/json'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/storages/{ref}': {
      get: {
        operationId: 'getStorage',
        summary: 'One storage (scope runs:read)',
        parameters: [pathParam('ref', 'id or name')],
        responses: { '200': json(ref('Storage'), 'the storage'), '404': problem('unknown storage'), ...AUTH_ERRORS },
      },
    },
    '/v1/storages/{ref}/files': {
      get: {
        operationId: 'listStorageFiles',
        summary: "A storage's files in key order, a page at a time (`synapse storage ls`) (scope runs:read)",
        parameters: [pathParam('ref', 'id or name'), ...query(StorageFilesQuery)],
        responses: {
          '200': json(ref('StorageFileList'), 'one page; nextPageToken when there is more'),
          '400': problem('an unsafe prefix, or a page token of another listing'),
          '404': problem('unknown storage, or its bucket does not exist'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/ground-truth-datasets': {
      get: {
        operationId: 'listGroundTruthDatasets',
        summary: 'Ground-truth datasets with their project and versions (scope runs:read)',
        responses: { '200': listOf('datasets', 'GroundTruthDataset', 'datasets'), ...AUTH_ERRORS },
      },
    },
    '/v1/ground-truth-datasets/{ref}': {
      get: {
        operationId: 'getGroundTruthDataset',
        summary: 'One ground-truth dataset; links.versions lists its versions with their data unit counts (scope runs:read)',
        parameters: [pathParam('ref', 'id or name')],
        responses: { '200': json(ref('GroundTruthDataset'), 'the dataset'), '404': problem('unknown dataset'), ...AUTH_ERRORS },
      },
    },
    '/v1/ground-truth-versions': {
      get: {
        operationId: 'listGroundTruthVersions',
        summary: 'Ground-truth versions with their dataset and unit counts (scope runs:read)',
        parameters: query(VersionsQuery),
        responses: { '200': listOf('versions', 'GroundTruthVersion', 'versions'), '404': problem('unknown dataset'), ...AUTH_ERRORS },
      },
    },
    '/v1/ground-truth-versions/{id}': {
      get: {
        operationId: 'getGroundTruthVersion',
        summary: 'One ground-truth version (scope runs:read)',
        parameters: [pathParam('versionId', 'version id', 'id')],
        responses: { '200': json(ref('GroundTruthVersion'), 'the version'), '400': problem('not an id'), '404': problem('unknown version'), ...AUTH_ERRORS },
      },
    },
    '/v1/models': {
      get: {
        operationId: 'listModels',
        summary: 'Models train runs registered (scope runs:read)',
        parameters: query(ModelsQuery),
        responses: { '200': listOf('models', 'Model', 'models'), ...AUTH_ERRORS },
      },
    },
    '/v1/models/{ref}': {
      get: {
        operationId: 'getModel',
        summary: 'One model (scope runs:read)',
        parameters: [pathParam('ref', 'id, or name (the newest model of that name)')],
        responses: { '200': json(ref('Model'), 'the model'), '404': problem('unknown model'), ...AUTH_ERRORS },
      },
    },
    '/v1/models/{ref}/file': {
      get: {
        operationId: 'downloadModel',
        summary: "The model's file (scope runs:read)",
        parameters: [pathParam('ref', 'id or name')],
        responses: { '200': file('the bytes; Content-Disposition names the file'), '404': problem('unknown model, or it has no file'), ...AUTH_ERRORS },
      },
    },
    '/v1/releases': {
      get: {
        operationId: 'listReleases',
        summary: 'Published plugin releases, newest version of each plugin first (scope runs:read)',
        parameters: query(ReleasesQuery),
        responses: { '200': listOf('releases', 'PluginRelease', 'releases'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'publishRelease',
        summary:
          'Publish a plugin folder sent as a .tar.gz, as `synapse plugin publish` does: every entry checked first, then the plugin (its actions loaded in plugin hosts, never in the gateway), then stored and recorded (scope plugins:publish)',
        parameters: query(PublishQuery),
        requestBody: {
          required: true,
          content: Object.fromEntries(
            ['application/gzip', 'application/x-gzip', 'application/octet-stream'].map((t) => [t, { schema: { type: 'string', format: 'binary' } }]),
          ),
        },
        responses: {
          '201': json(ref('PublishResult'), 'published'),
          '200': json(ref('PublishResult'), 'this exact release existed (status unchanged, or restored when its archive was missing)'),
          '400': problem('a hostile or malformed archive (`errors` names the entry), no config.yaml, or a plugin that does not check'),
          '404': problem('unknown storage'),
          '409': problem('the version is published with other files: releases are immutable, bump the version'),
          '413': problem("the archive is over the gateway's limit (64 MiB by default)"),
          '415': problem('not application/gzip'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/releases/{code}/{version}': {
      get: {
        operationId: 'getRelease',
        summary: 'One release; version `newest` for the highest published (scope runs:read)',
        parameters: [pathParam('code', 'plugin code'), pathParam('version', 'a version, or newest')],
        responses: { '200': json(ref('PluginRelease'), 'the release'), '404': problem('unknown release'), ...AUTH_ERRORS },
      },
    },
    '/v1/runs/{id}/logs': {
      get: {
        operationId: 'runLogs',
        summary: "A run's log as text lines (as `synapse run logs`), or JSON; `kind` picks the event kinds (default log) (scope runs:read)",
        parameters: [pathParam('id', 'run id'), ...query(LogsQuery)],
        responses: {
          '200': {
            description: 'the events; X-Next-After is the last event id read',
            content: { 'text/plain': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } },
          },
          '400': problem('invalid query: an unknown kind names the allowed ones'),
          '404': problem('unknown run'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/v1/runs/{id}/artifacts': {
      get: {
        operationId: 'runArtifacts',
        summary: "The files a run produced: a train run's model file, an export's files (scope runs:read)",
        parameters: [pathParam('id', 'run id')],
        responses: { '200': listOf('artifacts', 'RunArtifact', 'the artifacts, each with its download href'), '404': problem('unknown run'), ...AUTH_ERRORS },
      },
    },
    '/v1/runs/{id}/artifacts/{name}': {
      get: {
        operationId: 'downloadArtifact',
        summary: "One artifact's bytes; the name may hold `/` (scope runs:read)",
        parameters: [pathParam('id', 'run id'), pathParam('name', 'artifact name, as listed')],
        responses: { '200': file('the bytes'), '404': problem('unknown run or artifact (the detail lists the run has)'), ...AUTH_ERRORS },
      },
    },
    '/v1/runs/{id}/resume': {
      post: {
        operationId: 'resumeRun',
        summary: "A new run from an ended train or tune run's last checkpoint (scope runs:write)",
        parameters: [pathParam('id', 'the ended run')],
        requestBody: { required: false, content: { 'application/json': { schema: ref('ResumeRunRequest') } } },
        responses: {
          '202': json({ type: 'object' }, 'started: runId, resumedFrom, links'),
          '400': problem('invalid body, or the run cannot resume (it says what resumes)'),
          '404': problem('unknown run'),
          '409': problem('the run is still going'),
          ...AUTH_ERRORS,
        },
      },
    },
  });
}

/**
 * Request and response shapes of the platform resource routes (gateway/routes/resources.ts,
 * gateway/routes/run-files.ts), registered in the same registry as gateway/schemas.ts so
 * /openapi.json lists them from the very objects that validate the requests.
 */
import { z } from 'zod';
import { ANNOTATION_TYPES, AttributeDefSchema, DATA_TYPES } from '../sdk/annotations.js';
import { KIND_PATTERN, RUN_EVENT_KINDS } from '../client/event-kinds.js';
import { NAME } from '../platform/repositories/storages.js';
import { apiSchemas, RunIdParam } from './schemas.js';

/** A platform name (platform/repositories/storages.ts NAME), its refinement spelled out for /openapi.json. */
const Name = NAME.meta({ pattern: '^(?![0-9]+$)[a-z0-9][a-z0-9_.-]{0,99}$', description: '1-100 lowercase letters, digits, ".", "_" or "-", not all digits' });

/** An id (digits) or a name, in a path. */
export const RefParam = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w.@+-]+$/, 'an id or a name (letters, digits, ".", "_", "-", "@", "+")');

export const IdParam = z.string().regex(/^\d{1,15}$/, 'an id (a whole number)');

export const CreateCollectionBody = z
  .strictObject({
    name: Name,
    description: z.string().max(10_000).optional(),
    files: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9_]{1,64}$/, 'use 1-64 lowercase letters, digits or "_"'),
          required: z.boolean().optional().describe('default true'),
          extensions: z
            .array(z.string().regex(/^\.?[A-Za-z0-9]{1,16}$/, 'an extension such as ".png"'))
            .optional()
            .describe('such as ".png"; empty or absent allows any'),
        }),
      )
      .min(1)
      .meta({ uniqueItems: true, description: 'the file specifications: which files each data unit carries (names are unique)' }),
  })
  .register(apiSchemas, { id: 'CreateCollectionRequest' });

/**
 * A project's configuration as /openapi.json shows it: ProjectConfigurationSchema's fields,
 * with what its refinements check spelled out as a pattern (class names without control
 * characters, lone surrogates, U+FFFE/U+FFFF, or white space at either end). The repository
 * checks the real schema (and unique class names) when the project is created.
 */
const ClassName = z
  .string()
  .min(1)
  .max(200)
  // The excluded characters stand in the pattern as themselves (JSON escapes them), which every regex dialect reads alike;
  // lone surrogates (refused too) cannot stand in a pattern that Rust or Python validators compile.
  .meta({ pattern: '^(?![\\s\uFEFF])(?!.*[\\s\uFEFF]$)[^\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]+$' });
const ProjectConfiguration = z.strictObject({
  data_type: z.enum(DATA_TYPES),
  classes: z
    .array(z.strictObject({ name: ClassName, type: z.enum(ANNOTATION_TYPES), attributes: z.array(AttributeDefSchema).optional() }))
    .meta({ uniqueItems: true, description: 'each class once: names are unique' }),
});

export const CreateProjectBody = z
  .strictObject({
    name: Name,
    collection: z.union([z.number().int().positive(), z.string().min(1)]).describe('data collection id or name'),
    configuration: ProjectConfiguration,
  })
  .register(apiSchemas, { id: 'CreateProjectRequest' });

export const ModelsQuery = z.strictObject({ plugin: z.string().min(1).optional().describe('only models of this plugin code') });
export const VersionsQuery = z.strictObject({ dataset: z.string().min(1).optional().describe('only versions of this ground-truth dataset (id or name)') });
export const ReleasesQuery = z.strictObject({ code: z.string().min(1).optional().describe('only releases of this plugin code') });

// The pattern documents what parseEventKinds accepts; it gives the 400 that names the unknown kind.
const Kinds = z.string().meta({ pattern: KIND_PATTERN });
export const KindQuery = z
  .union([Kinds, z.array(Kinds)])
  .optional()
  .describe(`only these kinds, comma-separated or repeated: ${RUN_EVENT_KINDS.join(', ')}; an unknown kind is a 400 naming the allowed ones`);

export const LogsQuery = z
  .strictObject({
    kind: KindQuery,
    after: z.coerce.number().int().min(0).optional().describe('only events after this event id'),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000).describe('at most this many events'),
    format: z.enum(['text', 'json']).default('text').describe('text: one line per event (as `synapse run logs`); json: {events, nextAfter}'),
  })
  .register(apiSchemas, { id: 'LogsQuery' });

const FileSpec = z.object({ name: z.string(), required: z.boolean(), extensions: z.array(z.string()) });

export const CollectionSchema = z
  .object({ id: z.number().int(), name: z.string(), description: z.string(), files: z.array(FileSpec), dataUnits: z.number().int(), createdAt: z.string() })
  .register(apiSchemas, { id: 'DataCollection' });

export const ProjectSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    collectionId: z.number().int(),
    collection: z.object({ id: z.number().int(), name: z.string() }),
    configuration: z.record(z.string(), z.unknown()).describe('data_type and classes'),
    tasks: z.record(z.string(), z.number().int()).describe('tasks per status'),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'Project' });

export const GroundTruthVersionSchema = z
  .object({
    id: z.number().int().describe('what exports and trainers name as ground_truth_dataset_version'),
    datasetId: z.number().int(),
    name: z.string(),
    dataset: z.object({ id: z.number().int(), name: z.string(), projectId: z.number().int().nullable() }),
    dataUnits: z.number().int(),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'GroundTruthVersion' });

export const ModelSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    plugin: z.object({ code: z.string(), version: z.string() }),
    file: z.object({ storage: z.number().int(), key: z.string() }).nullable(),
    configuration: z.record(z.string(), z.unknown()),
    metrics: z.record(z.string(), z.number()),
    runId: z.string().nullable(),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'Model' });

export const ReleaseSchema = z
  .object({
    id: z.number().int(),
    code: z.string(),
    version: z.string(),
    checksum: z.string().describe('sha256 of the archive'),
    config: z.record(z.string(), z.unknown()).describe("the release's config.yaml, parsed"),
    archive: z.object({ storage: z.number().int(), key: z.string() }).nullable(),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'PluginRelease' });

export const ArtifactSchema = z
  .object({
    name: z.string().describe('download it at /v1/runs/{id}/artifacts/{name}'),
    kind: z.enum(['model', 'export']),
    size: z.number().int().describe('bytes'),
    modelId: z.number().int().optional(),
  })
  .register(apiSchemas, { id: 'RunArtifact' });

export const ResumeRunBody = z
  .strictObject({
    runId: RunIdParam.optional().describe('id of the new run; generated when absent'),
    heartbeatTimeoutSeconds: z.number().positive().max(86_400).optional().describe('seconds without a heartbeat before a step is retried'),
  })
  .register(apiSchemas, { id: 'ResumeRunRequest' });

// ----- storages (gateway/routes/storages.ts) ------------------------------------------------

/**
 * A storage added over HTTP. A local one lives in `storage/<name>` of the data dir (no `root`:
 * a caller could otherwise point it at the server's own files); an S3 one takes its keys in
 * `credentials`, which the gateway keeps in a secrets file of the data dir (`secrets/`, mode
 * 0600) that the record names, as `synapse storage add` does with `{"source": "file"}`, and
 * never shows again. Where a server reads keys from (its environment, its files) is the CLI's
 * to set, not a caller's.
 */
/**
 * The rules of storage/safe-key.ts for a list prefix that a pattern can state: no control
 * characters or backslashes, not absolute, no drive letter, no "." / ".." or empty segments
 * (a trailing "/" is fine). Its byte limits (1024 a key, 255 a segment) it cannot: a longer
 * prefix is accepted and matches nothing, since no key can be that long. The control
 * characters stand in the pattern as themselves (JSON escapes them), as in ClassName.
 */
export const SAFE_PREFIX_PATTERN = '^(?![A-Za-z]:)(?!/)(?:(?!\\.\\.?(?:/|$))[^/\\\\\u0000-\u001F\u007F]+(?:/|$))*$';
const SafePrefix = z
  .string()
  .regex(new RegExp(SAFE_PREFIX_PATTERN), 'a safe key prefix: no "..", "." or empty segments, no leading "/", backslash or control character');

const S3Bucket = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lowercase letters, digits, "." or "-"')
  .describe('the bucket');
export const AddStorageBody = z
  .strictObject({
    name: Name,
    config: z.discriminatedUnion('provider', [
      z.strictObject({ provider: z.literal('local') }).describe('a folder of the data dir: storage/<name>'),
      z.strictObject({
        provider: z.literal('s3'),
        bucket: S3Bucket,
        endpoint: z
          .url({ protocol: /^https?$/ })
          .max(2000)
          .optional()
          .describe('an S3-compatible server, e.g. http://127.0.0.1:7070; AWS when absent'),
        region: z
          .string()
          .regex(/^[a-z0-9-]{1,40}$/, 'a region such as us-east-1')
          .optional()
          .describe('default us-east-1'),
        forcePathStyle: z.boolean().optional().describe('default true'),
        prefix: SafePrefix.min(1).max(512).optional().describe('a key prefix inside the bucket'),
        createBucket: z.boolean().optional().describe('create the bucket on first use (default false)'),
      }),
    ]),
    credentials: z
      .strictObject({
        accessKeyId: z.string().min(1).max(256),
        secretAccessKey: z.string().min(1).max(512).meta({ writeOnly: true }),
        sessionToken: z.string().min(1).max(4096).optional().meta({ writeOnly: true }),
      })
      .optional()
      .describe('s3 only, and required there: kept in a secrets file, never shown again'),
  })
  .register(apiSchemas, { id: 'AddStorageRequest' });

export const StorageSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    provider: z.enum(['local', 's3']),
    config: z
      .object({
        provider: z.enum(['local', 's3']),
        root: z.string().optional().describe('local: the folder, relative to the data dir (absent when it is a server path)'),
        bucket: z.string().optional(),
        endpoint: z.string().optional(),
        region: z.string().optional(),
        forcePathStyle: z.boolean().optional(),
        prefix: z.string().optional(),
        createBucket: z.boolean().optional(),
        credentials: z
          .object({ source: z.enum(['env', 'file']), accessKeyIdEnv: z.string().optional(), secretAccessKeyEnv: z.string().optional() })
          .optional()
          .describe('where the keys come from: the variables named, or a secrets file (never its path, never a key)'),
      })
      .describe("the storage's options, without secrets or server paths"),
    createdAt: z.string(),
    links: z.object({ self: z.string(), files: z.string() }),
  })
  .register(apiSchemas, { id: 'Storage' });

export const StorageFilesQuery = z.strictObject({
  prefix: SafePrefix.max(2048).optional().describe('only keys starting with this (a safe key prefix: no "..", "." or empty segments, no leading "/")'),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('at most this many files per page'),
  pageToken: z.string().max(2000).optional().describe('the nextPageToken of the previous page (with the same prefix)'),
});

export const StorageFileListSchema = z
  .object({
    files: z.array(z.object({ key: z.string(), size: z.number().int().describe('bytes'), lastModified: z.string().optional(), etag: z.string().optional() })),
    nextPageToken: z.string().optional().describe('absent on the last page'),
  })
  .register(apiSchemas, { id: 'StorageFileList' });

// ----- ground-truth datasets --------------------------------------------------------------

export const GroundTruthDatasetSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string(),
    projectId: z.number().int().nullable(),
    project: z.object({ id: z.number().int(), name: z.string() }).nullable(),
    versions: z.array(z.object({ id: z.number().int(), name: z.string(), createdAt: z.string() })).describe('oldest first'),
    createdAt: z.string(),
    links: z.object({ self: z.string(), versions: z.string().describe('GET it for the versions with their data unit counts') }),
  })
  .register(apiSchemas, { id: 'GroundTruthDataset' });

// ----- publishing (gateway/routes/publish.ts) -------------------------------------------------

export const PublishQuery = z.strictObject({
  storage: RefParam.optional().describe('storage id or name for the archive (default: the default local storage)'),
});

export const PublishResultSchema = z
  .object({
    status: z.enum(['published', 'unchanged', 'restored']).describe('unchanged: this exact release existed; restored: it existed and its archive was put back'),
    release: ReleaseSchema,
    storage: z.object({ id: z.number().int(), name: z.string() }),
    bytes: z.number().int().describe('size of the stored archive'),
    files: z.array(z.string()).describe('the paths in the release, sorted'),
    excluded: z.array(z.string()).describe('paths left out: secrets, node_modules and the like, .synapseignore'),
    links: z.object({ self: z.string(), plugin: z.string() }),
  })
  .register(apiSchemas, { id: 'PublishResult' });

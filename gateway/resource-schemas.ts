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

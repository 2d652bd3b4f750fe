/**
 * `config.yaml`: the plugin's manifest. Parsed once with `yaml`, validated once with zod;
 * every problem is reported with its key path and, where the file can tell, file:line:column.
 * Text in, config out: reading the file is the loader's (engine/plugin-loader.ts readPluginConfig).
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CATEGORIES, CATEGORY_ACTIONS, METHODS, RUNTIMES, type Category } from './categories.js';
import { hyperparametersFromJsonSchema } from './hyperparameters.js';
import { ConfigError } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import { INPUT_LIMITS } from '../contracts/input-limits.js';

/** Semantic version 2.0.0, as published on semver.org. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Limits of an upload action's Excel metadata file (the seed's defaults). */
export const ExcelConfigSchema = z.strictObject({
  max_file_size_mb: z.number().positive().default(10),
  max_rows: z.number().int().positive().default(100_000),
  max_columns: z.number().int().positive().default(50),
  max_cell_length: z.number().int().positive().default(10_000),
  max_filename_length: z.number().int().positive().default(255),
});

/** A JSON Schema object that hyperparametersFromJsonSchema turns into zod. */
const HyperparametersJsonSchema = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  try {
    hyperparametersFromJsonSchema(schema);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a hyperparameters JSON Schema this engine reads: ${err instanceof Error ? err.message : String(err)}` });
  }
});

/**
 * A resource class: which workers may run a plugin's runs (`cpu`, `gpu`, or a name of the
 * deployment's own such as `gpu-a100`). Runs of class X go to the task queues
 * `<prefix>-X-<method>` (`cpu`: `<prefix>-<method>`), served by `synapse worker --class X`.
 */
export const ResourceClassSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a resource class name such as cpu or gpu (lowercase letters, digits and -)');

export const ActionConfigSchema = z.strictObject({
  /** Dotted path to the class: `plugin.train.TrainAction` is export `TrainAction` of `plugin/train.ts`. */
  entrypoint: z.string().regex(/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)+$/, 'must look like plugin.module.ClassName'),
  method: z.enum(METHODS),
  description: z.string().optional(),
  /** Overrides the plugin-level runtime for this action. */
  runtime: z.enum(RUNTIMES).optional(),
  /** Seconds without a heartbeat after which a job step is considered lost and retried. */
  heartbeat_timeout: z.number().positive().optional(),
  /** Overrides the plugin-level resource class for this action's runs. */
  resource_class: ResourceClassSchema.optional(),
  /** Upload actions: limits enforced on the Excel metadata file. */
  excel_config: ExcelConfigSchema.optional(),
  /**
   * Python trainers: the hyperparameters as a JSON Schema object (`type: object`,
   * `properties`); unknown keys are refused unless it sets `additionalProperties`, and
   * `epochs` and `seed` are added when it does not declare them (sdk/hyperparameters.ts).
   * A TypeScript trainer declares them in code (`TrainAction.withHyperparameters`).
   */
  hyperparameters: HyperparametersJsonSchema.optional(),
  /**
   * Served (`restapi`) actions of Python plugins: the JSON Schema of a predict request's body
   * and of its answer, shown in the gateway's OpenAPI and used to build the deployment's demo
   * page (engine/serve-schemas.ts). The Python code still checks the body itself. A TypeScript
   * ServeAction declares them in code (`static input` / `static output`), which win over these.
   */
  input_schema: z.record(z.string(), z.unknown()).optional(),
  output_schema: z.record(z.string(), z.unknown()).optional(),
  /**
   * Python task-page actions (annotation categories): the action's own params as a JSON Schema
   * object (`type: object`, `properties`, `required`), added to the base params (`project`,
   * `task_filters` / `data_unit_filters`); unknown keys are refused (engine/python-task-pages.ts).
   * A TypeScript action declares them in code (`TaskPageParams.extend`).
   */
  params: z.record(z.string(), z.unknown()).optional(),
});

export const PluginConfigSchema = z
  .strictObject({
    code: z.string().regex(/^[a-z0-9_-]+$/, 'must match ^[a-z0-9_-]+$ (lowercase letters, digits, _ and -)'),
    name: z.string().min(1),
    // YAML reads `version: 1.0` as a number; say what is wrong with it, not "expected string".
    version: z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().regex(SEMVER, 'must be a semantic version such as 1.0.0')),
    category: z.enum(CATEGORIES),
    description: z.string().optional(),
    /** Path of the plugin's README, relative to the plugin folder. */
    readme: z.string().optional(),
    package_manager: z.enum(['pip', 'uv', 'npm']).optional(),
    package_manager_options: z.array(z.string()).optional(),
    /** Kind of data the plugin works on: image, video, text, pcd, audio, ... */
    data_type: z.string().optional(),
    /** Annotation task types the plugin supports, e.g. `image.object_detection`. */
    tasks: z.array(z.string()).optional(),
    /** Language of the plugin's code (default typescript). */
    runtime: z.enum(RUNTIMES).default('typescript'),
    /** The workers its runs go to (default `cpu`): `gpu` sends them to `synapse worker --class gpu`. */
    resource_class: ResourceClassSchema.optional(),
    /**
     * The environment variables the plugin's code may read (`ctx.envs`), with their values on the
     * worker; nothing else of the worker's environment reaches a plugin host. The worker's own
     * configuration (DATABASE_URL, AWS_*, TEMPORAL_*, SYNAPSE_*, PG*) is never passed.
     */
    envs: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
          .refine(
            (name) => !/^(DATABASE_URL|AWS_.*|TEMPORAL_.*|SYNAPSE_.*|PG[A-Z]*|NODE_OPTIONS)$/i.test(name),
            "is the worker's own configuration, never given to plugin code",
          ),
      )
      .max(100)
      .optional(),
    actions: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'action names are lowercase words joined by _'), ActionConfigSchema)
      .refine((a) => Object.keys(a).length > 0, 'a plugin needs at least one action'),
  })
  .superRefine((config, ctx) => {
    // The seed's action names belong to their category: a data_validation plugin cannot declare
    // `train`. Names no category uses are the plugin's own (extra actions run as simple runs).
    for (const name of Object.keys(config.actions)) {
      const owner = ACTION_CATEGORY.get(name);
      if (owner && !(CATEGORY_ACTIONS[config.category] as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['actions', name],
          message: `"${name}" is a ${owner} action; a ${config.category} plugin's actions are ${CATEGORY_ACTIONS[config.category].join(', ')}`,
        });
      }
      // `params` in config.yaml is for Python task-page actions only: elsewhere it would be ignored.
      const action = config.actions[name]!;
      const python = (action.runtime ?? config.runtime) === 'python';
      if (action.params && !(python && PYTHON_TASK_PAGE_CATEGORIES.has(config.category)))
        ctx.addIssue({
          code: 'custom',
          path: ['actions', name, 'params'],
          message: 'only a Python action of pre_annotation, data_validation or post_annotation declares params here; TypeScript declares them in code',
        });
    }
  });

/** The categories whose Python actions run as task pages and may declare `params` in config.yaml. */
const PYTHON_TASK_PAGE_CATEGORIES = new Set<string>(['pre_annotation', 'data_validation', 'post_annotation']);

/** Which category each of the seed's action names belongs to. */
const ACTION_CATEGORY = new Map<string, Category>(
  Object.entries(CATEGORY_ACTIONS).flatMap(([category, actions]) => actions.map((a) => [a, category as Category] as const)),
);

export type PluginConfig = z.infer<typeof PluginConfigSchema>;
export type ActionConfig = z.infer<typeof ActionConfigSchema>;

/** Parses config.yaml text; `file` only names the source in error messages. */
export function parsePluginConfig(text: string, file = 'config.yaml'): PluginConfig {
  if (text.length > INPUT_LIMITS.configYamlBytes) {
    throw new ConfigError(`${file} is too large`, [
      { path: '', location: file, message: `over the config.yaml size limit of ${INPUT_LIMITS.configYamlBytes} bytes` },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${file} is not valid YAML`,
      doc.errors.map((e) => ({ path: '', location: at(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  let value: unknown;
  try {
    // Aliases are bounded (a "billion laughs" config.yaml); the error names the file.
    value = doc.toJS({ maxAliasCount: INPUT_LIMITS.yamlAliases });
  } catch (err) {
    const reason =
      err instanceof Error && /alias/i.test(err.message) ? `more than ${INPUT_LIMITS.yamlAliases} aliases resolved (the YAML alias limit)` : String(err);
    throw new ConfigError(`${file} is not valid YAML`, [{ path: '', location: file, message: reason }]);
  }
  const parsed = PluginConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`${file} does not match the plugin config schema`, zodProblems(parsed.error, yamlLocator(doc, at)));
}

/** A locator for zodProblems: the `file:line:column` of a key path in a YAML document. */
function yamlLocator(doc: Document, at: (offset: number | undefined) => string) {
  return (path: string[], keyNode: boolean): string | undefined => locate(doc, at, path, keyNode).location;
}

function locate(doc: Document | undefined, at: ((offset: number | undefined) => string) | undefined, path: string[], keyNode: boolean): { location?: string } {
  if (!doc || !at) return {};
  // Walk down as far as the path exists; a missing key points at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth);
    if (keyNode && depth === path.length && depth > 0) {
      const parent = sub.length > 1 ? doc.getIn(sub.slice(0, -1), true) : doc.contents;
      if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
        for (const item of parent.items as unknown[]) {
          if (item && typeof item === 'object' && 'key' in item && isNode(item.key)) {
            const k = item.key as { toJSON(): unknown; range?: [number, number, number] | null };
            if (String(k.toJSON()) === sub[sub.length - 1]) return { location: at(k.range?.[0]) };
          }
        }
      }
      continue;
    }
    const node = depth === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) return { location: at(node.range[0]) };
  }
  return {};
}

/**
 * What a client needs to know about an action before it starts a run, computed where the
 * action's class is: which run shape runs it, its params parsed by that shape's parser, and
 * which of them are secret. A run shape (client/shapes/*.ts) works from this description and
 * never from the plugin's class object, so the class may live in another process: the
 * gateway asks a plugin host (activities/plugin-host-describe.ts; a hostile module's top level
 * runs there, never in the gateway), the CLI loads the action in its own process
 * (`describeInProcess`, the developer's own code, as `--debug` does).
 *
 * Everything here is pure (no file writes, no database, no Temporal): it is bundled into every
 * plugin host (activities/plugin-host-main.ts), where it runs under Node's permission model.
 */
import { z } from 'zod';
import { ParamsError, type Problem } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';
import { probePoint, probeValues, TUNE_KEYS, type ParamValue, type TuneSearch } from '../contracts/tune.js';
import { checkSearch, TuneSearchFields } from '../contracts/tune-params.js';
import type { Method } from '../sdk/categories.js';
import type { ActionConfig } from '../sdk/config.js';
import { DeploymentParams } from '../contracts/deployment.js';
import { isExporterClass, parseExportParams } from '../sdk/exporter.js';
import { redactParams, secretFieldPaths } from '../sdk/secret.js';
import { isServeActionClass } from '../sdk/serve.js';
import { isTaskPagesClass } from '../sdk/task-pages.js';
import { isTrainerClass, ModelInferenceParams, ModelTestParams, parseTrainParams, type TrainParams } from '../sdk/trainer.js';
import { isUploaderClass, parseUploadParams } from '../sdk/uploader.js';
import { loadAction, parseParams, type Plugin, type ResolvedAction } from './plugin-loader.js';
import { serveSchemas, type ServeSchemas } from './serve-schemas.js';
import { parseTaskPagesParams } from './task-page-params.js';

/**
 * The run shapes' params parsers, one per shape of client/run-shapes.ts (`action` is the
 * simple one-activity shape every other action runs as).
 */
export const SHAPE_PARSERS = ['action', 'task-pages', 'export', 'upload', 'train', 'test', 'inference', 'tune', 'deployment'] as const;
export type ShapeParser = (typeof SHAPE_PARSERS)[number];

/** The annotation categories whose task-page actions run as the task-page shape. */
const TASK_PAGE_CATEGORIES = new Set(['pre_annotation', 'data_validation', 'post_annotation']);

/**
 * Which run shape runs an action, from its plugin's category, its name and its class: the
 * rules the shapes of client/run-shapes.ts apply, in the registry's order (most specific first).
 */
export function shapeParserOf(category: string, actionName: string, cls: unknown): ShapeParser {
  if (category === 'neural_net' && isTrainerClass(cls)) {
    if (actionName === 'train' || actionName === 'test' || actionName === 'inference' || actionName === 'tune') return actionName;
  }
  if (
    isServeActionClass(cls) &&
    ((category === 'neural_net' && (actionName === 'deployment' || actionName === 'gradio')) || (category === 'smart_tool' && actionName === 'auto_label'))
  ) {
    return 'deployment';
  }
  if (category === 'export' && isExporterClass(cls)) return 'export';
  if (category === 'upload' && isUploaderClass(cls)) return 'upload';
  if (TASK_PAGE_CATEGORIES.has(category) && isTaskPagesClass(cls)) return 'task-pages';
  return 'action';
}

/** Options of a parse. */
export interface ShapeParseOptions {
  /**
   * Upload params: the folder relative paths are taken from (a local caller's: the CLI passes
   * its working folder). Absent: nothing is relative (the gateway; client/input-checks.ts roots).
   */
  baseDir?: string;
}

const subjectOf = (action: ResolvedAction): string => `invalid params for ${action.plugin.config.code} ${action.name}`;

/**
 * `raw` parsed by the run shape's parser `parser` (what the shape's workflow gets as params).
 * Throws ParamsError naming every problem (a task-page run's unknown filter key, a tune's
 * searched value its trainer refuses, ...).
 */
export function parseShapeParams(action: ResolvedAction, parser: ShapeParser, raw: unknown, options: ShapeParseOptions = {}): unknown {
  const subject = subjectOf(action);
  const cls = action.cls as unknown;
  switch (parser) {
    case 'action':
      return parseParams(action, raw);
    case 'task-pages':
      // The action's own params (the steps parse them again); the project and filters are checked too.
      return parseTaskPagesParams(action, raw, subject).params;
    case 'export':
      return parseExportParams(cls as Parameters<typeof parseExportParams>[0], raw, subject);
    case 'upload':
      return parseUploadParams(cls as Parameters<typeof parseUploadParams>[0], raw, subject, options.baseDir);
    case 'train':
      // The seed's train params; the trainer's own schema checks `hyperparameters`.
      return parseTrainParams(cls as TrainerClass, raw, subject);
    case 'test':
      return strict(ModelTestParams, raw, subject);
    case 'inference':
      return strict(ModelInferenceParams, raw, subject);
    case 'tune':
      return parseTuneParams(cls as TrainerClass, raw, subject);
    case 'deployment':
      return strict(isServeActionClass(cls) ? cls.params : DeploymentParams, raw, subject);
  }
}

function strict(schema: z.ZodType, raw: unknown, subject: string): unknown {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) throw new ParamsError(subject, zodProblems(parsed.error));
  return parsed.data;
}

type TrainerClass = Parameters<typeof parseTrainParams>[0];

/** A tune's params once checked: the trainer's train params (fixed hyperparameters only) and the search. */
export type TuneParams = TrainParams & TuneSearch;

/**
 * Checks a tune's params: the search (ParamsError naming `search_space.<key>`, `sampler`,
 * `num_trials`, ...), the train params with the trainer's schema, and each searched value the
 * trainer's hyperparameters must accept. Returns the train params with the search; the
 * searched keys are not among the fixed hyperparameters.
 * @throws ParamsError listing every problem.
 */
export function parseTuneParams(cls: TrainerClass, raw: unknown, subjectText = 'invalid tune params'): TuneParams {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ParamsError(subjectText, [{ path: '', message: 'params must be an object' }]);
  const all = raw as Record<string, unknown>;
  const searchRaw: Record<string, unknown> = {};
  const trainRaw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) ((TUNE_KEYS as readonly string[]).includes(k) ? searchRaw : trainRaw)[k] = v;

  const problems: Problem[] = [];
  let search: TuneSearch | undefined;
  const parsed = TuneSearchFields.safeParse(searchRaw);
  if (!parsed.success) problems.push(...zodProblems(parsed.error));
  else {
    const checked = checkSearch(parsed.data);
    if ('problems' in checked) problems.push(...checked.problems);
    else search = checked.search;
  }

  const fixedRaw = trainRaw.hyperparameters;
  const fixed = fixedRaw !== null && typeof fixedRaw === 'object' && !Array.isArray(fixedRaw) ? (fixedRaw as Record<string, unknown>) : {};
  const searched = search ? Object.keys(search.search_space) : [];
  for (const key of searched) {
    if (Object.hasOwn(fixed, key))
      problems.push({ path: `hyperparameters.${key}`, message: `also in search_space: a hyperparameter is fixed or searched, not both` });
  }

  // The train params with one point of the space (each dimension's first probe value).
  const point: Record<string, ParamValue> = search ? probePoint(search.search_space) : {};
  const withPoint = (over: Record<string, ParamValue>) => ({ ...trainRaw, hyperparameters: { ...fixed, ...point, ...over } });
  let train: TrainParams | undefined;
  try {
    train = parseTrainParams(cls, withPoint({}), subjectText);
  } catch (err) {
    if (!(err instanceof ParamsError)) throw err;
    problems.push(...err.problems.map((p) => blame(p, search, point)));
  }
  // Every other end of every range, every other value: the trainer must accept them too.
  if (search && train) {
    for (const [key, d] of Object.entries(search.search_space)) {
      for (const value of probeValues(d).slice(1)) {
        try {
          parseTrainParams(cls, withPoint({ [key]: value }), subjectText);
        } catch (err) {
          if (!(err instanceof ParamsError)) throw err;
          const mine = err.problems.find((p) => p.path === `hyperparameters.${key}`);
          if (mine) {
            problems.push({ path: `search_space.${key}`, message: `the trainer's hyperparameters refuse ${key} = ${JSON.stringify(value)}: ${mine.message}` });
            break;
          }
        }
      }
    }
  }
  if (problems.length > 0 || !search || !train) throw new ParamsError(subjectText, problems);
  const hyperparameters = { ...(train.hyperparameters as Record<string, unknown>) };
  for (const key of searched) delete hyperparameters[key];
  return { ...train, hyperparameters, ...search } as TuneParams;
}

/** A train-params problem about a searched hyperparameter points at its search_space entry. */
function blame(p: Problem, search: TuneSearch | undefined, point: Record<string, ParamValue>): Problem {
  const m = /^hyperparameters\.([^.]+)$/.exec(p.path);
  const key = m?.[1];
  if (!search || key === undefined || !Object.hasOwn(search.search_space, key)) return p;
  return { path: `search_space.${key}`, message: `the trainer's hyperparameters refuse ${key} = ${JSON.stringify(point[key])}: ${p.message}` };
}

/** Which SDK base an action's class extends (what a run shape may ask of it). */
export type ClassKind = 'action' | 'exporter' | 'uploader' | 'trainer' | 'serve';

/** The SDK base a class extends. */
export function classKindOf(cls: unknown): ClassKind {
  if (isExporterClass(cls)) return 'exporter';
  if (isUploaderClass(cls)) return 'uploader';
  if (isTrainerClass(cls)) return 'trainer';
  if (isServeActionClass(cls)) return 'serve';
  return 'action';
}

/**
 * JSON Schema of an action's params as a caller sends them (defaults optional): what
 * `synapse plugin describe` and `GET /v1/plugins/{code}` show. Computed where the class is.
 */
export function paramsJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** What a run's start needs of an action besides its plugin's config (ActionDescription's class half). */
export interface RunFacts {
  /** The run shape whose parser reads its params (client/run-shapes.ts picks the shape by it). */
  shape: ShapeParser;
  /** The params' fields marked secret() (sdk/secret.ts), by path; `(params)` for the whole. */
  secretFields: string[];
  /** A served action's request and answer JSON Schemas (engine/serve-schemas.ts); for `restapi` actions. */
  serve?: ServeSchemas;
  /**
   * Without a parse: the params' JSON Schema (paramsJsonSchema), what a plugin's description
   * shows; absent when zod cannot write one (`paramsSchemaError` says why).
   */
  paramsSchema?: Record<string, unknown>;
  /** Without a parse: why the params' JSON Schema could not be written (its first line). */
  paramsSchemaError?: string;
  /** With a parse: the params as the shape's parser made them. */
  params?: unknown;
  /** With a parse: those params with each secret field "[secret]" (what the run store keeps). */
  redactedParams?: unknown;
}

/** What to describe: with `parse`, `params` are parsed by the action's run shape's parser. */
export interface DescribeRequest extends ShapeParseOptions {
  parse: boolean;
  params?: unknown;
}

/** The run facts of a loaded action (its class is in this process). Throws ParamsError when a parse fails. */
export function runFactsOf(action: ResolvedAction, request: DescribeRequest): RunFacts {
  const cls = action.cls;
  const shape = shapeParserOf(action.plugin.config.category, action.name, cls);
  const facts: RunFacts = {
    shape,
    secretFields: secretFieldPaths(cls.params),
    ...(action.config.method === 'restapi' ? { serve: serveSchemas(action) } : {}),
  };
  if (!request.parse) return { ...facts, ...paramsSchemaOf(cls.params) };
  const params = parseShapeParams(action, shape, request.params, request);
  return { ...facts, params, redactedParams: facts.secretFields.length > 0 ? redactParams(cls.params, params).params : params };
}

/** The params' JSON Schema, or why there is none: a schema zod cannot write must not fail the other facts (served schemas, a resume's shape). */
function paramsSchemaOf(schema: z.ZodType): Pick<RunFacts, 'paramsSchema' | 'paramsSchemaError'> {
  try {
    return { paramsSchema: paramsJsonSchema(schema) };
  } catch (err) {
    return { paramsSchemaError: `its params have no JSON Schema: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}` };
  }
}

/**
 * An action as a run shape sees it: its plugin (found from config.yaml, no code imported), its
 * config, method and progress categories, and its class's run facts, wherever the class lives.
 */
export interface ActionDescription extends RunFacts {
  plugin: Plugin;
  name: string;
  config: ActionConfig;
  method: Method;
  progressCategories: Record<string, ProgressCategoryDef>;
  /** The class's name (for messages). */
  className: string;
  kind: ClassKind;
}

/**
 * Describes actions of plugins: where their classes load is the describer's choice (a plugin
 * host, or this process). Throws NotFoundError (no such action), ConfigError (the action does
 * not load: the message says why, a plugin host's crash included) and, with a parse, ParamsError.
 */
export interface ActionDescriber {
  describe(plugin: Plugin, actionName: string, request: DescribeRequest): Promise<ActionDescription>;
}

/** The description of an action loaded in this process. */
export function describeLoaded(action: ResolvedAction, request: DescribeRequest): ActionDescription {
  return {
    plugin: action.plugin,
    name: action.name,
    config: action.config,
    method: action.method,
    progressCategories: action.progressCategories,
    className: action.cls.name,
    kind: classKindOf(action.cls),
    ...runFactsOf(action, request),
  };
}

/**
 * Loads actions in this process (engine/plugin-loader.ts): the CLI's describer, where the
 * plugin code is the developer's own and starting a host would only slow every `plugin run`;
 * and Python actions anywhere (their loader imports no plugin code).
 */
export const describeInProcess: ActionDescriber = {
  describe: async (plugin, actionName, request) => describeLoaded(await loadAction(plugin, actionName), request),
};

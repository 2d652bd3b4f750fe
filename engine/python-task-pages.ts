/**
 * Python task-page actions: a plugin of an annotation category whose config.yaml says
 * `runtime: python` names a class in `<module>.py` that subclasses one of
 * runtimes/python/synapse_task_pages.py's bases. Here it becomes a TypeScript class of the
 * matching SDK base (sdk/task-pages.ts), so the client picks the task-page run shape and the
 * params are parsed as for a TypeScript plugin; its hooks never run in Node: the worker
 * (activities/python-task-pages.ts) calls them in the plugin's warm Python process.
 *
 * Which base follows from the category and the action name, without starting Python:
 *   pre_annotation/to_task -> ToTaskPages, pre_annotation/pre_annotation -> PreAnnotationUnitPages,
 *   data_validation/validation -> ValidationTaskPages, post_annotation/post_annotation -> PostAnnotationTaskPages.
 * The Python runtime checks the class really subclasses that base at its first call.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../contracts/errors.js';
import type { ActionClass } from '../sdk/action.js';
import type { ActionConfig, PluginConfig } from '../sdk/config.js';
import type { PlatformDataUnit, PlatformTask } from '../sdk/platform-api.js';
import { z } from 'zod';
import {
  DataUnitPageParams,
  PostAnnotationTaskPages,
  PreAnnotationUnitPages,
  TaskPageParams,
  ToTaskPages,
  ValidationTaskPages,
  type TaskOutcome,
  type TaskPagesClass,
} from '../sdk/task-pages.js';

/** Where a Python task-page class is, and the plugin it belongs to (for its environment). */
export interface PythonTaskPagesRef {
  plugin: { dir: string; config: PluginConfig };
  /** Relative to the plugin folder: `plugin/check.py`. */
  module: string;
  className: string;
  /** The synapse_task_pages base it must subclass. */
  base: PythonTaskPagesBase;
}

export type PythonTaskPagesBase = 'ToTaskPages' | 'ValidationTaskPages' | 'PostAnnotationTaskPages' | 'PreAnnotationUnitPages';

/** The Python base of each category's task-page action. */
export const PYTHON_TASK_PAGE_BASES: Readonly<Record<string, Readonly<Record<string, PythonTaskPagesBase>>>> = {
  pre_annotation: { to_task: 'ToTaskPages', pre_annotation: 'PreAnnotationUnitPages' },
  data_validation: { validation: 'ValidationTaskPages' },
  post_annotation: { post_annotation: 'PostAnnotationTaskPages' },
};

/** Whether runtime python of this category means a task-page action. */
export function isPythonTaskPagesCategory(category: string): boolean {
  return Object.hasOwn(PYTHON_TASK_PAGE_BASES, category);
}

/** A Python task-page class as the engine holds it: a TaskPagesClass with `python`. */
export type PythonTaskPagesClass = TaskPagesClass & { python: PythonTaskPagesRef };

export function isPythonTaskPagesClass(value: unknown): value is PythonTaskPagesClass {
  return typeof value === 'function' && (value as { python?: { base?: unknown } }).python?.base !== undefined && 'taskPages' in value;
}

function inPython(name: string): never {
  throw new Error(`${name} is Python code: its hooks run in the Python runtime (activities/python-task-pages.ts), not in Node`);
}

/**
 * The class for `actions.<actionName>` of a Python plugin of an annotation category.
 * ConfigError naming the field when the action is not a task-page one, the module is missing
 * or has no such class.
 */
export function loadPythonTaskPagesClass(
  plugin: { dir: string; config: PluginConfig },
  actionName: string,
  config: ActionConfig,
  modulePath: string,
  className: string,
  where: string,
): ActionClass {
  const field = `actions.${actionName}`;
  const category = plugin.config.category;
  const base = PYTHON_TASK_PAGE_BASES[category]?.[actionName];
  if (!base) {
    const names = Object.keys(PYTHON_TASK_PAGE_BASES[category] ?? {});
    throw new ConfigError(where, [
      {
        path: `${field}.runtime`,
        message: `runtime "python" runs ${category} task-page actions (${names.join(', ')}); "${actionName}" is not one`,
      },
    ]);
  }
  if (config.method !== 'job') {
    throw new ConfigError(where, [{ path: `${field}.method`, message: `a Python task-page action runs as a job, not ${config.method}` }]);
  }
  const file = `${modulePath}.py`;
  if (!existsSync(file)) {
    throw new ConfigError(where, [{ path: `${field}.entrypoint`, message: `module ${path.relative(plugin.dir, file)} not found` }]);
  }
  if (!new RegExp(`^class\\s+${className}\\b`, 'm').test(readFileSync(file, 'utf8'))) {
    throw new ConfigError(where, [{ path: `${field}.entrypoint`, message: `${path.relative(plugin.dir, file)} has no class ${className}` }]);
  }
  for (const key of ['hyperparameters', 'input_schema', 'output_schema'] as const) {
    if (config[key] !== undefined)
      throw new ConfigError(where, [{ path: `${field}.${key}`, message: `a task-page action has no ${key} (its own params go under params)` }]);
  }
  const params = ownParams(base === 'PreAnnotationUnitPages' ? DataUnitPageParams : TaskPageParams, config.params, `${field}.params`, where);
  const python: PythonTaskPagesRef = { plugin, module: path.relative(plugin.dir, file), className, base };
  let cls: ActionClass;
  if (base === 'PreAnnotationUnitPages') {
    cls = class extends PreAnnotationUnitPages {
      static python = python;
      processDataUnit(_unit: PlatformDataUnit): Promise<Omit<TaskOutcome, 'annotations'> | null | undefined> {
        return inPython(className);
      }
    } as unknown as ActionClass;
  } else {
    const Base = base === 'ToTaskPages' ? ToTaskPages : base === 'ValidationTaskPages' ? ValidationTaskPages : PostAnnotationTaskPages;
    cls = class extends Base {
      static python = python;
      processTask(_task: PlatformTask): Promise<TaskOutcome | null | undefined> {
        return inPython(className);
      }
    } as unknown as ActionClass;
  }
  Object.defineProperty(cls, 'name', { value: className });
  (cls as { params: z.ZodType }).params = params;
  return cls;
}

/**
 * The base params with the action's own from config.yaml `params` (a JSON Schema object):
 * still strict (unknown keys refused), a declared key may not redefine a base one.
 */
function ownParams(baseParams: z.ZodObject, schema: Record<string, unknown> | undefined, field: string, where: string): z.ZodType {
  if (schema === undefined) return baseParams;
  const fail = (message: string): never => {
    throw new ConfigError(where, [{ path: field, message }]);
  };
  if (schema.type !== 'object') fail('must be a JSON Schema with type: object');
  let own: z.ZodType;
  try {
    own = z.fromJSONSchema({ ...schema, additionalProperties: false } as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    return fail(`not a JSON Schema this engine reads: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!(own instanceof z.ZodObject)) return fail('must be a JSON Schema object with properties');
  const clash = Object.keys(own.shape).filter((k) => Object.hasOwn(baseParams.shape, k));
  if (clash.length)
    fail(`${clash.join(', ')}: the base params already have ${clash.length === 1 ? 'it' : 'them'} (${Object.keys(baseParams.shape).join(', ')})`);
  return baseParams.extend(own.shape);
}

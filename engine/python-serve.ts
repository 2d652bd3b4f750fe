/**
 * A Python deployment action (`runtime: python`, `method: restapi`): the loader resolves it
 * to a PythonServeAction, a ServeAction whose code lives in a Python class (a Trainer of
 * runtimes/python/synapse_runtime.py: its `load` reads the registered model, its
 * `predict_request` answers one request). The serve step (activities/serve.ts) sees the class
 * and hosts it in a warm Python process (activities/serve-python.ts) instead of calling
 * `load` / `predict` here. The request body is checked by the Python code, which names the
 * bad field (a 400), so `static input` accepts any JSON.
 */
import { z } from 'zod';
import { NonRetriableError } from '../contracts/errors.js';
import { ServeAction } from '../sdk/serve.js';

export interface PythonEntrypoint {
  /** The plugin's folder (the Python process's working directory). */
  pluginDir: string;
  /** The module's file, relative to pluginDir (`plugin/train.py`). */
  module: string;
  className: string;
}

export class PythonServeAction extends ServeAction {
  static python: PythonEntrypoint | undefined;
  static override input: z.ZodType = z.unknown();

  load(): Promise<void> {
    return Promise.reject(new NonRetriableError(`${this.constructor.name} is Python code: the serve step hosts it in a Python process`));
  }

  predict(): Promise<never> {
    return Promise.reject(new NonRetriableError(`${this.constructor.name} is Python code: the serve step hosts it in a Python process`));
  }
}

export function isPythonServeClass(value: unknown): value is typeof PythonServeAction & { python: PythonEntrypoint } {
  return typeof value === 'function' && value.prototype instanceof PythonServeAction && (value as typeof PythonServeAction).python !== undefined;
}

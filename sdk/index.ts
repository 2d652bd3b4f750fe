/**
 * What a plugin author imports (`import { ValidationAction, z } from '@synapse/sdk'`).
 * No Temporal here: plugin code sees only actions, a RunContext and errors.
 */
export { z } from 'zod';
export { Action, isActionClass, type ActionClass, type MetricsCategoryDef } from './action.js';
export * from './category-actions.js';
export { CATEGORIES, CATEGORY_ACTIONS, METHODS, RUNTIMES, type Category, type Method, type Runtime } from './categories.js';
export { ActionConfigSchema, ExcelConfigSchema, parsePluginConfig, PluginConfigSchema, type ActionConfig, type PluginConfig } from './config.js';
export {
  ConfigError,
  InvalidInputError,
  NonRetriableError,
  NotFoundError,
  ParamsError,
  RunFailedError,
  SynapseError,
  UnavailableError,
  type Problem,
} from '../contracts/errors.js';
export * from './annotations.js';
export type { LogLevel, RunContext } from './run-context.js';
export type { MetricValues, ProgressCategoryDef } from '../contracts/run-state.js';
export * from './exporter.js';
export * from './export-boxes.js';
export * from './export-names.js';
export * from './xml.js';
export * from './trainer.js';
export * from './serve.js';
export * from './uploader.js';
export * from './platform-api.js';
export * from './png.js';
export * from './platform-filters.js';
export * from './task-pages.js';
export * from './predictions.js';
export * from './auto-label.js';
export { REDACTED, secret } from './secret.js';

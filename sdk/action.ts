/**
 * Action: one operation of a plugin. A plugin author subclasses a category base (or
 * Action itself), declares a zod `params` schema and implements `start(ctx)`.
 * Metadata lives on static fields so the engine can read it without running anything.
 */
import { z } from 'zod';
import type { Category, Method } from './categories.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';
import type { RunContext } from './run-context.js';

export interface MetricsCategoryDef {
  label?: string;
}

export abstract class Action<P = any, R = unknown> {
  /** The action name this class implements (`train`, `export`, ...). Set by category bases. */
  static action: string | undefined;
  /** The category this class belongs to. Set by category bases; checked against config.yaml. */
  static category: Category | undefined;
  /** Default execution method; config.yaml's `method` wins. */
  static method: Method = 'job';
  /** Schema of the action's params; parsed once before the run starts. */
  static params: z.ZodType = z.looseObject({});
  /** Named, weighted parts of the run's progress (`{ train: { weight: 75 } }`). */
  static progressCategories: Record<string, ProgressCategoryDef> = {};
  /** Metric groups the action reports (`{ validation: { label: 'Validation' } }`). */
  static metricsCategories: Record<string, MetricsCategoryDef> = {};

  /** Runs the action. Its return value (JSON) is the run's result. */
  abstract start(ctx: RunContext<P>): Promise<R>;
}

/** The static side of an Action subclass: what the loader finds in a plugin module. */
export type ActionClass = (abstract new () => Action) & {
  action: string | undefined;
  category: Category | undefined;
  method: Method;
  params: z.ZodType;
  progressCategories: Record<string, ProgressCategoryDef>;
  metricsCategories: Record<string, MetricsCategoryDef>;
};

export function isActionClass(value: unknown): value is ActionClass {
  return typeof value === 'function' && value.prototype instanceof Action;
}

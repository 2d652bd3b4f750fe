/**
 * Action: one operation of a plugin. A plugin author subclasses a category base (or
 * Action itself), declares a zod `params` schema and implements `start(ctx)`.
 * Metadata lives on static fields so the engine can read it without running anything.
 *
 * Params are declared once: `class Check extends ValidationAction.withParams(Params)` sets
 * `static params` and types `ctx.params` as the schema's output, so the two cannot disagree
 * (a `start(ctx: RunContext<Other>)` or a different `static params` is a compile error).
 * The older form, `extends ValidationAction<P>` plus `static override params = Params`,
 * still works but nothing checks that `P` is the schema's type.
 */
import { z } from 'zod';
import type { Category, Method } from './categories.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';
import type { RunContext } from './run-context.js';

export interface MetricsCategoryDef {
  label?: string;
}

/**
 * An abstract action class, as `withParams` may be called on it: a base whose params are
 * the run's params. Bases whose schema is another static (an exporter's or uploader's
 * `extraParams`, a trainer's `hyperparameters`) have their own factory instead.
 */
type ParamsBase = (abstract new () => Action) & { extraParams?: never; hyperparameters?: never };

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

  /**
   * A base class whose `static params` is `params` and whose `start(ctx)` gets
   * `ctx.params: z.output<typeof params>`: the params declared once.
   *
   * ```ts
   * const Params = z.strictObject({ count: z.number().int().default(10) });
   * type Params = z.infer<typeof Params>;
   * export class Check extends ValidationAction.withParams(Params) {
   *   async start(ctx: RunContext<Params>) { ... }
   * }
   * ```
   *
   * It keeps the category base's statics (action, category, method, progress categories);
   * a subclass may still override them. Not for BaseExporter, BaseUploader or TrainAction
   * (a compile error): use their `withExtraParams` / `withHyperparameters`.
   */
  static withParams<C extends ParamsBase, S extends z.ZodType>(this: C, params: S) {
    // At run time the new class extends the category base it was called on; its type is
    // that base's statics over an Action whose params are the schema's output.
    abstract class WithParams extends (this as unknown as abstract new () => Action<z.output<S>>) {
      static params = params;
    }
    return WithParams as typeof WithParams & Omit<C, 'prototype' | 'params'>;
  }

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

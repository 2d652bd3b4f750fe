/**
 * Hyperparameters: the `hyperparameters` object of a train run's params. Every trainer
 * understands `epochs` and `seed` (BaseHyperparameters); a TypeScript trainer extends that
 * zod schema, a Python trainer declares its own keys as JSON Schema in config.yaml
 * (`actions.train.hyperparameters`), which becomes a zod schema here. Either way the params
 * are checked before the run starts: an unknown key (`epoch` for `epochs`) or a bad value
 * is a params error naming `hyperparameters.<key>`, not a run with the defaults.
 */
import { z } from 'zod';

/** Hyperparameters every trainer understands; a plugin's own schema extends these. */
export const BaseHyperparameters = z.looseObject({
  epochs: z.number().int().min(1).max(100_000).default(10),
  /** Seeds weight init and the per-epoch shuffles: the same seed gives the same model. */
  seed: z.number().int().min(0).max(0xffffffff).default(1),
});
export type BaseHyperparameters = z.infer<typeof BaseHyperparameters>;

/** A JSON Schema object as config.yaml holds it (`type: object`, `properties`, ...). */
export type JsonSchemaObject = Record<string, unknown>;

/**
 * The zod schema of a trainer's hyperparameters declared as JSON Schema (draft 2020-12, the
 * subset `z.fromJSONSchema` reads: types, enum, const, minimum/maximum, lengths, pattern,
 * default, anyOf/oneOf/allOf, $defs/$ref; not if/then/else or `not`).
 *
 * The schema must be `type: object`. Two things differ from plain JSON Schema, so that a
 * declared schema catches typos: `additionalProperties` is `false` unless the schema sets it
 * (unknown keys are refused), and `epochs` and `seed` are added with BaseHyperparameters'
 * rules and defaults (10 and 1) unless the schema declares them itself.
 *
 * @throws Error with a one-line reason when the schema is not one this reads.
 */
export function hyperparametersFromJsonSchema(schema: JsonSchemaObject): z.ZodType<BaseHyperparameters> {
  if (schema.type !== 'object') throw new Error('must be a JSON Schema with type: object');
  const declared = schema.properties ?? {};
  if (typeof declared !== 'object' || declared === null || Array.isArray(declared)) throw new Error('properties must be a mapping of key to JSON Schema');
  const base = z.toJSONSchema(BaseHyperparameters, { io: 'input' }).properties ?? {};
  const full = {
    ...schema,
    properties: { ...base, ...declared },
    additionalProperties: schema.additionalProperties ?? false,
  };
  // Not a z.ZodType<BaseHyperparameters> by construction: trainParamsSchema's refinement
  // still checks `epochs` when a declared schema redefines it.
  return z.fromJSONSchema(full as Parameters<typeof z.fromJSONSchema>[0]) as z.ZodType<BaseHyperparameters>;
}

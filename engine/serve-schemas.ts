/**
 * The JSON Schemas of a served action's request body and answer (docs/serving.md), in one
 * place for the three readers that need them: a replica's `GET /schema` (the gateway's
 * demo page builds its form from it), the gateway's OpenAPI document, and
 * `plugin run --debug` of a served action. A TypeScript ServeAction declares zod schemas
 * (`static input` / `static output`, turned into JSON Schema by zod 4's toJSONSchema); a
 * Python plugin declares JSON Schema in config.yaml (`input_schema` / `output_schema` of the
 * action). Nothing declared: `{}` (any JSON).
 *
 * Computed where the class is: a replica's step and `--debug` in their own process, the
 * gateway's OpenAPI in a plugin host (engine/run-params.ts runFactsOf `serve`, answered by
 * activities/plugin-host-describe.ts), so the gateway never imports a served plugin's code.
 */
import { z } from 'zod';
import { isServeActionClass } from '../sdk/serve.js';
import type { Plugin, ResolvedAction } from './plugin-loader.js';

export type JsonSchema = Record<string, unknown>;

export interface ServeSchemas {
  /** The predict request's JSON body, as a caller sends it (defaults optional). */
  input: JsonSchema;
  /** predict's answer; `{}` when the action does not say. */
  output: JsonSchema;
}

/** zod -> JSON Schema without the `$schema` line (it sits inside another document). */
function fromZod(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** True when `schema` is z.unknown() / z.any() (nothing declared in code). */
const declaresNothing = (schema: JsonSchema): boolean => Object.keys(schema).length === 0;

/** The action's schemas; the config's JSON Schema fills in what the code does not declare. */
export function serveSchemas(action: Pick<ResolvedAction, 'cls' | 'config'>): ServeSchemas {
  const fromCode = isServeActionClass(action.cls)
    ? { input: fromZod(action.cls.input, 'input'), output: fromZod(action.cls.output, 'output') }
    : { input: {}, output: {} };
  return {
    input: declaresNothing(fromCode.input) ? (action.config.input_schema ?? {}) : fromCode.input,
    output: declaresNothing(fromCode.output) ? (action.config.output_schema ?? {}) : fromCode.output,
  };
}

/**
 * The plugin's served actions that share `action`'s entrypoint: a replica loaded for one of
 * them answers each of them (the seed-style path `POST /v1/deployments/{id}/<action>`).
 */
export function servedActionNames(plugin: Plugin, action: Pick<ResolvedAction, 'name' | 'config'>): string[] {
  const names = Object.entries(plugin.config.actions)
    .filter(([, c]) => c.method === 'restapi' && c.entrypoint === action.config.entrypoint)
    .map(([name]) => name);
  return names.includes(action.name) ? names : [action.name, ...names];
}

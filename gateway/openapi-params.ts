/**
 * The last pass over /openapi.json, so the document says what the routes do (checked by a
 * validator and schemathesis in test/integration/gateway-openapi.test.ts):
 *
 * - every path parameter carries the pattern (and lengths) its route parses it with, from the
 *   same zod schemas, so a value outside it is a documented 400, not a surprise;
 * - every operation that takes a path parameter, a query or a body documents its 400;
 * - every operation with parameters documents 431: a URL and headers over Node's 16 KiB limit
 *   (a query value far over its maxLength, say) are refused by the HTTP parser before any route
 *   sees them, with an empty body (found by schemathesis with a 16 KiB pageToken).
 *
 * Idempotent: a parameter that has a pattern and an operation that has a 400 keep theirs.
 */
import { z } from 'zod';
import { IdParam, RefParam } from './resource-schemas.js';
import { PluginRef, RunIdParam } from './schemas.js';

type Json = Record<string, unknown>;

const ActionName = z.string().regex(/^[a-z][a-z0-9_]*$/);
/** An artifact name: any path segment. */
const Segment = z
  .string()
  .min(1)
  .regex(/^[^/]+$/);

/** Path parameters by name, and by `<path template> <name>` where one name means two things. */
const BY_NAME: Record<string, z.ZodType> = { id: RunIdParam, code: PluginRef, ref: RefParam, version: RefParam, action: ActionName, name: Segment };
const BY_PATH: Record<string, z.ZodType> = {
  '/v1/ground-truth-versions/{id} id': IdParam,
  '/v1/releases/{code}/{version} code': RefParam,
};

function patternOf(schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const { type, pattern, minLength, maxLength } = s;
  return { type, pattern, ...(minLength !== undefined ? { minLength } : {}), ...(maxLength !== undefined ? { maxLength } : {}) };
}

const OPERATIONS = ['get', 'put', 'post', 'delete', 'patch'];

const badRequest = {
  description: 'invalid path parameter, query or body: `errors` names each field',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

const headersTooLarge = { description: "the request line and headers exceed the server's 16 KiB limit (Node's HTTP parser; empty body)" };

/** Fills in path parameter patterns and 400 answers (see the file header). Changes `paths` in place and returns it. */
export function finalizePaths(paths: Record<string, Json>): Record<string, Json> {
  for (const [template, item] of Object.entries(paths)) {
    for (const method of OPERATIONS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const params = (op.parameters as Json[] | undefined) ?? [];
      for (const p of params) {
        if (p.in !== 'path') continue;
        const schema = (p.schema as Json | undefined) ?? {};
        if (typeof schema.pattern === 'string') continue;
        const name = String(p.name);
        const source = BY_PATH[`${template} ${name}`] ?? BY_NAME[name] ?? Segment;
        p.schema = { ...schema, ...patternOf(source) };
      }
      const responses = (op.responses as Json | undefined) ?? {};
      if (!('400' in responses) && (params.length > 0 || op.requestBody !== undefined)) op.responses = { ...responses, '400': badRequest };
      if (params.length > 0 && !('431' in (op.responses as Json))) op.responses = { ...(op.responses as Json), '431': headersTooLarge };
    }
  }
  return paths;
}

/** `finalizePaths` over a whole document (after gateway/openapi-deployments.ts added its paths). */
export function finalizeDocument<D extends { paths?: unknown }>(document: D): D {
  if (document.paths && typeof document.paths === 'object') finalizePaths(document.paths as Record<string, Json>);
  return document;
}

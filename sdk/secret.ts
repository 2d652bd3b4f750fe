/**
 * Secret params: a plugin author marks a field once, where the params are declared,
 *
 *   const Params = z.object({ url: z.string(), password: secret(z.string()) });
 *   class Sync extends UploadAction.withParams(Params) { ... }
 *
 * and the platform then keeps its value out of everything it stores: Temporal payloads are
 * encrypted (client/codec.ts; a run with secret params refuses to start without a codec key),
 * the run store row shows "[secret]" instead of the value, and the run's events and error
 * messages have every occurrence of the value replaced by "[secret]". The action itself gets
 * the real value in `ctx.params`. In the params' JSON Schema the field carries
 * `"secret": true, "writeOnly": true`.
 *
 * The marker is zod metadata (`.meta({ secret: true })`), which zod carries over to copies
 * made by `.describe()`, `.optional()`'s inner type and the like. Marking an object or an
 * array marks everything inside it.
 */
import { z } from 'zod';

/** Secret values shorter than this are not scrubbed from free text (log lines, error messages). */
export const MIN_SCRUBBED = 4;

/** What a secret value is shown as wherever it is stored or logged. */
export const REDACTED = '[secret]';

/** Marks a params field secret (see the file header). Returns the schema with the mark. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ secret: true, writeOnly: true });
}

/** Whether this very schema (not its fields) carries the secret mark. */
export function isSecret(schema: z.ZodType): boolean {
  return z.globalRegistry.get(schema)?.secret === true;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  shape?: Record<string, z.ZodType>;
  getter?: () => z.ZodType;
}

const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Every string and number inside a value (what must not appear in logs once it is secret). */
function leaves(value: unknown, out: string[], depth = 0): void {
  if (depth > 64) return;
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
  else if (Array.isArray(value)) for (const v of value) leaves(v, out, depth + 1);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out, depth + 1);
}

/**
 * Walks `value` along `schema`: secret fields are replaced by REDACTED in the copy returned,
 * and their values (every string / number inside them) collected in `found`.
 */
function walk(schema: z.ZodType, value: unknown, found: string[], depth: number): unknown {
  if (value === undefined || depth > 64) return value;
  if (isSecret(schema)) {
    leaves(value, found);
    return REDACTED;
  }
  const d = def(schema);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return d.innerType ? walk(d.innerType, value, found, depth + 1) : value;
    case 'pipe': {
      // Input or output side may carry the mark (a transform after `secret(...)`).
      const once = d.in ? walk(d.in, value, found, depth + 1) : value;
      return d.out ? walk(d.out, once, found, depth + 1) : once;
    }
    case 'lazy':
      return d.getter ? walk(d.getter(), value, found, depth + 1) : value;
    case 'object': {
      if (!value || typeof value !== 'object' || Array.isArray(value) || !d.shape) return value;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const [key, field] of Object.entries(d.shape)) {
        if (Object.hasOwn(copy, key)) copy[key] = walk(field, copy[key], found, depth + 1);
      }
      return copy;
    }
    case 'array':
      return Array.isArray(value) && d.element ? value.map((v) => walk(d.element as z.ZodType, v, found, depth + 1)) : value;
    case 'tuple':
      return Array.isArray(value)
        ? value.map((v, i) => {
            const item = d.items?.[i] ?? d.rest ?? undefined;
            return item ? walk(item, v, found, depth + 1) : v;
          })
        : value;
    case 'record':
      if (!value || typeof value !== 'object' || Array.isArray(value) || !d.valueType) return value;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(d.valueType as z.ZodType, v, found, depth + 1)]));
    case 'union':
      // Any option that marks a field secret redacts it: the stricter reading wins.
      return (d.options ?? []).reduce<unknown>((v, option) => walk(option, v, found, depth + 1), value);
    case 'intersection': {
      const left = d.left ? walk(d.left, value, found, depth + 1) : value;
      return d.right ? walk(d.right, left, found, depth + 1) : left;
    }
    default:
      return value;
  }
}

export interface RedactedParams {
  /** The params with every secret field's value replaced by REDACTED. */
  params: unknown;
  /**
   * The secret values found (strings, and numbers as text) of at least MIN_SCRUBBED characters,
   * longest first, for scrubbing free text. Shorter ones would blank out ordinary words of every
   * log line; they are still redacted in the run store row and encrypted in Temporal.
   */
  secrets: string[];
}

/** Redacts the secret fields of `params` (parsed by `schema`); see `RedactedParams`. */
export function redactParams(schema: z.ZodType, params: unknown): RedactedParams {
  const found: string[] = [];
  const redacted = walk(schema, params, found, 0);
  const secrets = [...new Set(found.filter((s) => s.length >= MIN_SCRUBBED))].sort((a, b) => b.length - a.length);
  return { params: redacted, secrets };
}

/** Whether `schema` marks any field secret. */
export function hasSecretFields(schema: z.ZodType): boolean {
  return secretFieldPaths(schema).length > 0;
}

/** Dotted paths of the secret fields of an object schema (`[]` for array items), for messages. */
export function secretFieldPaths(schema: z.ZodType, prefix = '', depth = 0): string[] {
  if (depth > 32) return [];
  if (isSecret(schema)) return [prefix || '(params)'];
  const d = def(schema);
  const join = (k: string) => (prefix ? `${prefix}.${k}` : k);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return d.innerType ? secretFieldPaths(d.innerType, prefix, depth + 1) : [];
    case 'pipe':
      return [...new Set([...(d.in ? secretFieldPaths(d.in, prefix, depth + 1) : []), ...(d.out ? secretFieldPaths(d.out, prefix, depth + 1) : [])])];
    case 'object':
      return Object.entries(d.shape ?? {}).flatMap(([k, f]) => secretFieldPaths(f, join(k), depth + 1));
    case 'array':
      return d.element ? secretFieldPaths(d.element, join('[]'), depth + 1) : [];
    case 'record':
      return d.valueType ? secretFieldPaths(d.valueType, join('*'), depth + 1) : [];
    case 'union':
      return [...new Set((d.options ?? []).flatMap((o) => secretFieldPaths(o, prefix, depth + 1)))];
    case 'intersection':
      return [...(d.left ? secretFieldPaths(d.left, prefix, depth + 1) : []), ...(d.right ? secretFieldPaths(d.right, prefix, depth + 1) : [])];
    default:
      return [];
  }
}

/** `text` with every secret value replaced by REDACTED (longest first, so no prefix of one survives). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

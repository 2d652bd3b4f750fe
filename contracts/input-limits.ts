/**
 * Limits on what comes in from outside (HTTP bodies, CLI arguments, files a person names),
 * in one place so that the CLI and the gateway refuse the same input the same way, and the
 * README and docs/ARCHITECTURE.md can quote them. Every check here is pure and runs before
 * anything is written or started: a refused input leaves no run row and no workflow.
 *
 * Why each limit exists:
 * - params go into the run store and into Temporal's history (workflow input, carried through
 *   continue-as-new); Temporal refuses payloads over 2 MB only after retrying for ~45 s, and
 *   deeply nested values overflow the stack of recursive code further down (10,000 levels did);
 * - a params file is read whole into memory: a fifo or /dev/zero must not be opened at all;
 * - config.yaml is plugin-author input that YAML aliases can blow up (a "billion laughs");
 * - names (actions, categories, shapes) index plain objects: `constructor` or `__proto__`
 *   must not find what Object.prototype holds.
 */
import { InvalidInputError, type Problem } from './errors.js';

export const INPUT_LIMITS = Object.freeze({
  /** Largest params value, as UTF-8 JSON text (256 KiB). */
  paramsBytes: 256 * 1024,
  /** Deepest nesting of objects and arrays in params (`{}` is 1, `{"a": []}` is 2). */
  paramsDepth: 32,
  /** Largest `@file` the CLI reads params from: the params limit (a bigger file cannot pass it). */
  paramsFileBytes: 256 * 1024,
  /** Largest config.yaml (256 KiB). */
  configYamlBytes: 256 * 1024,
  /** Most alias nodes (`*name`) resolved in one config.yaml. */
  yamlAliases: 100,
});

const mib = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`);

/**
 * The depth of `value` (objects and arrays; scalars are 0), counted without recursion and
 * stopping as soon as it passes `stopAt`, so a hostile value costs at most its own size.
 */
export function nestingDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (v === null || typeof v !== 'object') continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > stopAt) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push({ v: child, depth: here });
  }
  return deepest;
}

/**
 * The limits `params` breaks (INPUT_LIMITS.paramsDepth, paramsBytes), each a problem at
 * path `params` naming the limit; empty when within them.
 */
export function paramsLimitProblems(params: unknown): Problem[] {
  const depth = nestingDepth(params, INPUT_LIMITS.paramsDepth);
  if (depth > INPUT_LIMITS.paramsDepth) {
    return [{ path: 'params', message: `nested more than ${INPUT_LIMITS.paramsDepth} levels deep (the params depth limit is ${INPUT_LIMITS.paramsDepth})` }];
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(params ?? {});
  } catch (err) {
    return [{ path: 'params', message: `not JSON-serialisable (${err instanceof Error ? err.message : String(err)})` }];
  }
  const bytes = new TextEncoder().encode(text ?? '').length;
  if (bytes > INPUT_LIMITS.paramsBytes) {
    return [
      { path: 'params', message: `${bytes} bytes as JSON, over the params size limit of ${INPUT_LIMITS.paramsBytes} bytes (${mib(INPUT_LIMITS.paramsBytes)})` },
    ];
  }
  return [];
}

/** Throws InvalidInputError (exit 2, HTTP 400) `params over a limit` naming the limit; returns `params` otherwise. */
export function assertParamsWithinLimits<T>(params: T): T {
  const problems = paramsLimitProblems(params);
  if (problems.length) throw new InvalidInputError('params over a limit', problems);
  return params;
}

/**
 * `record[key]` only when `record` itself holds `key` (never Object.prototype's `constructor`,
 * `toString`, `__proto__`, ...). Use it for every lookup by a name that came from outside.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

// eslint-disable-next-line no-control-regex -- control characters are what a path may not hold
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * What is wrong with a local file path given as input (an upload folder, a params file):
 * NUL bytes and control characters (a newline, a tab) never name a file anyone meant.
 */
export function localPathProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.includes('\0')) problems.push('NUL bytes are not allowed in a path');
  if (CONTROL.test(value.replaceAll('\0', ''))) problems.push('control characters (a newline, a tab, ...) are not allowed in a path');
  return problems;
}

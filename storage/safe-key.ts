/**
 * Path safety for storage keys, checked before any I/O. A key is a `/`-separated relative
 * path such as `runs/abc/model.pt`; it comes from outside (params, HTTP, plugin code), so
 * nothing in it may climb out of the storage root or mean something different on another
 * provider. Every rule that a key breaks is reported, with the key, as InvalidInputError.
 */
import path from 'node:path';
import { InvalidInputError, type Problem } from '../contracts/errors.js';

/** Longest key in UTF-8 bytes (the S3 limit). */
export const MAX_KEY_BYTES = 1024;
/** Longest segment in UTF-8 bytes (the usual file-name limit). */
export const MAX_SEGMENT_BYTES = 255;

// eslint-disable-next-line no-control-regex -- control characters are what a key may not hold
const CONTROL = /[\u0000-\u001f\u007f]/;

/** How a key is shown in messages: quoted, escaped, and cut when long. */
export function describeKey(key: string): string {
  const shown = key.length > 80 ? `${key.slice(0, 80)}...` : key;
  return `${JSON.stringify(shown)}${key.length > 80 ? ` (${Buffer.byteLength(key)} bytes)` : ''}`;
}

interface CheckOptions {
  /** A list prefix: may be empty, may end with `/`. */
  prefix?: boolean;
}

/** The rules a key breaks; empty when it is safe. */
export function keyProblems(key: unknown, options: CheckOptions = {}): string[] {
  if (typeof key !== 'string') return [`a key must be a string, got ${key === null ? 'null' : typeof key}`];
  const problems: string[] = [];
  if (key === '') {
    if (!options.prefix) problems.push('a key must not be empty');
    return problems;
  }
  if (key.includes('\0')) problems.push('NUL bytes are not allowed');
  if (CONTROL.test(key.replaceAll('\0', ''))) problems.push('control characters are not allowed');
  if (key.includes('\\')) problems.push('backslashes are not allowed (use "/" between segments)');
  if (key.startsWith('/')) problems.push('absolute paths are not allowed (a key is relative to the storage root)');
  else if (/^[A-Za-z]:/.test(key)) problems.push('drive-letter paths are not allowed (a key is relative to the storage root)');
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_KEY_BYTES) problems.push(`a key may be at most ${MAX_KEY_BYTES} bytes long (this one is ${bytes})`);

  const segments = key.split('/');
  // A prefix may end with "/" (everything inside a folder): its last, empty segment is fine.
  const checked = options.prefix && key.endsWith('/') ? segments.slice(0, -1) : segments;
  const start = key.startsWith('/') ? 1 : 0; // already reported as absolute
  let empty = false;
  let dots = false;
  let dot = false;
  let long = false;
  for (const segment of checked.slice(start)) {
    if (segment === '') empty = true;
    else if (segment === '..') dots = true;
    else if (segment === '.') dot = true;
    else if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) long = true;
  }
  if (dots) problems.push('".." segments are not allowed');
  if (dot) problems.push('"." segments are not allowed');
  if (empty) problems.push('empty segments ("//" or a trailing "/") are not allowed');
  if (long) problems.push(`each segment may be at most ${MAX_SEGMENT_BYTES} bytes long`);
  return problems;
}

function fail(key: unknown, problems: string[], what: string): never {
  const shown = typeof key === 'string' ? describeKey(key) : String(key);
  const list: Problem[] = problems.map((message) => ({ path: '', message }));
  throw new InvalidInputError(`unsafe storage ${what} ${shown}`, list);
}

/** Throws InvalidInputError naming the key and every rule it breaks; returns the key otherwise. */
export function assertSafeKey(key: unknown): string {
  const problems = keyProblems(key);
  if (problems.length) fail(key, problems, 'key');
  return key as string;
}

/** Like assertSafeKey for a list prefix: may be empty, may end with `/`. */
export function assertSafePrefix(prefix: unknown): string {
  const problems = keyProblems(prefix, { prefix: true });
  if (problems.length) fail(prefix, problems, 'prefix');
  return prefix as string;
}

/**
 * `root` joined with a safe key. Checks the key first, then (belt and braces) that the
 * result is inside `root`.
 */
export function safeJoin(root: string, key: string): string {
  assertSafeKey(key);
  const base = path.resolve(root);
  const file = path.resolve(base, ...key.split('/'));
  if (file === base || !file.startsWith(base + path.sep)) fail(key, ['the key resolves outside the storage root'], 'key');
  return file;
}

/**
 * `@file` params (issue 18): only regular files under the size limit are read (a fifo, a
 * device or a folder is refused at once, not opened), a file that is not JSON is located by
 * line and column but never quoted, and params over the limits are exit 2 naming the limit.
 * Beside cli/io.ts because only bin/ and cli/ may import cli/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../contracts/errors.js';
import { INPUT_LIMITS } from '../contracts/input-limits.js';
import { parseParamsArg } from './io.js';
import { findJsonError } from './json-error.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-params-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(arg: string): InvalidInputError {
  let caught: unknown;
  try {
    parseParamsArg(arg);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidInputError);
  return caught as InvalidInputError;
}

describe('@file params', () => {
  it('reads a regular JSON file', () => {
    const file = path.join(dir, 'ok.json');
    writeFileSync(file, '{"count": 3}');
    expect(parseParamsArg(`@${file}`)).toEqual({ count: 3 });
  });

  it('a fifo is refused without being opened (opening one blocks until a writer comes)', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const err = refusal(`@${fifo}`);
    expect(err.message).toContain('not a regular file');
    expect(err.exitCode).toBe(2);
  });

  it('/dev/zero and a folder are refused', () => {
    expect(refusal('@/dev/zero').message).toContain('/dev/zero: not a regular file');
    mkdirSync(path.join(dir, 'folder'));
    expect(refusal(`@${path.join(dir, 'folder')}`).message).toContain('not a regular file');
  });

  it('a file over the size limit is refused naming the limit, before it is read', () => {
    const file = path.join(dir, 'big.json');
    writeFileSync(file, `{"blob": "${'x'.repeat(5 * 1024 * 1024)}"}`);
    expect(refusal(`@${file}`).message).toContain(`over the params file size limit of ${INPUT_LIMITS.paramsFileBytes} bytes`);
  });

  it('a file that is not JSON is located, never quoted', () => {
    const file = path.join(dir, 'shadow');
    writeFileSync(file, 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
    const err = refusal(`@${file}`);
    expect(err.message).toContain(`${file}:1:1: unexpected character`);
    expect(err.message).not.toContain('root');
    expect(err.message).not.toContain('SECRET');
    const second = path.join(dir, 'second-line.json');
    writeFileSync(second, '{\n  "password": "hunter2",\n  oops\n}');
    const err2 = refusal(`@${second}`);
    expect(err2.message).toContain(`${second}:3:3: expected a property name`);
    expect(err2.message).not.toContain('hunter2');
  });

  it('a missing file and a NUL or newline in the name are refused naming the file', () => {
    expect(refusal(`@${path.join(dir, 'nope.json')}`).message).toContain('nope.json: no such file');
    expect(refusal('@a\nb.json').message).toContain('control characters');
  });

  it('params nested deeper than the limit are exit 2 naming the limit', () => {
    const text = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const err = refusal(text);
    expect(err.message).toContain(`params depth limit is ${INPUT_LIMITS.paramsDepth}`);
  });
});

describe('findJsonError', () => {
  it.each([
    ['{"a": 1}', undefined],
    ['[1, {"b": [true, null, "x\\n"]}, -2.5e3]', undefined],
    ['{"a": tru}', { line: 1, column: 7, reason: 'unexpected character' }],
    ['{"a": 1', { line: 1, column: 8, reason: 'unexpected end of the text' }],
    ['[1, 2,]', { line: 1, column: 7, reason: 'unexpected character' }],
    ['{"a" 1}', { line: 1, column: 6, reason: "expected ':' after a property name" }],
    ['"abc', { line: 1, column: 5, reason: 'an unterminated string' }],
    ['{} x', { line: 1, column: 4, reason: 'unexpected text after the JSON value' }],
    ['[1 2]', { line: 1, column: 4, reason: "expected ',' or ']'" }],
  ])('%j', (text, expected) => {
    expect(findJsonError(text)).toEqual(expected);
    // It agrees with JSON.parse on whether the text is JSON.
    let ok = true;
    try {
      JSON.parse(text);
    } catch {
      ok = false;
    }
    expect(ok).toBe(expected === undefined);
  });
});

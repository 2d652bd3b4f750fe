import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../contracts/errors.js';
import { assertSafeKey, assertSafePrefix, keyProblems, safeJoin } from '../../storage/safe-key.js';

function rejection(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return err as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

describe('assertSafeKey', () => {
  it.each(['a', 'a/b/c.txt', 'runs/01J/model.pt', 'dots.in.name', '..a', 'a..', '.hidden', 'ünïcödé/ファイル', 'with space', 'x'.repeat(255)])(
    'accepts %j',
    (key) => {
      expect(assertSafeKey(key)).toBe(key);
    },
  );

  it.each([
    ['..', '".." segments'],
    ['../etc/passwd', '".." segments'],
    ['a/../../b', '".." segments'],
    ['a/..', '".." segments'],
    ['./a', '"." segments'],
    ['/etc/passwd', 'absolute paths'],
    ['C:/Windows', 'drive-letter'],
    ['a\0b', 'NUL bytes'],
    ['a\\b', 'backslashes'],
    ['..\\..\\x', 'backslashes'],
    ['a//b', 'empty segments'],
    ['a/', 'empty segments'],
    ['', 'must not be empty'],
    ['a\nb', 'control characters'],
    ['a\u007fb', 'control characters'],
    ['x'.repeat(256), 'segment may be at most 255 bytes'],
    ['é'.repeat(128), 'segment may be at most 255 bytes'], // 256 bytes in UTF-8
    [Array.from({ length: 5 }, () => 'x'.repeat(250)).join('/'), 'at most 1024 bytes'],
  ])('rejects %j (%s)', (key, rule) => {
    const err = rejection(() => assertSafeKey(key));
    expect(err.message).toContain(rule);
    expect(err.message).toContain('unsafe storage key');
    expect(err.exitCode).toBe(2);
    expect(err.httpStatus).toBe(400);
  });

  it('names the key, escaped, in the message', () => {
    expect(rejection(() => assertSafeKey('../x')).message).toContain('"../x"');
    expect(rejection(() => assertSafeKey('a\0b')).message).toContain('"a\\u0000b"');
  });

  it('cuts an overlong key in the message and gives its size', () => {
    const key = 'k'.repeat(2000);
    const msg = rejection(() => assertSafeKey(key)).message;
    expect(msg).toContain('(2000 bytes)');
    expect(msg.length).toBeLessThan(600);
  });

  it('lists every rule a key breaks', () => {
    const problems = keyProblems('/../a\\b\0');
    expect(problems.join('\n')).toMatch(/absolute/);
    expect(problems.join('\n')).toMatch(/"\.\."/);
    expect(problems.join('\n')).toMatch(/backslashes/);
    expect(problems.join('\n')).toMatch(/NUL/);
  });

  it('rejects what is not a string', () => {
    expect(rejection(() => assertSafeKey(undefined)).message).toContain('must be a string');
    expect(rejection(() => assertSafeKey(42)).message).toContain('must be a string');
  });
});

describe('assertSafePrefix', () => {
  it.each(['', 'a', 'a/', 'a/b', 'a/b/', 'a/pa'])('accepts %j', (p) => {
    expect(assertSafePrefix(p)).toBe(p);
  });
  it.each(['../', '/a', 'a//', 'a/../', 'a\\', 'a\0'])('rejects %j', (p) => {
    expect(rejection(() => assertSafePrefix(p)).message).toContain('unsafe storage prefix');
  });
});

describe('safeJoin', () => {
  const root = path.resolve('/srv/storage');
  it('joins a safe key under the root', () => {
    expect(safeJoin(root, 'a/b.txt')).toBe(path.join(root, 'a', 'b.txt'));
  });
  it.each(['../outside', 'a/../../outside', '/etc/passwd', 'a\\..\\..\\x', 'a\0'])('rejects %j before touching the disk', (key) => {
    rejection(() => safeJoin(root, key));
  });
});

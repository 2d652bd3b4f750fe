/** Small helpers every command shares: settings from global flags, JSON params, output. */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import type { Command } from 'commander';
import { loadSettings, type Settings } from '../client/settings.js';
import { InvalidInputError } from '../contracts/errors.js';
import { assertParamsWithinLimits, INPUT_LIMITS, localPathProblems } from '../contracts/input-limits.js';
import { findJsonError } from './json-error.js';

export function settingsFrom(cmd: Command): Settings {
  const opts = cmd.optsWithGlobals<{ dataDir?: string }>();
  return loadSettings(opts.dataDir ? { dataDir: opts.dataDir } : {});
}

/**
 * Params come as a JSON string or `@file.json`. A parse error names the place; for a file it
 * gives file:line:column and what was wrong without quoting the file (cli/json-error.ts). Params
 * over INPUT_LIMITS (size, depth) are refused here already, exit 2 naming the limit.
 */
export function parseParamsArg(arg: string | undefined): unknown {
  if (arg === undefined || arg.trim() === '') return {};
  let text = arg;
  let source = 'params';
  const fromFile = arg.startsWith('@');
  if (fromFile) {
    source = arg.slice(1);
    text = readParamsFile(source);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (!fromFile) throw new InvalidInputError(`${source} is not valid JSON`, [{ path: '', message: (err as Error).message }]);
    const spot = findJsonError(text);
    throw new InvalidInputError(`${source} is not valid JSON`, [
      { path: '', location: spot ? `${source}:${spot.line}:${spot.column}` : source, message: spot?.reason ?? 'not JSON' },
    ]);
  }
  return assertParamsWithinLimits(value);
}

/**
 * The text of a params file: only a regular file of at most INPUT_LIMITS.paramsFileBytes (a
 * fifo, a device such as /dev/zero or a folder is refused before it is opened; opened without
 * blocking in case it changed since). Errors name the file, never its contents.
 */
function readParamsFile(file: string): string {
  const refuse = (message: string): never => {
    throw new InvalidInputError('cannot read params', [{ path: file, message }]);
  };
  const bad = localPathProblems(file);
  if (bad.length) refuse(bad.join('; '));
  const limit = INPUT_LIMITS.paramsFileBytes;
  const check = (st: Stats) => {
    if (!st.isFile()) refuse('not a regular file (a folder, fifo, socket or device); params come from a JSON file');
    if (st.size > limit) refuse(`${st.size} bytes, over the params file size limit of ${limit} bytes`);
  };
  let fd: number | undefined;
  try {
    check(statSync(file));
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    check(fstatSync(fd));
    const buf = Buffer.alloc(limit + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > limit) refuse(`over the params file size limit of ${limit} bytes`);
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    return refuse(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? 'error'})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Live bars only on a terminal and only when JSON was not asked for. */
export function useTerminal(json: boolean | undefined): boolean {
  return !json && Boolean(process.stdout.isTTY);
}

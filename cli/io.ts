/** Small helpers every command shares: settings from global flags, JSON params, output. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSettings, type Settings } from '../client/settings.js';
import { InvalidInputError } from '../contracts/errors.js';

export function settingsFrom(cmd: Command): Settings {
  const opts = cmd.optsWithGlobals<{ dataDir?: string }>();
  return loadSettings(opts.dataDir ? { dataDir: opts.dataDir } : {});
}

/** Params come as a JSON string or `@file.json`; a parse error names the place. */
export function parseParamsArg(arg: string | undefined): unknown {
  if (arg === undefined || arg.trim() === '') return {};
  let text = arg;
  let source = 'params';
  if (arg.startsWith('@')) {
    source = arg.slice(1);
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new InvalidInputError('cannot read params', [{ path: source, message: (err as Error).message }]);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${source} is not valid JSON`, [{ path: '', message: (err as Error).message }]);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Live bars only on a terminal and only when JSON was not asked for. */
export function useTerminal(json: boolean | undefined): boolean {
  return !json && Boolean(process.stdout.isTTY);
}

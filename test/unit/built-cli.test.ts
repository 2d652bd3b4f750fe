/**
 * bin/built-cli.mjs decides whether `synapse` runs the build in dist/ or the sources: the
 * build only while every source it was made from is there and no newer than the build, so
 * an edited checkout never runs stale code. Checked on a made-up checkout with set mtimes.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtCli } from '../../bin/built-cli.mjs';

describe('builtCli', () => {
  let root: string;
  const url = () => pathToFileURL(root + path.sep);
  const builtAt = Date.parse('2026-01-01T12:00:00Z');
  const write = (file: string, text: string, mtimeMs?: number) => {
    const full = path.join(root, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    if (mtimeMs !== undefined) utimesSync(full, mtimeMs / 1000, mtimeMs / 1000);
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'synapse-built-cli-'));
    write('cli/main.ts', '', builtAt - 60_000);
    write('client/runs.ts', '', builtAt - 60_000);
    write('dist/cli.mjs', '');
    write('dist/build.json', JSON.stringify({ builtAt, inputs: ['cli/main.ts', 'client/runs.ts'] }));
    delete process.env.SYNAPSE_FROM_SOURCE;
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    delete process.env.SYNAPSE_FROM_SOURCE;
  });

  it('runs the build while no source is newer', () => {
    expect(builtCli(url())).toEqual({ cli: new URL('dist/cli.mjs', url()).href, sdk: new URL('dist/sdk.mjs', url()).href });
  });

  it('runs the sources when a source changed after the build, or is gone', () => {
    utimesSync(path.join(root, 'client/runs.ts'), (builtAt + 1000) / 1000, (builtAt + 1000) / 1000);
    expect(builtCli(url())).toEqual({ stale: 'client/runs.ts changed since the build' });
    rmSync(path.join(root, 'client/runs.ts'));
    expect(builtCli(url())).toEqual({ stale: 'client/runs.ts is gone since the build' });
  });

  it('runs the sources without a build, with a build.json it does not know, or when asked to', () => {
    process.env.SYNAPSE_FROM_SOURCE = '1';
    expect(builtCli(url())).toEqual({ stale: 'SYNAPSE_FROM_SOURCE=1' });
    delete process.env.SYNAPSE_FROM_SOURCE;
    write('dist/build.json', JSON.stringify({ version: 2 }));
    expect(builtCli(url())).toEqual({ stale: 'dist/build.json is not one this version wrote' });
    rmSync(path.join(root, 'dist'), { recursive: true });
    expect(builtCli(url())).toEqual({ stale: 'no dist/build.json (run `npm run build`)' });
  });
});

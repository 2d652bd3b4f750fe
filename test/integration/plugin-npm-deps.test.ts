/**
 * A plugin's own npm dependencies (engine/plugin-deps.ts): the npm-deps fixture declares a
 * package (a local one in vendor/, so this runs offline) and ships its package-lock.json. A run
 * on a real worker (its code in a plugin host, the dependency bundled from the install) and a
 * --debug run in the CLI process (the dependency resolved by bin/sdk-alias-hooks.mjs) both use it;
 * the install lives outside the plugin folder, keyed by the lockfile, made once; dependencies
 * without a lockfile are refused naming package.json.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import { ROOT, runCli, spawnWorker, testSettings } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'npm-deps');
const depsDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-plugin-npm-'));
const previous = process.env.SYNAPSE_PLUGIN_DEPS_DIR;
process.env.SYNAPSE_PLUGIN_DEPS_DIR = depsDir;
const settings = testSettings('plugin-npm-deps');
// A real worker process and the real CLI: they import plugin code through bin/sdk-alias-hooks.mjs.
let worker: ChildProcess | undefined;
beforeAll(async () => {
  worker = await spawnWorker(settings);
});

afterAll(() => {
  worker?.kill('SIGKILL');
  if (previous === undefined) delete process.env.SYNAPSE_PLUGIN_DEPS_DIR;
  else process.env.SYNAPSE_PLUGIN_DEPS_DIR = previous;
  rmSync(depsDir, { recursive: true, force: true });
});

function installs(): string[] {
  return readdirSync(depsDir).filter((d) => !d.includes('.tmp-'));
}

/** `synapse plugin run validation <params> --json` through Temporal and the worker; its final state. */
async function runOnWorker(params: object): Promise<RunState> {
  const r = await runCli(['plugin', 'run', 'validation', JSON.stringify(params), '--plugin', FIXTURE, '--json'], settings);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { state: RunState }).state;
}

describe("a plugin's own npm dependencies", () => {
  it('are installed once, outside the plugin folder, and a worker run uses them', async () => {
    const final = await runOnWorker({ label: 'cat', width: 6 });
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toEqual({ padded: '...cat' });
    expect(installs()).toHaveLength(1);
    const install = path.join(depsDir, installs()[0]!);
    expect(existsSync(path.join(install, 'node_modules', 'pad-label', 'index.js'))).toBe(true);
    expect(existsSync(path.join(FIXTURE, 'node_modules'))).toBe(false);

    // The same lockfile again: the install is reused, not made again.
    const marker = statSync(path.join(install, '.synapse-installed')).mtimeMs;
    expect((await runOnWorker({ label: 'dog', width: 4 })).result).toEqual({ padded: '.dog' });
    expect(installs()).toHaveLength(1);
    expect(statSync(path.join(install, '.synapse-installed')).mtimeMs).toBe(marker);
  });

  it('resolve in a --debug run in the CLI process', async () => {
    const r = await runCli(['plugin', 'run', 'validation', '{"label":"ab","width":5}', '--plugin', FIXTURE, '--debug'], settings, {
      SYNAPSE_PLUGIN_DEPS_DIR: depsDir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('...ab');
  });

  it('give plugin check their types', async () => {
    const r = await runCli(['plugin', 'check', FIXTURE], settings, { SYNAPSE_PLUGIN_DEPS_DIR: depsDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 TypeScript file\(s\) type-check/);
  });

  it('without a package-lock.json are refused, naming package.json', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-npm-nolock-'));
    cpSync(FIXTURE, dir, { recursive: true });
    rmSync(path.join(dir, 'package-lock.json'));
    const r = await runCli(['plugin', 'run', 'validation', '{"label":"ab"}', '--plugin', dir, '--debug'], settings, { SYNAPSE_PLUGIN_DEPS_DIR: depsDir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/package\.json/);
    expect(r.stderr).toMatch(/package-lock\.json/);
    rmSync(dir, { recursive: true, force: true });
  });
});

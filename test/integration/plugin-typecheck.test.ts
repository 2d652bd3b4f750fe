/**
 * Writing a plugin outside the repository (issue 17 item 3): `plugin create` writes a
 * tsconfig.json that maps `@synapse/sdk` to this installation's SDK, so tsc (and so an editor)
 * resolves its types with the folder anywhere; `plugin check` type-checks the plugin and gives
 * each error as file:line:column relative to the folder (an invalid log level ran silently).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, testSettings } from '../helpers.js';

const settings = testSettings('plugin-typecheck');
const outside = mkdtempSync(path.join(os.tmpdir(), 'synapse-authoring-'));

describe('a TypeScript plugin created outside the repository', () => {
  it("resolves @synapse/sdk with its own tsconfig, and `plugin check` reports a type error's file:line", async () => {
    const dir = path.join(outside, 'my-check');
    const created = await runCli(['plugin', 'create', dir, '--category', 'data_validation', '--action', 'validation'], settings);
    expect(created.code, created.stderr).toBe(0);
    expect(path.relative(ROOT, dir).startsWith('..')).toBe(true);

    // What an editor does: the folder's own tsconfig.json, nothing from the repository's.
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const own = await promisify(execFile)(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir }).then(
      () => 0,
      (err: { stdout?: string }) => err.stdout ?? 'failed',
    );
    expect(own).toBe(0);

    const ok = await runCli(['plugin', 'check', dir], settings);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('1 TypeScript file(s) type-check');

    // An invalid log level: it loads and runs, only the types say it is wrong.
    const file = path.join(dir, 'plugin', 'validation.ts');
    const source = readFileSync(file, 'utf8');
    const lines = source.split('\n');
    const at = lines.findIndex((l) => /async start\(/.test(l));
    expect(at).toBeGreaterThan(0);
    const ctxName = /async start\((\w+)/.exec(lines[at]!)![1]!.replace(/^_/, '');
    lines[at] = lines[at]!.replace(/async start\(_?(\w+)/, 'async start($1');
    lines.splice(at + 1, 0, `    ${ctxName}.logMessage('checking', 'LOUD');`);
    writeFileSync(file, lines.join('\n'));
    const bad = await runCli(['plugin', 'check', dir], settings);
    expect(bad.code, bad.stdout + bad.stderr).toBe(2);
    expect(bad.stderr).toContain('does not type-check');
    expect(bad.stderr).toMatch(new RegExp(`plugin/validation\\.ts:${at + 2}:\\d+: TS2345: Argument of type '"LOUD"'`));
    expect(bad.stderr).not.toContain(outside);

    const skipped = await runCli(['plugin', 'check', dir, '--no-types'], settings);
    expect(skipped.code, skipped.stderr).toBe(0);
  }, 240_000);
});

/**
 * `plugin check` as a new user meets it (issue 17 item 4): a missing folder is exit 3 naming
 * it (was exit 1 with a raw ENOENT of config.yaml), a file or a folder without config.yaml is
 * exit 2 naming what is missing, and plugin code that does not load (a throw at import, a syntax
 * error, a missing module) is exit 2 with its file:line relative to the plugin folder.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, testSettings } from '../helpers.js';

const settings = testSettings('plugin-check-errors');
const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-check-errors-'));

/** A copy of the built-in noop plugin with its action's module rewritten by `edit`. */
function brokenPlugin(name: string, edit: (source: string) => string): string {
  const dir = path.join(work, name);
  cpSync(path.join(ROOT, 'plugins', 'noop'), dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
  const file = path.join(dir, 'plugin', 'noop.ts');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return dir;
}

describe('plugin check', () => {
  it('names a missing folder (exit 3), a file and a folder without config.yaml (exit 2)', async () => {
    const missing = await runCli(['plugin', 'check', path.join(work, 'nope')], settings);
    expect(missing.code, missing.stderr).toBe(3);
    expect(missing.stderr).toContain(`plugin folder ${path.join(work, 'nope')} does not exist`);
    expect(missing.stderr).not.toContain('ENOENT');

    const file = path.join(work, 'a-file.txt');
    writeFileSync(file, 'x');
    const notDir = await runCli(['plugin', 'check', file], settings);
    expect(notDir.code, notDir.stderr).toBe(2);
    expect(notDir.stderr).toContain('a file: give the folder that holds config.yaml');

    const empty = path.join(work, 'empty');
    mkdirSync(empty);
    const noConfig = await runCli(['plugin', 'check', empty], settings);
    expect(noConfig.code, noConfig.stderr).toBe(2);
    expect(noConfig.stderr).toContain(`${path.join(empty, 'config.yaml')}: missing`);
  }, 60_000);

  it('gives plugin code that does not load as exit 2 with file:line in the plugin folder', async () => {
    const throws = brokenPlugin('throws', (s) => s.replace(/^import/m, 'const x: any = undefined;\nx.boom;\nimport'));
    const r1 = await runCli(['plugin', 'check', throws], settings);
    expect(r1.code, r1.stderr).toBe(2);
    expect(r1.stderr).toContain(
      "plugin/noop.ts:2:3 actions.validation.entrypoint: TypeError while loading: Cannot read properties of undefined (reading 'boom')",
    );

    const syntax = brokenPlugin('syntax', (s) => `${s}\nconst = 5;\n`);
    const r2 = await runCli(['plugin', 'check', syntax], settings);
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toMatch(/plugin\/noop\.ts:9:\d+ actions\.validation\.entrypoint: Expected identifier/);
    expect(r2.stderr).not.toContain(work);

    const missingModule = brokenPlugin('missing-module', (s) => `import { nothing } from './missing.js';\n${s.replace('ok: true', 'ok: nothing')}`);
    const r3 = await runCli(['plugin', 'check', missingModule], settings);
    expect(r3.code, r3.stderr).toBe(2);
    expect(r3.stderr).toContain("plugin/noop.ts actions.validation.entrypoint: cannot find module 'plugin/missing.js'");
  }, 120_000);
});

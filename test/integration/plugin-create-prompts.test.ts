/**
 * `synapse plugin create` asks on a terminal for what its flags do not give, never asks when
 * every flag is given, and without a terminal names the missing flag (exit 2, nothing written).
 * A scaffold with several actions passes `plugin check` and each action runs. The terminal is a
 * real pseudo-terminal (util-linux `script`); the test answers a prompt once it is shown.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePluginConfig } from '../../sdk/config.js';
import { ROOT, SYNAPSE_BIN, runCli, testSettings } from '../helpers.js';

const settings = testSettings('plugin-create-prompts');
const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-create-prompts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs the CLI on a pseudo-terminal; `answer(screen)` returns keys to type once the screen shows a prompt. */
function onTty(args: string[], answer: (screen: string) => string | undefined): Promise<{ code: number; screen: string }> {
  return new Promise((resolve) => {
    const cmd = [process.execPath, SYNAPSE_BIN, ...args].map(quote).join(' ');
    const child = spawn('script', ['-qec', `stty cols 100 rows 40; ${cmd}`, '/dev/null'], { cwd: ROOT, env: process.env });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const keys = answer(screen);
      if (keys !== undefined) child.stdin.write(keys);
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, screen }));
  });
}

describe('synapse plugin create: prompts and several actions', () => {
  it('without a terminal, names the missing folder and flags and writes nothing', async () => {
    const noDir = await runCli(['plugin', 'create'], settings);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('dir: name the new plugin folder');
    const dir = path.join(work, 'no-category');
    const noCategory = await runCli(['plugin', 'create', dir, '--code', 'x'], settings);
    expect(noCategory.code).toBe(2);
    expect(noCategory.stderr).toContain('--category: must be one of neural_net');
    expect(existsSync(dir)).toBe(false);
  });

  it('scaffolds several actions that pass `plugin check` and run', async () => {
    const dir = path.join(work, 'two-actions');
    const made = await runCli(
      ['plugin', 'create', dir, '--category', 'pre_annotation', '--action', 'pre_annotation,to_task', '--description', 'Two steps'],
      settings,
    );
    expect(made.stderr).toBe('');
    expect(made.stdout).toContain('actions pre_annotation, to_task');
    const config = parsePluginConfig(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
    expect(config.description).toBe('Two steps');
    expect(Object.keys(config.actions)).toEqual(['pre_annotation', 'to_task']);
    const check = await runCli(['plugin', 'check', dir], settings);
    expect(check.stdout).toContain('two-actions@0.1.0: config.yaml and 2 action(s) OK');
    for (const [action, count] of [
      ['pre_annotation', 3],
      ['to_task', 2],
    ] as const) {
      const run = await runCli(['plugin', 'run', action, JSON.stringify({ count }), '--plugin', dir, '--debug', '--json'], settings);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toMatchObject({ kind: 'result', result: { processed: count } });
    }
    const bad = await runCli(['plugin', 'create', path.join(work, 'bad'), '--category', 'export', '--action', 'export,train'], settings);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('an export plugin offers export; got "train"');
  });

  it('on a terminal with every flag given, asks nothing', async () => {
    const dir = path.join(work, 'all-flags');
    const res = await onTty(
      ['plugin', 'create', dir, '--category', 'data_validation', '--code', 'allf', '--name', 'All', '--description', 'd', '--action', 'validation'],
      () => undefined,
    );
    expect(res.code).toBe(0);
    expect(res.screen).not.toContain('synapse plugin create');
    expect(res.screen).toContain('created allf (data_validation, action validation');
  });

  it('on a terminal, asks for the missing description (Enter takes the default)', async () => {
    const dir = path.join(work, 'asked');
    let answered = false;
    const res = await onTty(
      ['plugin', 'create', dir, '--category', 'data_validation', '--code', 'asked', '--name', 'Asked', '--action', 'validation'],
      (screen) => {
        if (answered || !screen.includes('Description (one line)')) return undefined;
        answered = true;
        return '\r';
      },
    );
    expect(res.code).toBe(0);
    expect(answered).toBe(true);
    expect(parsePluginConfig(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).description).toBe('Asked: a data_validation plugin');
  });
});

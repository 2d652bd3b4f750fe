/**
 * Messages and exit codes a new user meets (issue 17 item 4), against the real dev server and
 * a worker: `--debug` on a category action says what it runs (exit 2, was exit 1 with a
 * TypeError), `run resume` of a completed run says it completed and what resumes (was "cancel
 * it first"), and `run list` shows a newer ended run above an older one still running (open
 * executions came first whatever their age). And the README's "Writing a plugin" works as
 * written, its files taken from the README itself into a folder outside this repository:
 * without its package.json, `plugin run` (with and without --debug) says to add one (exit 2,
 * the words of `plugin check`) instead of Node's "Cannot require() ES Module ... in a cycle".
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const settings = testSettings('new-user-errors');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-new-user-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The fenced blocks of the README's "Writing a plugin" section, by their language. */
function readmePluginBlocks(): { lang: string; text: string }[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a plugin'), readme.indexOf('\n## ', readme.indexOf('## Writing a plugin') + 1));
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

const COMMONJS_ADVICE = 'actions.validation.entrypoint: the module is read as CommonJS: add a package.json with {"type": "module"} to the plugin folder';

describe('a new user', () => {
  it("writes the README's plugin: without its package.json, plugin run says to add one; with it, the plugin runs", async () => {
    const blocks = readmePluginBlocks();
    const tree = blocks.find((b) => b.lang === '' && b.text.startsWith('my-plugin/'))!.text;
    expect(tree).toContain('package.json');
    const config = blocks.find((b) => b.lang === 'yaml' && b.text.startsWith('# config.yaml'))!.text;
    const code = blocks.find((b) => b.lang === 'ts' && b.text.startsWith('// plugin/validate.ts'))!.text;
    const pkg = blocks.find((b) => b.lang === 'json')!.text;
    expect(JSON.parse(pkg)).toMatchObject({ type: 'module' });

    const dir = path.join(work, 'readme-p');
    mkdirSync(path.join(dir, 'plugin'), { recursive: true });
    writeFileSync(path.join(dir, 'config.yaml'), config);
    writeFileSync(path.join(dir, 'plugin', 'validate.ts'), code);
    for (const debug of [['--debug'], []]) {
      const r = await runCli(['plugin', 'run', 'validation', '{"count": 5}', '--plugin', dir, ...debug], settings);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(COMMONJS_ADVICE);
      expect(r.stderr).not.toContain('cycle');
    }
    const check = await runCli(['plugin', 'check', dir, '--no-types'], settings);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(COMMONJS_ADVICE);

    writeFileSync(path.join(dir, 'package.json'), pkg);
    const ran = await runCli(['plugin', 'run', 'validation', '{"count": 5}', '--plugin', dir, '--debug', '--json'], settings);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout.trim().split('\n').at(-1)!)).toMatchObject({ kind: 'result', result: { checked: 5 } });
  }, 120_000);

  it('gets exit 2 and what --debug runs for an export, a train and an upload action', async () => {
    for (const [plugin, action, shape] of [
      ['export-coco', 'export', 'export'],
      ['train-ts-example', 'train', 'train'],
      ['upload-files', 'upload', 'upload'],
    ] as const) {
      const r = await runCli(['plugin', 'run', action, '{}', '--plugin', plugin, '--debug'], settings);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${plugin} ${action} runs as the ${shape} workflow, whose steps run on a worker: drop --debug`);
    }
  }, 120_000);

  it('is told that a completed run has nothing to resume, and what resumes', async () => {
    const { runId } = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 3, delayMs: 0 } });
    await runs.temporal.workflow.getHandle(runId).result();
    const r = await runCli(['run', 'resume', runId], settings);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`run ${runId} completed: there is nothing left to resume; only a cancelled, failed, terminated or timed-out train`);
    expect(r.stderr).not.toContain('cancel it first');
  }, 120_000);

  it('sees `run list` newest first, a newer completed run above an older running one', async () => {
    const older = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 400, delayMs: 100 } });
    try {
      await waitFor(async () => ((await runs.state(older.runId)).status === 'running' ? true : undefined));
      const newer = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 2, delayMs: 0 } });
      await runs.temporal.workflow.getHandle(newer.runId).result();
      const listed = await waitFor(async () => {
        const ids = (await runs.list({ plugin: 'demo-validation' })).map((r) => r.runId);
        return ids.includes(newer.runId) && ids.includes(older.runId) ? ids : undefined;
      });
      expect(listed.indexOf(newer.runId)).toBeLessThan(listed.indexOf(older.runId));
      const cli = await runCli(['run', 'list'], settings);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout.indexOf(newer.runId)).toBeLessThan(cli.stdout.indexOf(older.runId));
    } finally {
      await runs.temporal.workflow
        .getHandle(older.runId)
        .terminate('test over')
        .catch(() => {});
    }
  }, 120_000);
});

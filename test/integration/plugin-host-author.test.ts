/**
 * Plugin authors in plugin hosts (issue 18 follow-up): a TypeScript plugin reads files of its
 * own folder the usual way, `new URL('../README.md', import.meta.url)`, at module load time and
 * in start(), as it does under --debug (the host's bundle gives each plugin module its own
 * import.meta: activities/plugin-host-bundle.ts). What the permission model refuses fails the
 * step on its first attempt, not retried, with a message naming the permission, the path and
 * the rule (activities/plugin-host-errors.ts), not Node's bare "Access to this API has been
 * restricted".
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { describeError, errorFromHost, refusalMessage } from '../../activities/plugin-host-errors.js';
import { NonRetriableError } from '../../contracts/errors.js';
import { settle } from '../hostile-worker.js';
import { highestActivityAttempt, ROOT, testSettings, useWorkerAndRuns } from '../helpers.js';

const AUTHOR = path.join(ROOT, 'test', 'fixtures', 'plugin-host-author');
const settings = testSettings('plugin-host-author');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

async function run(action: string, params: Record<string, unknown> = {}): Promise<RunState> {
  const { runId } = await runs.start({ plugin: AUTHOR, action, params });
  return settle(runs, runId);
}

const READ_RULE = 'plugin code may read only its plugin folder (and a trainer its dataset); use ctx / this.readFile / storage calls';

describe('plugin code in a host reads its own folder through import.meta', () => {
  it("at module load time and in start(): import.meta.url, dirname, filename and resolve are the module's own", async () => {
    const state = await run('read_own');
    expect(state.error ?? null).toBeNull();
    expect(state.status).toBe('completed');
    const module = path.join(AUTHOR, 'plugin', 'author.ts');
    expect(state.result).toEqual({
      labels: ['cat', 'dog'],
      readmeFirstLine: '# plugin-host-author',
      sameViaDirname: true,
      url: pathToFileURL(module).href,
      filename: module,
      resolved: pathToFileURL(module).href,
      spelled: 'import.meta.url',
    });
  });

  it('a bug in such a module is reported at its own file and line', async () => {
    const state = await run('bug_after_meta');
    expect(state.status).toBe('failed');
    expect(state.error).toMatch(/TypeError in plugin code at plugin\/author\.ts:36:\d+: /);
  });
});

describe('what the host refuses fails at once, saying what and why', () => {
  it("reading the worker's data dir fails on attempt 1, not retried, naming the path and the rule", async () => {
    const file = path.join(settings.dataDir, 'synapse.db');
    const state = await run('read_path', { file });
    expect(state.status).toBe('failed');
    expect(state.error).toContain(`the plugin host refused FileSystemRead of ${file}: ${READ_RULE}`);
    expect(state.error).not.toContain('attempt 2');
    expect(await highestActivityAttempt(runs, state.runId)).toBe(1);
  });

  it("a plugin's own error wrapping the refusal keeps its message in front", async () => {
    const state = await run('read_wrapped', { file: '/etc/hostname' });
    expect(state.status).toBe('failed');
    expect(state.error).toContain(`could not read the settings: the plugin host refused FileSystemRead of /etc/hostname: ${READ_RULE}`);
    expect(await highestActivityAttempt(runs, state.runId)).toBe(1);
  });

  it('a module refused while it loads names its file and line (a ConfigError), not retried', async () => {
    const state = await run('load_refused');
    expect(state.status).toBe('failed');
    expect(state.error).toMatch(/plugin\/refused_at_load\.ts:5:\d+ actions\.load_refused\.entrypoint: /);
    expect(state.error).toContain(`the plugin host refused FileSystemRead of /etc/passwd: ${READ_RULE}`);
    expect(await highestActivityAttempt(runs, state.runId)).toBe(1);
  });

  it('describeError: a refusal crosses the boundary as a NonRetriableError (an exporter item gets the same message)', () => {
    const refused = Object.assign(new Error('Access to this API has been restricted'), {
      code: 'ERR_ACCESS_DENIED',
      permission: 'FileSystemWrite',
      resource: '/data/out.json',
    });
    const crossed = errorFromHost(describeError(refused));
    expect(crossed).toBeInstanceOf(NonRetriableError);
    expect(crossed.message).toBe(
      'the plugin host refused FileSystemWrite of /data/out.json: plugin code may not write files; write through ctx / the output the step gives / storage calls (not retried)',
    );
    expect(refusalMessage(new Error('plain'))).toBeUndefined();
    expect(describeError(new Error('plain')).name).toBe('Error');
  });
});

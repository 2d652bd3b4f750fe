/**
 * Plugin hosts contain hostile plugin code (issue 18 item 1). Each action of
 * test/fixtures/hostile-plugin runs beside a normal run (demo-validation) on one in-process
 * worker against the dev server: the normal run completes on its first attempt (its heartbeats
 * flowed: the worker was never stopped, frozen or polluted), the hostile run fails with the
 * limit or crash named, and the hostile code saw none of the worker's secrets or files.
 *
 * The host limits are small here (3 s of CPU and 15 s of wall-clock time per step, 600 MiB RSS,
 * 256 MiB heap, a crash not retried from attempt 2) so that each mode trips them quickly.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { settle, useHostileWorker } from '../hostile-worker.js';
import { highestActivityAttempt, ROOT, testSettings, waitFor } from '../helpers.js';

const HOSTILE = path.join(ROOT, 'test', 'fixtures', 'hostile-plugin');
const settings = testSettings('plugin-host');
let runs: RunsClient;

/** The worker's secrets: in its environment (and so, before plugin hosts, in every plugin's). */
const SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIAWORKERKEYNOTFORPLUGINS',
  AWS_SECRET_ACCESS_KEY: 'worker-secret-access-key-not-for-plugins',
  SYNAPSE_GATEWAY_TOKEN: 'syn_worker_token_not_for_plugins',
  MY_SERVICE_TOKEN: 'undeclared-token-not-for-plugins',
  HOSTILE_ALLOWED: 'declared-in-config-yaml',
};

useHostileWorker(
  settings,
  {
    secrets: SECRETS,
    limits: { cpuSecondsPerCall: 3, wallSecondsPerCall: 15, rssMb: 600, heapMb: 256, cancelGraceMs: 1000, maxCrashAttempts: 2 },
  },
  (r) => (runs = r),
);

/** Runs a hostile action beside a normal one; the normal run must finish untouched. */
async function beside(action: string, params: Record<string, unknown> = {}): Promise<RunState> {
  const normal = await runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 60, delayMs: 50 } });
  const hostile = await runs.start({ plugin: HOSTILE, action, params });
  const [n, h] = await Promise.all([settle(runs, normal.runId), settle(runs, hostile.runId)]);
  expect(n.status).toBe('completed');
  expect(n.attempt).toBe(1);
  expect(n.result).toMatchObject({ checked: 60 });
  return h;
}

/** The pid of the plugin host that ran the run's (last) step, from its `plugin_host` event. */
async function hostPid(runId: string): Promise<number> {
  return waitFor(async () => {
    const events = await runs.store.readEvents(runId);
    const found = events.filter((e) => e.data.kind === 'event' && e.data.event === 'plugin_host').at(-1);
    return found?.data.kind === 'event' ? (found.data.data.pid as number) : undefined;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('hostile plugin code runs in a plugin host, beside a normal run', () => {
  it('process.exit ends only its host: the step fails naming the exit, and is not retried past attempt 2', async () => {
    const h = await beside('exit_process');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('exited with code 3');
    expect(h.error).toContain('not retried');
    expect(await highestActivityAttempt(runs, h.runId)).toBe(2);
    // The run's state names the attempt that failed for good, not the last one its steps reported.
    expect(h.attempt).toBe(2);
  });

  it('an exception thrown from a timer fails the step with the error, the worker goes on', async () => {
    const h = await beside('throw_from_timer');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('threw outside any await');
    expect(h.error).toContain('boom from a timer');
  });

  it('a busy loop is killed at its CPU-time limit while the run beside it keeps heartbeating', async () => {
    const h = await beside('busy_loop');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('CPU-time limit of 3 s');
  });

  it('a step that hangs (awaits forever, ignoring ctx.signal) is killed at its wall-clock limit', async () => {
    const h = await beside('hang');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('wall-clock limit of 15 s');
  });

  it('2 GiB allocated and touched is killed at the RSS limit', async () => {
    const h = await beside('allocate');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('over its limit of 600 MiB (RSS)');
  });

  it('a heap leak ends at the heap limit (--max-old-space-size)', async () => {
    const h = await beside('heap_leak');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('heap limit of 256 MiB');
  });

  it('prototype pollution stays in its host: later runs of every plugin, the same one too, see a clean prototype', async () => {
    const h = await beside('pollute_prototype');
    expect(h.status).toBe('completed');
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    const after = await runs.start({ plugin: HOSTILE, action: 'whoami', params: {} });
    const state = await settle(runs, after.runId);
    expect(state.status).toBe('completed');
    expect(state.result).toMatchObject({ polluted: null });
    expect((state.result as { pid: number }).pid).not.toBe(process.pid);
  });

  it("the host's environment holds only the basics and the declared envs: no keys, tokens or database URL", async () => {
    const h = await beside('snoop_env');
    expect(h.status).toBe('completed');
    const seen = h.result as { processEnv: Record<string, string>; ctxEnvs: Record<string, string> };
    const text = JSON.stringify(seen);
    for (const [name, value] of Object.entries(SECRETS)) {
      if (name === 'HOSTILE_ALLOWED') continue;
      expect(text).not.toContain(name);
      expect(text).not.toContain(value);
    }
    expect(Object.keys(seen.processEnv).filter((k) => /DATABASE|AWS|TOKEN|SECRET|TEMPORAL|SYNAPSE|^PG/.test(k))).toEqual([]);
    expect(seen.ctxEnvs).toEqual({ HOSTILE_ALLOWED: 'declared-in-config-yaml' });
    expect(seen.processEnv.HOSTILE_ALLOWED).toBe('declared-in-config-yaml');
  });

  it("reading the worker's database or storage keys, directly or through a child process, is refused; so is writing", async () => {
    const keys = path.join(settings.dataDir, 's3', 'secrets.json');
    mkdirSync(path.dirname(keys), { recursive: true });
    writeFileSync(keys, JSON.stringify({ secretAccessKey: 'storage-secret-not-for-plugins' }));
    const files = [path.join(settings.dataDir, 'synapse.db'), keys, '/etc/passwd', path.join(ROOT, 'package.json')];
    const h = await beside('read_files', { files });
    expect(h.status).toBe('completed');
    const outcome = h.result as Record<string, string>;
    expect(Object.keys(outcome)).toHaveLength(files.length * 2 + 1);
    for (const [what, result] of Object.entries(outcome)) expect(`${what}: ${result}`).toBe(`${what}: refused: ERR_ACCESS_DENIED`);
  });
});

describe('plugin hosts: reuse, cancellation, edited code', () => {
  it('a warm host serves the next step of its plugin; it is not the worker', async () => {
    const pids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { runId } = await runs.start({ plugin: HOSTILE, action: 'whoami', params: {} });
      const state = await settle(runs, runId);
      expect(state.status).toBe('completed');
      pids.push((state.result as { pid: number }).pid);
    }
    expect(pids[0]).not.toBe(process.pid);
    expect(pids[1]).toBe(pids[0]);
  });

  it("cancelling a run whose code ignores ctx.signal kills its host's work", async () => {
    const { runId } = await runs.start({ plugin: HOSTILE, action: 'ignore_cancel', params: {} });
    const pid = await hostPid(runId);
    await waitFor(async () => ((await runs.state(runId)).progress.default ? true : undefined));
    expect(alive(pid)).toBe(true);
    await runs.cancel(runId);
    const state = await settle(runs, runId);
    expect(state.status).toBe('cancelled');
    await waitFor(() => (alive(pid) ? undefined : true), 10_000, `host ${pid} to be gone`);
  });

  it('edited plugin code in a folder runs in a new host (the folder hash is in the host key)', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'synapse-hostile-copy-')), 'hostile-plugin');
    cpSync(HOSTILE, dir, { recursive: true });
    const first = await settle(runs, (await runs.start({ plugin: dir, action: 'whoami', params: {} })).runId);
    expect(first.result).not.toHaveProperty('edited');
    const file = path.join(dir, 'plugin', 'hostile.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace('return { pid: process.pid,', "return { edited: 'yes', pid: process.pid,"));
    const second = await settle(runs, (await runs.start({ plugin: dir, action: 'whoami', params: {} })).runId);
    expect(second.status).toBe('completed');
    expect(second.result).toMatchObject({ edited: 'yes' });
    expect((second.result as { pid: number }).pid).not.toBe((first.result as { pid: number }).pid);
  });
});

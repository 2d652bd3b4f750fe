/**
 * Task-page hooks run in plugin hosts (issue 18 item 1): a hostile task-page plugin
 * (test/fixtures/hostile-task-pages) beside a normal validate-annotations run on one in-process
 * worker. A processTask that calls process.exit fails its page with the exit named (not the
 * task: the task is not recorded), not retried from attempt 2, and the validation beside it
 * finishes on its first attempt; a processTask that snoops sees no worker secret and no file
 * outside its plugin folder, its throws fail its own tasks only, and ctx.platform (answered by
 * the worker), prepare and finish (with the run's results read back from the worker) work.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { settle, useHostileWorker } from '../hostile-worker.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { listItemResults, listTasks } from '../../platform/repositories/index.js';
import { taskQueueFor } from '../../client/settings.js';
import { WORKFLOW_TYPES, type RunActionInput } from '../../contracts/run-input.js';
import { highestActivityAttempt, ROOT, testSettings } from '../helpers.js';

const HOSTILE = path.join(ROOT, 'test', 'fixtures', 'hostile-task-pages');
const settings = testSettings('host-pages');
let platform: PlatformDb;
let runs: RunsClient;
let data: GenerateResult;

const SECRETS: Record<string, string> = {
  AWS_SECRET_ACCESS_KEY: 'worker-secret-access-key-not-for-task-pages',
  SYNAPSE_GATEWAY_TOKEN: 'syn_worker_token_not_for_task_pages',
  HOSTILE_ALLOWED: 'declared-in-config-yaml',
};

useHostileWorker(
  settings,
  {
    secrets: SECRETS,
    limits: { maxCrashAttempts: 2 },
    before: async () => {
      platform = await openDatabase({ dataDir: settings.dataDir });
      data = await generateSampleData(platform, { count: 8, seed: 5, projectName: 'hostile-pages', dataDir: settings.dataDir });
    },
  },
  (r) => (runs = r),
);

afterAll(async () => {
  await platform?.close();
});

/** Runs a hostile action beside validate-annotations over the same project; the validation must finish untouched. */
async function beside(action: string, params: Record<string, unknown> = {}): Promise<RunState> {
  const normal = await runs.start({ plugin: 'validate-annotations', action: 'validation', params: { project: data.project.id, report_path: 'beside' } });
  const hostile = await runs.start({ plugin: HOSTILE, action, params: { project: data.project.id, ...params } });
  const [n, h] = await Promise.all([settle(runs, normal.runId), settle(runs, hostile.runId)]);
  expect(n.status, n.error).toBe('completed');
  expect(n.attempt).toBe(1);
  expect(n.result).toMatchObject({ total: 8, success: 8, failed: 0 });
  return h;
}

describe('task-page hooks run in a plugin host, beside a normal validation', () => {
  it('process.exit in processTask fails the page naming the exit (no task recorded as failed), not retried past attempt 2', async () => {
    const h = await beside('exit_in_task');
    expect(h.status).toBe('failed');
    expect(h.error).toContain('exited with code 3');
    expect(h.error).toContain('not retried');
    expect(await highestActivityAttempt(runs, h.runId)).toBe(2);
    // A host crash is the page's failure, not the task's: nothing is on record for the run.
    expect(await listItemResults(platform.db, h.runId)).toEqual([]);
  });

  it('a snooping processTask sees no worker secret or file, its throws fail its own tasks only, ctx.platform and finish work', async () => {
    const dbFile = path.join(settings.dataDir, 'synapse.db');
    const own = path.join(HOSTILE, 'config.yaml');
    const h = await beside('snoop_in_task', { files: [dbFile, path.join(ROOT, 'package.json'), own] });
    expect(h.status, h.error).toBe('completed');
    const tasks = await listTasks(platform.db, { projectId: data.project.id });
    const even = tasks.filter((t) => t.id % 2 === 0).length;
    expect(h.result).toMatchObject({ total: 8, success: 8 - even, failed: even, seen: 8, again: 8 });
    const hostPid = (h.result as { finishPid: number }).finishPid;
    expect(hostPid).not.toBe(process.pid);

    const results = await listItemResults(platform.db, h.runId);
    expect(results).toHaveLength(8);
    for (const r of results) {
      const id = Number(r.item.replace('task:', ''));
      if (id % 2 === 0) {
        expect(r.status).toBe('failed');
        expect(r.data.error).toBe(`task ${id} refused on purpose`);
        continue;
      }
      expect(r.status, JSON.stringify(r.data)).toBe('success');
      const seen = r.data as {
        pid: number;
        processEnv: Record<string, string>;
        ctxEnvs: Record<string, string>;
        files: Record<string, string>;
        project: string;
      };
      expect(seen.pid).not.toBe(process.pid);
      const text = JSON.stringify(seen);
      for (const [name, value] of Object.entries(SECRETS)) {
        if (name === 'HOSTILE_ALLOWED') continue;
        expect(text).not.toContain(name);
        expect(text).not.toContain(value);
      }
      expect(Object.keys(seen.processEnv).filter((k) => /DATABASE|AWS|TOKEN|SECRET|TEMPORAL|SYNAPSE|^PG/.test(k))).toEqual([]);
      expect(seen.ctxEnvs).toEqual({ HOSTILE_ALLOWED: 'declared-in-config-yaml' });
      expect(seen.files[dbFile]).toBe('refused: ERR_ACCESS_DENIED');
      expect(seen.files[path.join(ROOT, 'package.json')]).toBe('refused: ERR_ACCESS_DENIED');
      expect(seen.files[own]).toMatch(/^READ \d+ bytes$/);
      // ctx.platform calls crossed to the worker and came back.
      expect(seen.project).toBe(data.project.name);
    }
  });
});

describe('a hosted action that is not a task-page class', () => {
  it('started as a task-page run is refused by its kind (not by a params problem), not retried', async () => {
    // The client would pick the simple shape for it; the workflow is started directly, as a stale client might.
    const input: RunActionInput = {
      plugin: { code: 'hostile-plugin', version: '1.0.0', dir: path.join(ROOT, 'test', 'fixtures', 'hostile-plugin') },
      action: 'whoami',
      category: 'data_validation',
      method: 'job',
      params: {},
      progressCategories: {},
      heartbeatTimeoutSeconds: 30,
      startToCloseSeconds: 600,
    };
    const handle = await runs.temporal.workflow.start(WORKFLOW_TYPES.taskPages, {
      workflowId: `not-task-pages-${Date.now()}`,
      taskQueue: taskQueueFor(settings, 'job'),
      args: [input],
    });
    const error = await handle.result().then(
      () => 'completed',
      (err: unknown) => {
        const messages: string[] = [];
        for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) messages.push(e.message);
        return messages.join(' <- ');
      },
    );
    expect(error).toContain('WhoAmI is not a task-page action');
    expect(error).not.toContain('project');
    expect(await highestActivityAttempt(runs, handle.workflowId)).toBe(1);
  });
});

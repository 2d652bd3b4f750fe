/**
 * TypeScript trainers run in plugin hosts (issue 18): a trainer's hooks never run in the worker.
 * Each hostile trainer of test/fixtures/train-host runs beside plugins/train-ts-example on one
 * in-process worker against the dev server; the normal run trains to the end with every epoch
 * once, on its first attempt (the worker was never stopped), while
 *
 * - the snooping trainer sees none of the worker's secrets, may read its own dataset's cache
 *   folder but not the worker's data dir, another dataset's cache folder or the repository,
 *   and runs in one warm host (not the worker's pid) that prepared its dataset once;
 * - the trainer whose trainEpoch calls process.exit fails naming the exit, not retried past
 *   attempt 2 (SYNAPSE_PLUGIN_MAX_CRASH_ATTEMPTS set low here).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { settle, useHostileWorker } from '../hostile-worker.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { highestActivityAttempt, ROOT, testSettings } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'train-host');
const settings = testSettings('train-host');
let runs: RunsClient;
let data: GenerateResult;

/** The worker's secrets, in its environment: no trainer may see them. */
const SECRETS: Record<string, string> = {
  AWS_SECRET_ACCESS_KEY: 'train-host-secret-access-key-not-for-plugins',
  SYNAPSE_GATEWAY_TOKEN: 'syn_train_host_token_not_for_plugins',
  TRAIN_HOST_SERVICE_TOKEN: 'undeclared-service-token-not-for-plugins',
};

useHostileWorker(
  settings,
  {
    secrets: SECRETS,
    limits: { maxCrashAttempts: 2 },
    before: async () => {
      const platform = await openDatabase({ dataDir: settings.dataDir });
      try {
        data = await generateSampleData(platform, { count: 60, seed: 5, projectName: 'train-host', dataDir: settings.dataDir });
      } finally {
        await platform.close();
      }
    },
  },
  (r) => (runs = r),
);

async function events(runId: string, name: string): Promise<Record<string, unknown>[]> {
  return (await runs.store.readEvents(runId)).flatMap((e) => (e.data.kind === 'event' && e.data.event === name ? [e.data.data] : []));
}

/** Starts `hostile` beside a train-ts-example run; the normal run must train every epoch once, first attempt. */
async function besideNormal(hostile: { action: string; hyperparameters?: Record<string, unknown> }, name: string): Promise<RunState> {
  const dataset = data.groundTruth.versionId;
  const normal = await runs.start({ plugin: 'train-ts-example', action: 'train', params: { name, dataset, hyperparameters: { epochs: 3, seed: 2 } } });
  const other = await runs.start({
    plugin: FIXTURE,
    action: hostile.action,
    params: { name: `${name}-hostile`, dataset, hyperparameters: { epochs: 2, seed: 1, ...hostile.hyperparameters } },
  });
  const [n, h] = await Promise.all([settle(runs, normal.runId), settle(runs, other.runId)]);
  expect(n.status, n.error).toBe('completed');
  expect(n.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3]);
  expect((await events(normal.runId, 'epoch_end')).map((e) => e.epoch)).toEqual([1, 2, 3]);
  expect(await highestActivityAttempt(runs, normal.runId)).toBe(1);
  // The host coalesces a trainer's per-batch progress, and sends the last one before the epoch's result.
  const steps = n.progress.epoch;
  expect(steps?.total).toBeGreaterThan(0);
  expect(steps?.current).toBe(steps?.total);
  return h;
}

describe('TypeScript trainers run in plugin hosts, beside a normal training', () => {
  let snooped: { state: RunState; snoops: Record<string, unknown>[]; hosts: number[] };

  it("a snooping trainer sees no secrets and may read only its own dataset's folder", async () => {
    const keys = path.join(settings.dataDir, 's3', 'secrets.json');
    mkdirSync(path.dirname(keys), { recursive: true });
    writeFileSync(keys, JSON.stringify({ secretAccessKey: 'storage-secret-not-for-plugins' }));
    // Another dataset's cache folder: the host of this run's dataset may not read it.
    const otherDataset = path.join(settings.dataDir, 'cache', 'datasets', 'gt-999999-other', 'index.json');
    mkdirSync(path.dirname(otherDataset), { recursive: true });
    writeFileSync(otherDataset, '{"items": []}');
    const files = [keys, otherDataset, path.join(settings.dataDir, 'synapse.db'), path.join(ROOT, 'package.json'), '/etc/passwd'];
    const state = await besideNormal({ action: 'train', hyperparameters: { snoop: files } }, 'snoop');
    expect(state.status, state.error).toBe('completed');
    const snoops = await events(state.runId, 'snoop');
    expect(snoops.map((s) => s.epoch)).toEqual([1, 2]);
    for (const snoop of snoops) {
      const text = JSON.stringify(snoop.env);
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(text).not.toContain(name);
        expect(text).not.toContain(value);
      }
      const reads = snoop.reads as Record<string, string>;
      for (const file of files) expect(`${file}: ${reads[file]}`).toBe(`${file}: refused: ERR_ACCESS_DENIED`);
      expect(reads.own_item).toMatch(/^READ \d+ bytes$/);
    }
    snooped = { state, snoops, hosts: (await events(state.runId, 'plugin_host')).map((e) => e.pid as number) };
  });

  it("the trainer's code runs in another process: one warm host for both epochs, prepared once", () => {
    const pids = snooped.snoops.map((s) => s.pid as number);
    expect(pids[0]).not.toBe(process.pid);
    expect(pids[1]).toBe(pids[0]);
    // The dataset's host was started by this run (its plugin_host event), and kept warm between epochs.
    expect(snooped.hosts).toContain(pids[0]);
    expect(snooped.snoops.map((s) => s.prepared)).toEqual([1, 1]);
  });

  it('a trainer whose trainEpoch calls process.exit fails naming the exit; the worker goes on', async () => {
    const state = await besideNormal({ action: 'train', hyperparameters: { exit: true } }, 'crash');
    expect(state.status).toBe('failed');
    expect(state.error).toContain('exited with code 3');
    expect(state.error).toContain('not retried');
    expect(await highestActivityAttempt(runs, state.runId)).toBe(2);
  });
});

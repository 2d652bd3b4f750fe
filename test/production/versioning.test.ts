/**
 * Safe deploys (workers/versioning.ts, docs/production.md): a long training run started while
 * build A is the worker deployment's current version stays pinned to A (its workflow tasks and
 * its steps go only to A's worker) after build B becomes current, while a new run starts and
 * runs on B. A worker with changed workflow code never picks up a history it cannot replay.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../contracts/run-state.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { makeVersionCurrent } from '../../workers/versioning.js';
import { waitFor } from '../helpers.js';
import { activityWorkers, productionSystem, type ProductionSystem, type WorkerProcess } from './system.js';

let sys: ProductionSystem;
let data: GenerateResult;
const DEPLOYMENT = `synapse-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  sys = await productionSystem('versioning');
  const platform = await openDatabase({ dataDir: sys.settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 40, seed: 6, projectName: 'shapes', dataDir: sys.settings.dataDir });
  } finally {
    await platform.close();
  }
});
afterAll(async () => {
  await sys?.close();
});

const finish = async (runId: string): Promise<RunState> => (await sys.runs.temporal.workflow.getHandle(runId).result()) as RunState;

/** The build id a run is pinned to, and how, as the server describes it. */
async function versionOf(runId: string): Promise<{ buildId: string; behavior: number }> {
  const desc = await sys.runs.temporal.workflow.getHandle(runId).describe();
  const info = desc.raw.workflowExecutionInfo?.versioningInfo;
  return { buildId: info?.deploymentVersion?.buildId ?? '', behavior: Number(info?.behavior ?? 0) };
}

/** The identities that completed the run's workflow tasks (its replays of the workflow code). */
async function workflowTaskWorkers(runId: string): Promise<(WorkerProcess | undefined)[]> {
  const history = await sys.runs.temporal.workflow.getHandle(runId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowTaskCompletedEventAttributes)
    .map((e) => sys.workerOf(e.workflowTaskCompletedEventAttributes!.identity));
}

describe('worker deployment versions', () => {
  it('a training run started on version A finishes on A while new runs start on B', async () => {
    const a = await sys.spawnWorker(['--worker-deployment', DEPLOYMENT, '--build-id', 'A', '--make-current']);
    expect(a.output()).toContain(`build A is now the current version of ${DEPLOYMENT}`);
    // B polls before it is promoted: an unpromoted version gets nothing.
    const b = await sys.spawnWorker(['--worker-deployment', DEPLOYMENT, '--build-id', 'B']);

    const train = await sys.runs.start({
      plugin: 'train-ts-example',
      action: 'train',
      params: { name: 'pinned', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 4, seed: 5, batch_size: 4, step_delay_ms: 500 } },
    });
    await waitFor(async () => ((await sys.runs.store.latestCheckpoint(train.runId)) ? true : undefined), 120_000, 'the first epoch');

    await makeVersionCurrent(sys.runs.temporal, DEPLOYMENT, 'B');
    const fresh = await sys.runs.start({ plugin: 'demo-validation', action: 'validation', params: { count: 20, delayMs: 1 } });
    const freshFinal = await finish(fresh.runId);
    expect(freshFinal.status, freshFinal.error).toBe('completed');
    // The training run was still going when B took the new run.
    expect((await sys.runs.temporal.workflow.getHandle(train.runId).describe()).status.name).toBe('RUNNING');

    const trainFinal = await finish(train.runId);
    expect(trainFinal.status, trainFinal.error).toBe('completed');
    expect(trainFinal.epochs?.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);

    expect(await versionOf(train.runId)).toEqual({ buildId: 'A', behavior: 1 /* VERSIONING_BEHAVIOR_PINNED */ });
    expect((await versionOf(fresh.runId)).buildId).toBe('B');
    const trainSteps = await activityWorkers(sys.runs, train.runId);
    expect(trainSteps.length).toBeGreaterThanOrEqual(4);
    expect(trainSteps.every((s) => sys.workerOf(s.identity) === a)).toBe(true);
    expect((await workflowTaskWorkers(train.runId)).every((w) => w === a)).toBe(true);
    const freshSteps = await activityWorkers(sys.runs, fresh.runId);
    expect(freshSteps.length).toBeGreaterThan(0);
    expect(freshSteps.every((s) => sys.workerOf(s.identity) === b)).toBe(true);
    expect((await workflowTaskWorkers(fresh.runId)).every((w) => w === b)).toBe(true);
  });
});

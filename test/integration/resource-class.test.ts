/**
 * Resource classes (issue 16 item 4): a plugin whose config.yaml says `resource_class: gpu`
 * runs on the task queues `<prefix>-gpu-<method>`, which only `synapse worker --class gpu`
 * serves; a plugin without one runs on the plain queues (class cpu). Both workers poll the same
 * server at once; every workflow and activity task of each run is checked in Temporal's history
 * (each worker's identity ends with its class). A bad class name is refused naming the field.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { taskQueueFor } from '../../client/settings.js';
import { startWorker, type RunningWorker } from '../../workers/worker.js';
import { connectRuns, ROOT, testSettings } from '../helpers.js';

/** A copy of the built-in noop plugin under another code, with `extra` added to its config.yaml. */
function noopPlugin(code: string, extra: string): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'synapse-class-')), code);
  cpSync(path.join(ROOT, 'plugins', 'noop'), dir, { recursive: true });
  const config = readFileSync(path.join(dir, 'config.yaml'), 'utf8').replace(/^code: noop$/m, `code: ${code}`);
  writeFileSync(path.join(dir, 'config.yaml'), `${config}${extra}`);
  return dir;
}

/** The identities of every worker that took a workflow or activity task of the run. */
async function identities(runs: RunsClient, runId: string): Promise<string[]> {
  const history = await runs.temporal.workflow.getHandle(runId).fetchHistory();
  const ids = new Set<string>();
  for (const e of history.events ?? []) {
    const id = e.workflowTaskStartedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
    if (id) ids.add(id);
  }
  return [...ids];
}

describe('resource classes', () => {
  const settings = testSettings('resource-class');
  const workers: RunningWorker[] = [];
  let runs: RunsClient;

  beforeAll(async () => {
    workers.push(await startWorker({ settings, resourceClass: 'cpu' }));
    workers.push(await startWorker({ settings, resourceClass: 'gpu' }));
    runs = await connectRuns(settings);
  });
  afterAll(async () => {
    await runs?.close();
    for (const w of workers) await w.stop();
  });

  it('a gpu-class plugin runs only on the gpu worker, a plain one only on the cpu worker', async () => {
    const gpuPlugin = noopPlugin('noop-gpu', 'resource_class: gpu\n');
    const gpu = await runs.start({ plugin: gpuPlugin, action: 'validation' });
    const cpu = await runs.start({ plugin: 'noop', action: 'validation' });
    for (const { runId } of [gpu, cpu]) await runs.temporal.workflow.getHandle(runId).result();

    const gpuDescription = await runs.temporal.workflow.getHandle(gpu.runId).describe();
    expect(gpuDescription.taskQueue).toBe(taskQueueFor(settings, 'task', 'gpu'));
    expect(gpuDescription.taskQueue).toBe(`${settings.taskQueuePrefix}-gpu-task`);
    const gpuIds = await identities(runs, gpu.runId);
    expect(gpuIds.length).toBeGreaterThan(0);
    for (const id of gpuIds) expect(id).toMatch(/\/gpu$/);

    expect((await runs.temporal.workflow.getHandle(cpu.runId).describe()).taskQueue).toBe(`${settings.taskQueuePrefix}-task`);
    const cpuIds = await identities(runs, cpu.runId);
    expect(cpuIds.length).toBeGreaterThan(0);
    for (const id of cpuIds) expect(id).toMatch(/\/cpu$/);
  });

  it("an action's resource_class overrides the plugin's", async () => {
    const dir = noopPlugin('noop-override', 'resource_class: gpu\n');
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    method: task\n', '    method: task\n    resource_class: cpu\n'));
    const { runId } = await runs.start({ plugin: dir, action: 'validation' });
    await runs.temporal.workflow.getHandle(runId).result();
    expect((await runs.temporal.workflow.getHandle(runId).describe()).taskQueue).toBe(`${settings.taskQueuePrefix}-task`);
    for (const id of await identities(runs, runId)) expect(id).toMatch(/\/cpu$/);
  });

  it('a resource class that is not a name is refused, naming the field', async () => {
    const dir = noopPlugin('noop-bad-class', 'resource_class: GPU!\n');
    await expect(runs.start({ plugin: dir, action: 'validation' })).rejects.toThrow(/resource_class/);
  });
});

/**
 * Platform data for the resource tests (test/integration/resources-*.test.ts): a generated
 * sample project (collection, project, tasks, a ground-truth version), a model registered by
 * a real TypeScript train run, and a real COCO export run, all through the worker the test
 * file runs; plus the bytes of the stored files, read from the local storage folder, to
 * compare downloads with.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunsClient } from '../client/runs.js';
import type { Settings } from '../client/settings.js';
import type { RunState } from '../contracts/run-state.js';
import type { TrainResult } from '../contracts/train.js';
import { openDatabase } from '../platform/db.js';
import { generateSampleData, type GenerateResult } from '../platform/generate.js';

export interface ResourceFixture {
  data: GenerateResult;
  train: { runId: string; modelId: number; modelName: string; modelKey: string };
  export: { runId: string; exportPath: string };
}

async function finish(runs: RunsClient, runId: string): Promise<RunState> {
  const state = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
  if (state.status !== 'completed') throw new Error(`fixture run ${runId} ended ${state.status}: ${state.error}`);
  return state;
}

/** Generates `count` items, trains a model named `modelName` (2 epochs) and exports the ground truth as COCO. */
export async function prepareResources(
  settings: Settings,
  runs: RunsClient,
  opts: { count?: number; modelName: string; exportName: string },
): Promise<ResourceFixture> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  let data: GenerateResult;
  try {
    data = await generateSampleData(platform, { count: opts.count ?? 40, seed: 7, projectName: 'res', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  const trainStart = runs.start({
    plugin: 'train-ts-example',
    action: 'train',
    params: { name: opts.modelName, dataset: data.groundTruth.versionId, hyperparameters: { epochs: 2, seed: 3 } },
  });
  const exportStart = runs.start({
    plugin: 'export-coco',
    action: 'export',
    params: { name: opts.exportName, storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: data.groundTruth.versionId } },
  });
  const [trainRun, exportRun] = await Promise.all([trainStart, exportStart]);
  const [trained, exported] = await Promise.all([finish(runs, trainRun.runId), finish(runs, exportRun.runId)]);
  const model = (trained.result as TrainResult).model;
  return {
    data,
    train: { runId: trainRun.runId, modelId: model.id, modelName: model.name, modelKey: model.file.key },
    export: { runId: exportRun.runId, exportPath: (exported.result as { export_path: string }).export_path },
  };
}

/** A file of the default local storage, as stored. */
export function storedBytes(settings: Settings, key: string): Buffer {
  return readFileSync(path.join(settings.dataDir, 'storage', 'default', key));
}

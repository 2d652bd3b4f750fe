/**
 * The steps of the neural_net test and inference actions (workflows/model-actions.ts): a
 * registered model of the plugin, loaded by its trainer, evaluated on a ground-truth version
 * (`modelTest`) or predicting a batch of its items (`modelInference`). A plugin offers them
 * by naming its trainer class as their entrypoint too. Each runs in the step harness
 * (step.ts) with the action's fixed params schema, and the trainer in the trainer host
 * (trainer-host.ts: a TypeScript trainer's `load`, `evaluate` and `predict` in the plugin's
 * host process with read access to the dataset's cache folder only; Python in its runtime).
 */
import { Context } from '@temporalio/activity';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ParamsError } from '../contracts/errors.js';
import type { MetricValues } from '../contracts/run-state.js';
import { getProject, taskIdsByDataUnit, upsertAssignments } from '../platform/repositories/projects.js';
import type { ModelInferenceParams, ModelTestParams, Prediction } from '../sdk/trainer.js';
import { TRAINER, type TrainerClass } from './action-kinds.js';
import type { StepSpec } from './step.js';
import type { TrainActivityInput, TrainingDeps } from './train.js';
import { formatMetrics, hostDataset, hostOptions, hostPredictions, pythonSink, trainerOf } from './trainer-host.js';
import { parseTrainerParams, type ModelPredictArgs } from './plugin-host-run-train.js';

export interface ModelTestOutput {
  model: number;
  split: string;
  items: number;
  metrics: MetricValues;
}

export interface ModelInferenceOutput {
  /** Items done so far (the next call's offset) and in all. */
  done: number;
  total: number;
  /** Assignments written (with `project`). */
  written: number;
  predictions: { item: number; dataUnit: number; class_name: string | null; confidence: number | null }[];
}

/** A test or inference run's action: a trainer, params by the action's own schema (not the trainer's); parsed in the plugin host for a TypeScript trainer. */
function modelAction<P>(parser: 'model-test' | 'model-inference'): StepSpec<TrainerClass, P> {
  return { kind: TRAINER, params: (raw, { cls, subject }) => parseTrainerParams(parser, cls, raw, subject) as P, host: parser };
}
const TEST = modelAction<ModelTestParams>('model-test');
const INFERENCE = modelAction<ModelInferenceParams>('model-inference');

export function createModelActivities({ platform, steps, data, host }: TrainingDeps) {
  const { db } = platform;
  return {
    /** The test action: a registered model's metrics on a dataset version. */
    async modelTest(input: TrainActivityInput): Promise<ModelTestOutput> {
      return steps.step(input, TEST, { marksRunning: true }, async ({ action, cls, params, ctx, host: hosted }) => {
        const model = await data.modelFor(action, params.model, 'model');
        const dataset = await data.dataset(params.dataset, 'full');
        const items = dataset.items.filter((i) => params.split === 'all' || i.split === params.split);
        if (items.length === 0)
          throw new ParamsError(`invalid params for ${input.plugin.code} ${input.action}`, [
            { path: 'split', message: `ground-truth version ${params.dataset} has no items in split "${params.split}"` },
          ]);
        const metrics = await host.evaluate(trainerOf(action, cls, hosted), ctx, input, dataset, params.split, params.num_cpus, () => data.modelBytes(model));
        ctx.setMetrics(metrics, 'test');
        ctx.log('model_tested', { model: model.id, split: params.split, metrics });
        ctx.logMessage(`model ${model.id} on ${params.split} (${items.length} items): ${formatMetrics(metrics)}`);
        return { model: model.id, split: params.split, items: items.length, metrics };
      });
    },

    /**
     * The inference action, one batch of items per call (the workflow pages): predictions as
     * annotation documents; with `project`, written as assignments of annotator `model:<id>`
     * on the project's tasks of the same data units (an upsert: a retried batch writes the same).
     */
    async modelInference(input: TrainActivityInput & { offset: number }): Promise<ModelInferenceOutput> {
      return steps.step(input, INFERENCE, { marksRunning: true }, async ({ action, cls, params, ctx, host: hosted }) => {
        const model = await data.modelFor(action, params.model, 'model');
        const dataset = await data.dataset(params.dataset, input.offset === 0 ? 'full' : 'size');
        const all = dataset.items.filter((i) => params.split === 'all' || i.split === params.split);
        const batch = all.slice(input.offset, input.offset + params.batch_size);
        const bytes = () => data.modelBytes(model);
        const trainer = trainerOf(action, cls, hosted);
        const predictions = await host.run<Prediction[]>(
          trainer,
          ctx,
          input,
          async (hostRun) => {
            const args: ModelPredictArgs = { dataset: hostDataset(dataset), itemIds: batch.map((i) => i.id), model: await bytes() };
            return hostPredictions(await hostRun.run('model-predict', [args], hostOptions(ctx, dataset)), cls);
          },
          async (proc, silenceLimitMs) => {
            const work = host.workDir(input.runId, `infer-${input.offset}`);
            try {
              const modelIn = path.join(work, 'model.ckpt');
              writeFileSync(modelIn, await bytes());
              const raw = await proc.call<{ itemId: number; annotations: unknown }[]>(
                'predict',
                {
                  ...host.pythonArgs(trainer, input, dataset, params.num_cpus, Context.current().info.attempt),
                  model_in: modelIn,
                  item_ids: batch.map((i) => i.id),
                },
                { sink: pythonSink(ctx), signal: ctx.signal, silenceLimitMs },
              );
              return raw as Prediction[];
            } finally {
              rmSync(work, { recursive: true, force: true });
            }
          },
        );
        const byItem = new Map(batch.map((i) => [i.id, i]));
        let written = 0;
        if (params.project !== undefined) {
          const project = await getProject(db, params.project);
          const wanted = new Map<number, Prediction>();
          for (const p of predictions) {
            const item = byItem.get(p.itemId);
            if (item) wanted.set(item.dataUnitId, p);
          }
          const tasks = await taskIdsByDataUnit(db, project.id, wanted.keys());
          const rows = [...tasks].map(([dataUnitId, taskId]) => ({
            taskId,
            annotator: `model:${model.id}`,
            status: 'completed' as const,
            annotations: wanted.get(dataUnitId)!.annotations,
          }));
          if (rows.length) await upsertAssignments(db, project.id, rows);
          written = rows.length;
        }
        ctx.setProgress(Math.min(all.length, input.offset + batch.length), all.length, 'inference');
        return {
          done: input.offset + batch.length,
          total: all.length,
          written,
          predictions: predictions.map((p) => {
            const first = p.annotations.annotations[0];
            return {
              item: p.itemId,
              dataUnit: byItem.get(p.itemId)?.dataUnitId ?? 0,
              class_name: first?.class_name ?? null,
              confidence: first?.confidence ?? null,
            };
          }),
        };
      });
    },
  };
}

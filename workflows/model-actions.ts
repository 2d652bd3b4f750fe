/**
 * The test and inference run shapes of a trainer plugin (neural_net `test` / `inference`
 * actions whose entrypoint is a BaseTrainer): a registered model is loaded with the trainer's
 * `load` and evaluated on a dataset version (one step), or run over its items in batches (one
 * step per batch, each idempotent), predictions written as annotations.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { continueWithCarry, runShape } from './run-shape.js';
import { trackRun } from './run-tracker.js';
import { stepOptions, type Activities } from './steps.js';

/** Batches run before the inference workflow continues as new. */
const BATCHES_PER_RUN = 200;

export async function modelTestWorkflow(input: RunActionInput): Promise<RunState> {
  const run = trackRun(input, { own: { progress: ['test'] } });
  run.state.progress.test = { current: 0, total: 1 };
  run.publish();
  const { modelTest } = proxyActivities<Activities>(stepOptions(input));

  return runShape(run, async () => {
    const out = await modelTest.executeWithOptions({ summary: 'evaluate model' }, [
      { runId: run.state.runId, plugin: input.plugin, action: input.action, params: input.params, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds },
    ]);
    run.state.metrics.test = out.metrics;
    run.state.progress.test = { current: 1, total: 1 };
    return out;
  });
}

export interface InferenceCarry {
  offset: number;
  written: number;
  counts: Record<string, number>;
  attempt: number;
  startedAt: string;
}

export async function modelInferenceWorkflow(input: RunActionInput & { carry?: InferenceCarry }): Promise<RunState> {
  const run = trackRun(input, { carry: input.carry, own: { progress: ['inference'], metrics: ['inference'] } });
  const { modelInference } = proxyActivities<Activities>(stepOptions(input));
  const carry: InferenceCarry = input.carry ?? { offset: 0, written: 0, counts: {}, attempt: 1, startedAt: run.state.startedAt };

  return runShape(run, async () => {
    for (let batches = 1; ; batches++) {
      const out = await modelInference.executeWithOptions({ summary: `items from ${carry.offset}` }, [
        {
          runId: run.state.runId,
          plugin: input.plugin,
          action: input.action,
          params: input.params,
          heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
          offset: carry.offset,
        },
      ]);
      carry.offset = out.done;
      carry.written += out.written;
      for (const p of out.predictions) {
        const name = p.class_name ?? 'none';
        carry.counts[name] = (carry.counts[name] ?? 0) + 1;
      }
      run.state.progress.inference = { current: Math.min(out.done, out.total), total: out.total };
      run.state.metrics.inference = { predicted: carry.offset, written: carry.written, ...carry.counts };
      run.publish();
      if (out.done >= out.total) break;
      if (batches >= BATCHES_PER_RUN) await continueWithCarry(run, input, carry);
    }
    return { predicted: carry.offset, written: carry.written, classes: carry.counts };
  });
}

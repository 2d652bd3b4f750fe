/**
 * The test and inference run shapes of a trainer plugin (neural_net `test` / `inference`
 * actions whose entrypoint is a BaseTrainer): a registered model is loaded with the trainer's
 * `load` and evaluated on a dataset version (one step), or run over its items in batches (one
 * step per batch, each idempotent), predictions written as annotations.
 */
import { ActivityCancellationType, ContinueAsNew, continueAsNew, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { DEFAULT_RETRY_POLICY } from './retry-policy.js';
import type { RunActionInput } from '../contracts/run-input.js';
import type { RunState } from '../contracts/run-state.js';
import { trackRun } from './run-tracker.js';

/** Batches run before the inference workflow continues as new. */
const BATCHES_PER_RUN = 200;

function steps(input: RunActionInput) {
  return proxyActivities<typeof activities>({
    startToCloseTimeout: `${input.startToCloseSeconds}s`,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    retry: DEFAULT_RETRY_POLICY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

export async function modelTestWorkflow(input: RunActionInput): Promise<RunState> {
  const run = trackRun(input, { own: { progress: ['test'] } });
  run.state.progress.test = { current: 0, total: 1 };
  run.publish();
  let result: unknown;
  try {
    const out = await steps(input).modelTest.executeWithOptions({ summary: 'evaluate model' }, [
      { runId: run.state.runId, plugin: input.plugin, action: input.action, params: input.params, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds },
    ]);
    run.state.metrics.test = out.metrics;
    run.state.progress.test = { current: 1, total: 1 };
    result = out;
  } catch (err) {
    return run.fail(err);
  }
  return run.complete(result);
}

export interface InferenceCarry {
  offset: number;
  written: number;
  counts: Record<string, number>;
  attempt: number;
  startedAt: string;
}

export async function modelInferenceWorkflow(input: RunActionInput & { carry?: InferenceCarry }): Promise<RunState> {
  const run = trackRun(input, {
    ...(input.carry ? { attempt: input.carry.attempt, startedAt: input.carry.startedAt } : {}),
    own: { progress: ['inference'], metrics: ['inference'] },
  });
  const carry: InferenceCarry = input.carry ?? { offset: 0, written: 0, counts: {}, attempt: 1, startedAt: run.state.startedAt };
  let result: unknown;
  try {
    let batches = 0;
    for (;;) {
      const out = await steps(input).modelInference.executeWithOptions({ summary: `items from ${carry.offset}` }, [
        { runId: run.state.runId, plugin: input.plugin, action: input.action, params: input.params, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds, offset: carry.offset },
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
      if (++batches >= BATCHES_PER_RUN) {
        carry.attempt = run.state.attempt;
        await continueAsNew<typeof modelInferenceWorkflow>({ ...input, carry });
      }
    }
    result = { predicted: carry.offset, written: carry.written, classes: carry.counts };
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return run.fail(err);
  }
  return run.complete(result);
}

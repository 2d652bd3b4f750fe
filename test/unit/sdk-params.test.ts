/**
 * Params declared once: `withParams`, `withExtraParams` and `withHyperparameters` set the
 * schema static and type the params from it, so the two cannot disagree. The `@ts-expect-error`
 * lines are the compile-time half of this test: `tsc --noEmit` (scripts/test.sh) fails if one
 * of those mismatches stops being an error. The rest checks what the classes hold at run time.
 */
import { describe, expect, it } from 'vitest';
import {
  Action,
  BaseExporter,
  BaseHyperparameters,
  BaseTrainer,
  BaseUploader,
  exportParamsSchema,
  hasOwnTrainParams,
  isTrainerClass,
  NonRetriableError,
  TrainAction,
  TrainParams,
  trainerProgressCategory,
  ValidationAction,
  z,
  type EpochState,
  type MetricValues,
  type RunContext,
  type StepContext,
  type TrainContext,
} from '../../sdk/index.js';

const Params = z.strictObject({ count: z.number().int().min(0).default(10) });
type Params = z.infer<typeof Params>;

class Check extends ValidationAction.withParams(Params) {
  static override progressCategories = { check: { weight: 1 } };
  async start(ctx: RunContext<Params>) {
    return { doubled: ctx.params.count * 2 };
  }
}

/** A RunContext that records nothing: enough to call `start`. */
function fakeContext<P>(params: P): RunContext<P> {
  return {
    runId: 'r',
    params,
    envs: {},
    signal: new AbortController().signal,
    attempt: 1,
    logMessage: () => {},
    log: () => {},
    setProgress: () => {},
    setMetrics: () => {},
    checkpoint: async () => {},
    resumeState: () => undefined,
  };
}

describe('withParams', () => {
  it("sets static params and keeps the category base's statics", async () => {
    expect(Check.params).toBe(Params);
    expect(Check.action).toBe('validation');
    expect(Check.category).toBe('data_validation');
    expect(Check.method).toBe('job');
    expect(Check.progressCategories).toEqual({ check: { weight: 1 } });
    expect(new Check()).toBeInstanceOf(ValidationAction);
    expect(new Check()).toBeInstanceOf(Action);
    expect(await new Check().start(fakeContext(Params.parse({ count: 4 })))).toEqual({ doubled: 8 });
  });

  it('makes a mismatch between the schema and the params type a compile error', () => {
    class WrongContext extends ValidationAction.withParams(Params) {
      // @ts-expect-error start() takes a RunContext of another params type than the schema's
      async start(ctx: RunContext<{ name: string }>) {
        return ctx.params.name;
      }
    }
    // @ts-expect-error a static params of another output type than the declared one
    class WrongSchema extends ValidationAction.withParams(Params) {
      static override params = z.strictObject({ name: z.string() });
      async start(ctx: RunContext<Params>) {
        return ctx.params.count;
      }
    }
    // @ts-expect-error start is still abstract: a class without it does not compile
    class NoStart extends ValidationAction.withParams(Params) {}
    // The old form still compiles (and is not checked): kept for existing plugins.
    class OldForm extends ValidationAction<Params> {
      static override params = Params;
      async start(ctx: RunContext<Params>) {
        return ctx.params.count;
      }
    }
    expect([WrongContext, WrongSchema, NoStart, OldForm].map((c) => c.action)).toEqual(['validation', 'validation', 'validation', 'validation']);
  });

  it('is refused at compile time on bases whose schema is another static', () => {
    // @ts-expect-error an exporter's own params are extraParams: withExtraParams
    const exporter = () => BaseExporter.withParams(Params);
    // @ts-expect-error an uploader's own params are extraParams: withExtraParams
    const uploader = () => BaseUploader.withParams(Params);
    // @ts-expect-error a trainer's params are the train params: withHyperparameters
    const trainer = () => TrainAction.withParams(Params);
    expect([exporter, uploader, trainer]).toHaveLength(3);
  });
});

describe('withExtraParams', () => {
  const Extra = z.strictObject({ include_meta: z.boolean().default(true) });

  it('sets extraParams, the full params schema, and types this.params.extra_params', () => {
    class Exporter extends BaseExporter.withExtraParams(Extra) {
      flag(): boolean {
        return this.params.extra_params.include_meta;
      }
      wrong(): string {
        // @ts-expect-error extra_params is the schema's output: include_meta is a boolean
        return this.params.extra_params.include_meta;
      }
    }
    expect(Exporter.extraParams).toBe(Extra);
    expect(Exporter.action).toBe('export');
    const parsed = Exporter.params.parse({ name: 'n', storage: 1, target: 'task', filter: { project: 1 } }) as { extra_params: unknown };
    expect(parsed.extra_params).toEqual({ include_meta: true });
    expect(() => Exporter.params.parse({ name: 'n', storage: 1, target: 'task', filter: { project: 1 }, extra_params: { other: 1 } })).toThrow(/other/);
    expect(exportParamsSchema(Extra).safeParse({ name: 'n', storage: 1, target: 'task', filter: { project: 1 } }).success).toBe(true);

    class Uploader extends BaseUploader.withExtraParams(Extra) {}
    expect(Uploader.extraParams).toBe(Extra);
    expect(Uploader.action).toBe('upload');
  });
});

describe('one trainer concept: TrainAction', () => {
  const Hyper = BaseHyperparameters.extend({ learning_rate: z.number().positive().default(0.1) });
  type Hyper = z.infer<typeof Hyper>;

  class Trainer extends TrainAction.withHyperparameters(Hyper)<number[]> {
    createModel(): number[] {
      return [];
    }
    async trainEpoch(ctx: TrainContext, state: EpochState<number[], Hyper>): Promise<MetricValues> {
      ctx.setProgress(1, 1);
      state.model.push(state.hyperparameters.learning_rate);
      return { lr: state.hyperparameters.learning_rate };
    }
    async evaluate(_ctx: StepContext, model: number[]): Promise<MetricValues> {
      return { n: model.length };
    }
    save(model: number[]): Uint8Array {
      return new TextEncoder().encode(JSON.stringify(model));
    }
    load(bytes: Uint8Array): number[] {
      return JSON.parse(new TextDecoder().decode(bytes)) as number[];
    }
  }

  it('a class extending TrainAction is a trainer; BaseTrainer is the same class', () => {
    expect(BaseTrainer).toBe(TrainAction);
    expect(isTrainerClass(Trainer)).toBe(true);
    class Old extends BaseTrainer<number[]> {
      createModel = () => [];
      trainEpoch = async () => ({});
      evaluate = async () => ({});
      save = () => new Uint8Array();
      load = () => [];
    }
    expect(isTrainerClass(Old)).toBe(true);
    expect(isTrainerClass(Check)).toBe(false);
    expect(Trainer.action).toBe('train');
    expect(Trainer.category).toBe('neural_net');
    expect(Object.keys(Trainer.progressCategories)).toEqual(['dataset', 'train', 'model_upload']);
  });

  it('withHyperparameters sets the schema and the train params made from it', () => {
    expect(Trainer.hyperparameters).toBe(Hyper);
    expect(hasOwnTrainParams(Trainer)).toBe(false);
    expect(hasOwnTrainParams(TrainAction)).toBe(false);
    expect(Trainer.params.parse({ name: 'm', dataset: 1 })).toMatchObject({ hyperparameters: { epochs: 10, seed: 1, learning_rate: 0.1 } });
    class OwnParams extends Trainer {
      static override params = z.object({ dataset: z.number() });
    }
    expect(hasOwnTrainParams(OwnParams)).toBe(true);
    expect(TrainParams.safeParse({ name: 'm', dataset: 1 }).success).toBe(true);
  });

  it('types the hyperparameters and keeps the run checkpoint out of a trainer context', () => {
    class WrongHyper extends TrainAction.withHyperparameters(Hyper)<number> {
      createModel = () => 0;
      // @ts-expect-error the state's hyperparameters are Hyper, which has no `momentum`
      async trainEpoch(_ctx: TrainContext, state: EpochState<number, { epochs: number; seed: number; momentum: string }>): Promise<MetricValues> {
        return { m: state.hyperparameters.momentum };
      }
      evaluate = async () => ({});
      save = () => new Uint8Array();
      load = () => 0;
    }
    const useContext = (ctx: TrainContext) => {
      // @ts-expect-error the engine keeps a train run's checkpoint: a trainer saves with checkpointStep
      void ctx.checkpoint({});
      // @ts-expect-error and there is no run resume state either: state.startStep says where to resume
      ctx.resumeState();
      return ctx.checkpointStep(1);
    };
    // @ts-expect-error withHyperparameters takes a schema with epochs and seed (extend BaseHyperparameters)
    const notHyper = () => TrainAction.withHyperparameters(z.object({ lr: z.number() }));
    expect([WrongHyper, useContext, notHyper]).toHaveLength(3);
  });

  it('progress inside an epoch is the `epoch` category; the engine categories are refused', () => {
    expect(trainerProgressCategory(undefined)).toBe('epoch');
    expect(trainerProgressCategory('epoch')).toBe('epoch');
    expect(trainerProgressCategory('decode')).toBe('decode');
    for (const engine of ['train', 'dataset', 'model_upload']) {
      expect(() => trainerProgressCategory(engine)).toThrow(NonRetriableError);
    }
    expect(() => trainerProgressCategory('train')).toThrow(/"train" is the engine's .*report steps inside an epoch as "epoch"/);
  });
});

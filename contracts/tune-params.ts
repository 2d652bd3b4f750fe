/**
 * The search part of a tune's params as zod schemas (the tune run shape, neural_net `tune`):
 * the train part is the trainer's own train params, checked by the client with the trainer's
 * schema (client/tune-shape.ts). Kept apart from contracts/tune.ts so that workflow code,
 * which imports that file, does not bundle zod.
 *
 * The names follow Ray Tune (the seed's tuner): `choice`, `uniform`, `loguniform`, `randint`
 * (high exclusive), `quniform`, `grid`; `metric` + `mode`; `num_trials`,
 * `max_concurrent_trials`, `time_budget_s`. The search itself is Optuna's (samplers `random`,
 * `grid`, `tpe`; pruners `median`, `asha` = successive halving, `hyperband`).
 */
import { z } from 'zod';
import { gridSize, type Pruner, type Sampler, type SearchSpace, type TuneSearch } from './tune.js';

/** A value a `choice` or `grid` dimension offers (what Optuna stores: JSON scalars). */
export const ParamValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type ParamValue = z.infer<typeof ParamValue>;

const finite = () => z.number().refine(Number.isFinite, 'must be a finite number');

const values = (what: string) => z.array(ParamValue).min(1, `empty ${what}: give at least one value`).max(10_000, `at most 10,000 values`);

type Ctx = z.core.$RefinementCtx;
const ordered = (d: { low: number; high: number }, ctx: Ctx): void => {
  if (!(d.low < d.high)) ctx.addIssue({ code: 'custom', path: [], message: `low (${d.low}) must be below high (${d.high})` });
};
const distinct = (d: { values: unknown[] }, ctx: Ctx): void => {
  if (new Set(d.values.map((v) => JSON.stringify(v))).size !== d.values.length)
    ctx.addIssue({ code: 'custom', path: ['values'], message: 'values repeat: give each once' });
};

/** One dimension of the search space; each checks its own bounds. */
export const SearchDimension = z.discriminatedUnion(
  'type',
  [
    /** One of the values (Optuna's categorical). */
    z.strictObject({ type: z.literal('choice'), values: values('choice') }).superRefine(distinct),
    /** Every value, once each, crossed with the other grid dimensions (sampler `grid`). */
    z.strictObject({ type: z.literal('grid'), values: values('grid') }).superRefine(distinct),
    /** A float in [low, high]. */
    z.strictObject({ type: z.literal('uniform'), low: finite(), high: finite() }).superRefine(ordered),
    /** A float in [low, high], sampled on a log scale; low > 0. */
    z.strictObject({ type: z.literal('loguniform'), low: finite(), high: finite() }).superRefine((d, ctx) => {
      if (d.low <= 0) ctx.addIssue({ code: 'custom', path: ['low'], message: `loguniform needs low > 0 (got ${d.low}): a log scale has no zero or negatives` });
      else ordered(d, ctx);
    }),
    /** An integer in [low, high) (high exclusive, as Ray Tune's randint). */
    z.strictObject({ type: z.literal('randint'), low: z.number().int(), high: z.number().int() }).superRefine(ordered),
    /** A float in [low, high] on steps of q from low. */
    z.strictObject({ type: z.literal('quniform'), low: finite(), high: finite(), q: finite() }).superRefine((d, ctx) => {
      ordered(d, ctx);
      if (!(d.q > 0)) ctx.addIssue({ code: 'custom', path: ['q'], message: `q must be above 0 (got ${d.q})` });
      else if (d.low < d.high && d.q > d.high - d.low)
        ctx.addIssue({ code: 'custom', path: ['q'], message: `q (${d.q}) is larger than high - low (${d.high - d.low})` });
    }),
  ],
  { error: () => 'unknown dimension type: use choice, grid, uniform, loguniform, randint or quniform' },
);

export const SAMPLERS = ['random', 'grid', 'tpe'] as const;
export const PRUNERS = ['none', 'median', 'asha', 'hyperband'] as const;

const samplerName = z.enum(SAMPLERS, { error: (iss) => `unknown sampler ${JSON.stringify(iss.input)}: use ${SAMPLERS.join(', ')}` });
const seed = z.number().int().min(0).max(0xffffffff);

/** A name alone (`"tpe"`) stands for `{type: "tpe"}`. */
const named = (v: unknown): unknown => (typeof v === 'string' ? { type: v } : v);

/** `"tpe"` or `{type: "tpe", seed: 7, n_startup_trials: 5}`. */
export const SamplerSpec = z.preprocess(
  named,
  z.strictObject({
    type: samplerName,
    /** Seeds the sampler: the same seed asks the same first trials. */
    seed: seed.optional(),
    /** TPE: random trials before the model takes over (Optuna's default: 10). */
    n_startup_trials: z.number().int().min(0).max(10_000).optional(),
  }),
);

const PRUNER_OPTIONS = [
  /** Never prunes. */
  z.strictObject({ type: z.literal('none') }),
  /** Prunes a trial whose best value so far is worse than the median of other trials at the same epoch. */
  z.strictObject({
    type: z.literal('median'),
    /** Trials that finish before any pruning (Optuna's default: 5). */
    n_startup_trials: z.number().int().min(0).max(10_000).default(5),
    /** Epochs of a trial that are never pruned (Optuna's steps count from 0: epoch e is step e - 1). */
    n_warmup_steps: z.number().int().min(0).max(1_000_000).default(0),
    /** Check every this many epochs. */
    interval_steps: z.number().int().min(1).max(1_000_000).default(1),
    /** Trials that must have reported an epoch before it is compared. */
    n_min_trials: z.number().int().min(1).max(10_000).default(1),
  }),
  /** Asynchronous successive halving (ASHA). */
  z.strictObject({
    type: z.literal('asha'),
    min_resource: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
    reduction_factor: z.number().int().min(2).max(100).default(4),
    min_early_stopping_rate: z.number().int().min(0).max(100).default(0),
  }),
  /** Hyperband: several successive-halving brackets. */
  z.strictObject({
    type: z.literal('hyperband'),
    min_resource: z.number().int().min(1).default(1),
    max_resource: z.union([z.literal('auto'), z.number().int().min(1)]).default('auto'),
    reduction_factor: z.number().int().min(2).max(100).default(3),
  }),
] as const;

/** `"median"` or `{type: "median", n_warmup_steps: 2, ...}`; settings default to Optuna's. */
export const PrunerSpec = z.preprocess(
  named,
  z.discriminatedUnion('type', PRUNER_OPTIONS, {
    error: (iss) => `unknown pruner ${JSON.stringify((iss.input as { type?: unknown } | undefined)?.type)}: use ${PRUNERS.join(', ')}`,
  }),
);

/**
 * The search part of a tune's params (the rest are the trainer's train params: `name`,
 * `dataset`, `storage`, fixed `hyperparameters`, ...). Cross-field rules (grid sampler
 * dimensions, num_trials) are in `checkSearch`.
 */
export const TuneSearchFields = z.object({
  /** Hyperparameters to search, by name: each trial trains with the fixed ones and one point of this space. */
  search_space: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a hyperparameter name: letters, digits and "_"'), SearchDimension)
    .refine((s) => Object.keys(s).length > 0, 'empty search space: give at least one hyperparameter to search'),
  /** An epoch metric of the trainer (a key of what train_epoch returns), compared across trials. */
  metric: z.string().min(1).max(200),
  mode: z.enum(['min', 'max'], { error: () => 'use min or max' }),
  /** Trials to run; with sampler grid, the grid's size when absent. */
  num_trials: z.number().int().min(1).max(10_000).optional(),
  max_concurrent_trials: z.number().int().min(1).max(256).default(1),
  /** Default: `grid` when a dimension is `grid`, else `tpe`. */
  sampler: SamplerSpec.optional(),
  pruner: PrunerSpec.prefault('none'),
  /** Seconds after the tune's start when no new trial starts (running trials finish). */
  time_budget_s: z
    .number()
    .positive()
    .max(366 * 24 * 3600)
    .optional(),
});
export type TuneSearchInput = z.input<typeof TuneSearchFields>;

interface Issue {
  path: string;
  message: string;
}

/**
 * Checks what one field cannot: the grid sampler's dimensions and num_trials. Returns the search with defaults filled in, or the problems.
 */
export function checkSearch(parsed: z.output<typeof TuneSearchFields>): { search: TuneSearch } | { problems: Issue[] } {
  const problems: Issue[] = [];
  const space: SearchSpace = parsed.search_space;
  const dims = Object.values(space);
  const spec = parsed.sampler;
  const sampler: Sampler =
    spec === undefined ? { type: dims.some((d) => d.type === 'grid') ? 'grid' : 'tpe' } : typeof spec === 'string' ? { type: spec } : { ...spec };
  if (sampler.type === 'grid') {
    for (const [key, d] of Object.entries(space)) {
      if (d.type !== 'grid' && d.type !== 'choice')
        problems.push({ path: `search_space.${key}`, message: `sampler grid needs grid or choice dimensions; ${key} is ${d.type}` });
    }
    if (sampler.n_startup_trials !== undefined) problems.push({ path: 'sampler.n_startup_trials', message: 'only sampler tpe has startup trials' });
  } else {
    for (const [key, d] of Object.entries(space)) {
      if (d.type === 'grid')
        problems.push({
          path: `search_space.${key}`,
          message: `a grid dimension needs sampler grid (sampler is ${sampler.type}); use choice to sample from values`,
        });
    }
    if (sampler.type === 'random' && sampler.n_startup_trials !== undefined)
      problems.push({ path: 'sampler.n_startup_trials', message: 'only sampler tpe has startup trials' });
  }
  let numTrials = parsed.num_trials;
  if (sampler.type === 'grid') {
    const size = gridSize(space);
    if (numTrials === undefined) numTrials = size;
    else if (numTrials > size) problems.push({ path: 'num_trials', message: `the grid has ${size} points; num_trials ${numTrials} would repeat some` });
  } else if (numTrials === undefined) {
    problems.push({ path: 'num_trials', message: `required with sampler ${sampler.type}` });
  }
  if (problems.length > 0 || numTrials === undefined) return { problems };
  return {
    search: {
      search_space: space,
      metric: parsed.metric,
      mode: parsed.mode,
      num_trials: numTrials,
      max_concurrent_trials: parsed.max_concurrent_trials,
      sampler,
      pruner: parsed.pruner satisfies Pruner,
      ...(parsed.time_budget_s !== undefined ? { time_budget_s: parsed.time_budget_s } : {}),
    },
  };
}

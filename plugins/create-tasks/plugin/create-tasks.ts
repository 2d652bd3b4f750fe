/**
 * pre_annotation: a task for each data unit of the project's collection that passes
 * `data_unit_filters` (ids, keys, creation time, no task yet in a project...), whose meta has
 * every value of `meta_equals`, and that falls in the `fraction` of the split: a unit is in
 * when fnv1a(`seed` + its unique key) / 2^32 < fraction, so the same params choose the same
 * units every time and a larger fraction only adds units. The others are `skipped`, with why.
 */
import { DataUnitPageParams, PreAnnotationUnitPages, z, type PlatformDataUnit, type TaskOutcome, type TaskRunContext } from '@synapse/sdk';

export const Params = DataUnitPageParams.extend({
  /** Meta values a unit must have, e.g. `{ "split": "train" }`. */
  meta_equals: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** The share of the selected units that get a task (0 < fraction <= 1). */
  fraction: z.number().gt(0).max(1).default(1),
  /** Changes which units a fraction picks. */
  seed: z.string().default(''),
});
export type Params = z.infer<typeof Params>;

/** 32-bit FNV-1a of a string's UTF-8 bytes, as a fraction in [0, 1). */
export function splitPoint(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

export class CreateTasks extends PreAnnotationUnitPages<Params> {
  static override params = Params;

  async prepare(ctx: TaskRunContext<Params>): Promise<void> {
    const project = await ctx.platform.getProject(ctx.params.project);
    ctx.logMessage(`creating tasks in project "${project.name}" for units of "${project.collection.name}"`);
  }

  async processDataUnit(unit: PlatformDataUnit, ctx: TaskRunContext<Params>): Promise<Omit<TaskOutcome, 'annotations'>> {
    for (const [key, value] of Object.entries(ctx.params.meta_equals)) {
      if (unit.meta[key] !== value)
        return { status: 'skipped', data: { reason: `meta.${key} is ${JSON.stringify(unit.meta[key])}, not ${JSON.stringify(value)}` } };
    }
    const point = splitPoint(`${ctx.params.seed}${unit.uniqueKey}`);
    if (point >= ctx.params.fraction) return { status: 'skipped', data: { reason: `outside the fraction (${point.toFixed(4)} >= ${ctx.params.fraction})` } };
    const [task] = await ctx.platform.createTasks(ctx.params.project, [unit.id]);
    return { data: { task } };
  }
}

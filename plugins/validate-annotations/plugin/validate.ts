/**
 * validation (data_validation) over a project's tasks: per task, its files and every
 * annotator's annotations are checked (checks.ts); a task with problems is `failed` with
 * them in its result, the others `success`. With `ground_truth_version` (a version of a
 * dataset of the project) it checks that version's data units and their annotations there
 * instead (items `data_unit:<id>`, the annotator named `ground_truth`), by the same checks. `finish` writes the report JSON
 * (`<report_path>/<run id>.json` in `storage`): counts per problem code and every failed
 * task with its problems.
 */
import {
  TaskPageParams,
  ValidationTaskPages,
  z,
  type AnnotationDocument,
  type PlatformDataUnit,
  type PlatformGroundTruthEntry,
  type PlatformProject,
  type PlatformTask,
  type TaskOutcome,
  type TaskPagesSummary,
  type TaskRunContext,
} from '@synapse/sdk';
import { documentProblems, type Problem } from './checks.js';

export const Params = TaskPageParams.extend({
  /** Check this ground-truth version (its id) of a dataset of the project instead of the tasks. */
  ground_truth_version: z.number().int().positive().optional(),
  /** Check only this annotator's assignments (default: every assignment of the task). */
  annotator: z.string().optional(),
  /** Storage (id or name) and folder of the report file. */
  storage: z.union([z.number().int().positive(), z.string().min(1)]).default('default'),
  report_path: z.string().default('validation-reports'),
  duplicate_iou: z.number().gt(0).max(1).default(0.95),
  overlap_iou: z.number().gt(0).max(1).default(0.5),
  /** The data unit's file that is the image (its size bounds the boxes when a document has none). */
  image_specification: z.string().min(1).default('image'),
});
export type Params = z.infer<typeof Params>;

export class ValidateAnnotations extends ValidationTaskPages<Params> {
  static override params = Params;

  private project: PlatformProject | undefined;

  async prepare(ctx: TaskRunContext<Params>): Promise<void> {
    this.project = await ctx.platform.getProject(ctx.params.project);
  }

  async processTask(task: PlatformTask, ctx: TaskRunContext<Params>): Promise<TaskOutcome> {
    const all = (await ctx.platform.assignmentsOf([task.id])).get(task.id) ?? [];
    const assignments = ctx.params.annotator === undefined ? all : all.filter((a) => a.annotator === ctx.params.annotator);
    return this.check(task.dataUnit, assignments, ctx);
  }

  async processGroundTruth(entry: PlatformGroundTruthEntry, ctx: TaskRunContext<Params>): Promise<TaskOutcome> {
    return this.check(entry.dataUnit, [{ annotator: 'ground_truth', annotations: entry.annotations }], ctx);
  }

  /** A data unit's files and its documents (each annotator's, or the version's) against the project. */
  private async check(
    unit: PlatformDataUnit,
    documents: { annotator: string; annotations: AnnotationDocument }[],
    ctx: TaskRunContext<Params>,
  ): Promise<TaskOutcome> {
    this.project ??= await ctx.platform.getProject(ctx.params.project);
    const project = this.project;
    const problems: Problem[] = [];
    for (const spec of project.collection.files) {
      const file = unit.files[spec.name];
      if (!file) {
        if (spec.required) problems.push({ code: 'missing_file', message: `required file "${spec.name}" is not declared` });
      } else if (!(await ctx.platform.fileExists(file))) {
        problems.push({ code: 'missing_file', message: `file "${spec.name}" (${file.key}) is not in storage ${file.storage}` });
      }
    }
    if (documents.every((a) => a.annotations.annotations.length === 0))
      problems.push({ code: 'empty', message: documents.length ? 'no annotations' : 'not annotated' });
    for (const a of documents) {
      const size = a.annotations.size ?? (await imageSize(unit, ctx));
      problems.push(
        ...documentProblems(a.annotator, a.annotations, project.classes, size, { duplicateIou: ctx.params.duplicate_iou, overlapIou: ctx.params.overlap_iou }),
      );
    }
    const annotations = documents.reduce((n, a) => n + a.annotations.annotations.length, 0);
    return problems.length ? { status: 'failed', data: { annotations, problems } } : { data: { annotations } };
  }

  async finish(summary: TaskPagesSummary, ctx: TaskRunContext<Params>) {
    const byCode: Record<string, number> = {};
    const failed: { item: string; problems: Problem[] }[] = [];
    for await (const r of summary.results()) {
      if (r.status !== 'failed') continue;
      const problems = (r.data?.problems as Problem[] | undefined) ?? [{ code: 'error', message: String(r.data?.error) } as unknown as Problem];
      for (const p of problems) byCode[p.code] = (byCode[p.code] ?? 0) + 1;
      failed.push({ item: r.item, problems });
    }
    const report = {
      run: ctx.runId,
      project: ctx.params.project,
      ...(ctx.params.ground_truth_version !== undefined
        ? { ground_truth_version: ctx.params.ground_truth_version }
        : { task_filters: ctx.params.task_filters }),
      total: summary.total,
      valid: summary.success,
      invalid: summary.failed,
      problems: byCode,
      failed,
    };
    const key = `${ctx.params.report_path.replace(/\/+$/, '')}/${ctx.runId}.json`.replace(/^\/+/, '');
    await ctx.platform.writeFile(ctx.params.storage, key, JSON.stringify(report, null, 2));
    return { report: key, problems: byCode };
  }
}

async function imageSize(unit: PlatformDataUnit, ctx: TaskRunContext<Params>): Promise<{ width: number; height: number } | undefined> {
  const file = unit.files[ctx.params.image_specification];
  if (!file || !(await ctx.platform.fileExists(file))) return undefined;
  const body = await ctx.platform.readFile(file);
  if (body.length < 24 || body.readUInt32BE(0) !== 0x89504e47) return undefined;
  return { width: body.readUInt32BE(16), height: body.readUInt32BE(20) };
}

/**
 * post_annotation: each task's assignments with status `assignment_status` (default
 * completed) are merged by merge.ts's rule into ground-truth version `version` of dataset
 * `dataset` (made when missing). A task nobody finished is skipped. Each task's result lists
 * its disagreements; `finish` writes them all to `<report_path>/<run id>-disagreements.json`.
 * Written per task with an upsert (one event per version and data unit), so a retry
 * rewrites the same event.
 */
import {
  TaskPageParams,
  PostAnnotationTaskPages,
  z,
  type AnnotationDocument,
  type PlatformTask,
  type TaskOutcome,
  type TaskPagesSummary,
  type TaskRunContext,
} from '@synapse/sdk';
import { mergeDocuments } from './merge.js';

export const Params = TaskPageParams.extend({
  /** The ground-truth dataset (made for the project when missing) and the version to write. */
  dataset: z.string().min(1).max(100),
  version: z.string().min(1).max(100),
  assignment_status: z.enum(['submitted', 'completed']).default('completed'),
  /** Boxes of different annotators are the same object at this IoU or more. */
  iou_threshold: z.number().gt(0).max(1).default(0.5),
  storage: z.union([z.number().int().positive(), z.string().min(1)]).default('default'),
  report_path: z.string().default('post-annotation'),
});
export type Params = z.infer<typeof Params>;

export class MergeAnnotations extends PostAnnotationTaskPages<Params> {
  static override params = Params;

  async prepare(ctx: TaskRunContext<Params>): Promise<void> {
    // The dataset and version exist before any page (a name taken by another project fails here).
    const versionId = await ctx.platform.writeGroundTruth(ctx.params.project, ctx.params.dataset, ctx.params.version, []);
    ctx.logMessage(`merging into ground-truth version ${versionId} ("${ctx.params.dataset}" / "${ctx.params.version}")`);
  }

  async processTask(task: PlatformTask, ctx: TaskRunContext<Params>): Promise<TaskOutcome | null> {
    const all = (await ctx.platform.assignmentsOf([task.id])).get(task.id) ?? [];
    const done = all.filter((a) => a.status === ctx.params.assignment_status);
    if (done.length === 0) return null;
    const byAnnotator = new Map<string, AnnotationDocument>(done.map((a) => [a.annotator, a.annotations]));
    const { document, disagreements } = mergeDocuments(byAnnotator, ctx.params.iou_threshold);
    await ctx.platform.writeGroundTruth(ctx.params.project, ctx.params.dataset, ctx.params.version, [{ dataUnitId: task.dataUnit.id, annotations: document }]);
    return { data: { annotators: [...byAnnotator.keys()].sort(), annotations: document.annotations.length, disagreements } };
  }

  async finish(summary: TaskPagesSummary, ctx: TaskRunContext<Params>) {
    const list: { item: string; disagreements: unknown[] }[] = [];
    for await (const r of summary.results()) {
      const d = r.data?.disagreements as unknown[] | undefined;
      if (d?.length) list.push({ item: r.item, disagreements: d });
    }
    const versionId = await ctx.platform.writeGroundTruth(ctx.params.project, ctx.params.dataset, ctx.params.version, []);
    const key = `${ctx.params.report_path.replace(/\/+$/, '')}/${ctx.runId}-disagreements.json`.replace(/^\/+/, '');
    await ctx.platform.writeFile(
      ctx.params.storage,
      key,
      JSON.stringify({ run: ctx.runId, version_id: versionId, tasks_with_disagreements: list.length, tasks: list }, null, 2),
    );
    return { ground_truth_version: versionId, tasks_with_disagreements: list.length, disagreements_file: key };
  }
}

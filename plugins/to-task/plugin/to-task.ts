/**
 * to_task with the seed's params (project, agent, task_filters, method,
 * target_specification_name, pre_processor, pre_processor_params). Method `file`: per task,
 * the file its data unit carries under `target_specification_name` is read, parsed in its
 * format (formats.ts) and checked, and its boxes become the task's annotations (the
 * assignment of `plugin:to-task`). A task without the file, or whose file is not valid, fails
 * alone; the others go on. A project or specification that does not exist stops the run in
 * `prepare`, before any page writes anything.
 *
 * Method `inference`: per task, the image under `target_specification_name` goes to the
 * deployment `deployment` (`{"image": <base64>}`, docs/serving.md) and its answer becomes the
 * task's annotations by the SDK's one rule (sdk/predictions.ts: a classifier's label, a
 * detector's boxes), keeping what reaches `confidence_threshold`; a task whose predictions all
 * fall below it is `skipped` with them in its result. A deployment that does not exist or has
 * ended stops the run in `prepare`; one that is down (no ready replica) fails the page, which
 * Temporal retries, and when the retries are spent the run fails naming the deployment.
 */
import {
  NonRetriableError,
  predictionAnnotations,
  TaskPageParams,
  ToTaskPages,
  z,
  type PlatformProject,
  type PlatformTask,
  type TaskOutcome,
  type TaskRunContext,
} from '@synapse/sdk';
import { detectFormat, FORMATS, parseAnnotationFile, pngSize } from './formats.js';

/** The params' fields (a plugin extending to_task extends these). */
export const ToTaskFields = TaskPageParams.extend({
  /** The agent the seed runs the job for: recorded in each task's result and the run's. */
  agent: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
  method: z.enum(['file', 'inference']).default('file'),
  /** The file specification of the data unit that holds each task's annotation file (method file) or its image (method inference). */
  target_specification_name: z.string().min(1),
  /** Method inference: the deployment (its id, `synapse deployment list`) that predicts each task's image. */
  deployment: z.string().min(1).optional(),
  /** Method inference: the lowest confidence written (0..1). */
  confidence_threshold: z.number().min(0).max(1).default(0.5),
  /** The annotation file's format; `auto` tells it from the name (and JSON keys). */
  pre_processor: z.enum(FORMATS).default('auto'),
  pre_processor_params: z
    .strictObject({
      /** YOLO: class names by index (obj.names order); default the project's classes in order. */
      classes: z.array(z.string().min(1)).min(1).optional(),
      /** The file specification of the image (YOLO sizes, COCO file names). */
      image_specification: z.string().min(1).default('image'),
    })
    .prefault({}),
});

/** Method `inference` needs `deployment` (refused at the edge, exit 2, naming the field). */
export function checkMethod(p: { method: string; deployment?: string | undefined }, ctx: z.RefinementCtx): void {
  if (p.method === 'inference' && p.deployment === undefined) {
    ctx.addIssue({ code: 'custom', path: ['deployment'], message: 'method "inference" needs the deployment that predicts (its id: synapse deployment list)' });
  }
}

export const Params = ToTaskFields.superRefine(checkMethod);
export type Params = z.infer<typeof Params>;

export class ToTask extends ToTaskPages<Params> {
  static override params = Params;
  // Big pages and batches: the writes are a transaction per batch on one database (bench/to-task.ts).
  static override pageSize = 500;
  static override writeBatch = 500;
  // Each task is a file read and a parse: eight at a time overlap the reads.
  static override concurrency = 8;

  private classes: string[] | undefined;
  private project: PlatformProject | undefined;
  // (Set once per page, before the first YOLO task; concurrent tasks may both set the same value.)

  async prepare(ctx: TaskRunContext<Params>): Promise<void> {
    const project = await ctx.platform.getProject(ctx.params.project);
    const specs = project.collection.files.map((f) => f.name);
    const { target_specification_name: target } = ctx.params;
    if (!specs.includes(target)) {
      throw new NonRetriableError(
        `target_specification_name: the data collection "${project.collection.name}" of project "${project.name}" has no file specification "${target}" (it has ${specs.join(', ')})`,
      );
    }
    if (ctx.params.method === 'inference') {
      const id = ctx.params.deployment as string;
      // NotFoundError (non-retryable) when there is no such deployment: the run stops before any page.
      const deployment = await ctx.platform.getDeployment(id);
      if (deployment.status !== 'running' && deployment.status !== 'pending')
        throw new NonRetriableError(`deployment: deployment ${id} is ${deployment.status}; deploy the model again (synapse plugin run deployment ...)`);
      if (deployment.ready === 0) ctx.logMessage(`deployment ${id} has no ready replica yet: pages retry until it has`, 'WARNING');
      ctx.logMessage(`predicting "${target}" of the tasks of project "${project.name}" with deployment ${id} (threshold ${ctx.params.confidence_threshold})`);
      return;
    }
    ctx.logMessage(
      `importing "${target}" files into the tasks of project "${project.name}"${ctx.params.agent !== undefined ? ` for agent ${ctx.params.agent}` : ''}`,
    );
  }

  async processTask(task: PlatformTask, ctx: TaskRunContext<Params>): Promise<TaskOutcome> {
    if (ctx.params.method === 'inference') return this.infer(task, ctx);
    const { target_specification_name: target, pre_processor, pre_processor_params: pp } = ctx.params;
    const file = task.dataUnit.files[target];
    if (!file) throw new Error(`data unit "${task.dataUnit.uniqueKey}" has no "${target}" file`);
    const body = await ctx.platform.readFile(file);
    const format = pre_processor === 'auto' ? detectFormat(file.key, body) : pre_processor;
    const image = task.dataUnit.files[pp.image_specification];
    const stems = [task.dataUnit.uniqueKey, ...(image ? [stem(image.key)] : []), stem(file.key)];
    let size: { width: number; height: number } | undefined;
    if (format === 'yolo' && image) size = pngSize(await ctx.platform.readFile(image));
    if (format === 'yolo' && !pp.classes && !this.classes) this.classes = (await ctx.platform.getProject(ctx.params.project)).classes.map((c) => c.name);
    const annotations = parseAnnotationFile(format, body, { file: file.key, stems, ...(size ? { size } : {}), classes: pp.classes ?? this.classes ?? [] });
    return {
      annotations,
      data: { format, file: file.key, boxes: annotations.annotations.length, ...(ctx.params.agent !== undefined ? { agent: ctx.params.agent } : {}) },
    };
  }

  /** Method inference: the task's image to the deployment, its answer as annotations. */
  private async infer(task: PlatformTask, ctx: TaskRunContext<Params>): Promise<TaskOutcome> {
    const { target_specification_name: target, confidence_threshold: threshold } = ctx.params;
    const deployment = ctx.params.deployment as string;
    this.project ??= await ctx.platform.getProject(ctx.params.project);
    const file = task.dataUnit.files[target];
    if (!file) throw new Error(`data unit "${task.dataUnit.uniqueKey}" has no "${target}" file`);
    const image = await ctx.platform.readFile(file);
    const answer = await ctx.platform.predict(deployment, { image: image.toString('base64') });
    const size = pngSize(image);
    const { annotations, below } = predictionAnnotations(answer, { threshold, classes: this.project.classes, ...(size ? { size } : {}) });
    const data = {
      deployment,
      file: file.key,
      predictions: annotations.length,
      ...(below.length ? { below } : {}),
      ...(ctx.params.agent !== undefined ? { agent: ctx.params.agent } : {}),
    };
    if (annotations.length === 0) return { status: 'skipped', data };
    return { annotations: { data_type: this.project.dataType, annotations }, data };
  }
}

function stem(key: string): string {
  const last = key.split('/').pop() ?? key;
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(0, dot) : last;
}

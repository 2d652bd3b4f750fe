/**
 * auto_label served (sdk/auto-label.ts): per request, the image of a task of `project` (its
 * `image_specification` file) or the image in the body, cropped to `region` when one is given,
 * goes to the model's deployment `model_deployment`; its answer becomes suggested annotations
 * of the project by the SDK's one rule (sdk/predictions.ts: a classifier's label as a
 * classification or a box over the region, a detector's boxes moved back into the image),
 * keeping what reaches `confidence_threshold`. The model is given what is left of
 * `latency_budget_ms`; past it the request fails saying so (HTTP 500 from the replica), never
 * hangs. An unknown task, a region outside the image or a body that is not a PNG is a 400
 * naming the field. `load` fails the replica when the project or the model's deployment does
 * not exist (the deployment's status shows why).
 */
import { performance } from 'node:perf_hooks';
import {
  AutoLabelServe,
  DeploymentParams,
  ParamsError,
  predictionAnnotations,
  UnavailableError,
  z,
  type PlatformApi,
  type PlatformProject,
  type Predictions,
  type ServeContext,
  cropPng,
  decodePng,
} from '@synapse/sdk';

export const Params = DeploymentParams.extend({
  /** The model's deployment (its id: synapse deployment list); its input is {"image": <base64 PNG>}. */
  model_deployment: z.string().min(1),
  /** Project id or name: its classes are what may be suggested, its tasks what `task` names. */
  project: z.union([z.number().int().positive(), z.string().min(1)]),
  /** The data unit's file that is the image. */
  image_specification: z.string().min(1).default('image'),
  /** The lowest confidence suggested (0..1). */
  confidence_threshold: z.number().min(0).max(1).default(0.5),
  /** How long a request may take in all, model included (ms). */
  latency_budget_ms: z.number().int().min(50).max(60_000).default(2000),
});
export type Params = z.output<typeof Params>;

const Region = z.strictObject({ x: z.number().min(0), y: z.number().min(0), width: z.number().positive(), height: z.number().positive() });

export const Input = z
  .strictObject({
    /** A task of the project: its image is used. */
    task: z.number().int().positive().optional(),
    /** Or an image (base64 PNG). */
    image: z.base64().min(1).optional(),
    /** The part of the image to label (pixels); default the whole image. */
    region: Region.optional(),
  })
  .refine((i) => (i.task === undefined) !== (i.image === undefined), { message: 'give "task" or "image", one of them', path: ['task'] });
export type Input = z.output<typeof Input>;

export interface Output {
  suggestions: Predictions['annotations'];
  below: Predictions['below'];
  model_deployment: string;
  task?: number;
  /** Time this request took, model included. */
  ms: number;
}

export class AutoLabel extends AutoLabelServe<Input, Output, Params> {
  static override params = Params;
  static override input = Input;

  private platform!: PlatformApi;
  private params!: Params;
  private project!: PlatformProject;

  async load(ctx: ServeContext<Params>): Promise<void> {
    this.platform = ctx.platform;
    this.params = ctx.params;
    this.project = await ctx.platform.getProject(ctx.params.project);
    const model = await ctx.platform.getDeployment(ctx.params.model_deployment).catch((err: unknown) => {
      throw new Error(`model_deployment: ${err instanceof Error ? err.message : String(err)}`);
    });
    ctx.logMessage(`suggesting classes of project "${this.project.name}" from deployment ${model.id} (${model.status}, ${model.ready} ready)`);
  }

  async predict(input: Input): Promise<Output> {
    const started = performance.now();
    const { model_deployment: deployment, latency_budget_ms: budget } = this.params;
    const png = input.task !== undefined ? await this.taskImage(input.task) : Buffer.from(input.image as string, 'base64');
    let image;
    try {
      image = decodePng(png, input.task !== undefined ? `the image of task ${input.task}` : 'image');
    } catch (err) {
      throw new ParamsError('invalid input', [
        { path: input.task !== undefined ? 'task' : 'image', message: err instanceof Error ? err.message : String(err) },
      ]);
    }
    const { region } = input;
    if (region && (region.x + region.width > image.width || region.y + region.height > image.height))
      throw new ParamsError('invalid input', [{ path: 'region', message: `reaches outside the ${image.width} x ${image.height} image` }]);
    const sent = region ? cropPng(image, region) : png;
    const left = Math.max(1, budget - (performance.now() - started));
    let answer: unknown;
    try {
      answer = await this.platform.predict(deployment, { image: sent.toString('base64') }, { timeoutMs: left });
    } catch (err) {
      if (err instanceof UnavailableError && performance.now() - started >= budget)
        throw new Error(`deployment ${deployment} did not answer within the latency budget of ${budget} ms`);
      throw err;
    }
    const { annotations, below } = predictionAnnotations(answer, {
      threshold: this.params.confidence_threshold,
      classes: this.project.classes,
      size: { width: image.width, height: image.height },
      ...(region ? { region } : {}),
      idPrefix: 'suggestion',
    });
    return {
      suggestions: annotations,
      below,
      model_deployment: deployment,
      ...(input.task !== undefined ? { task: input.task } : {}),
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
  }

  private async taskImage(taskId: number): Promise<Buffer> {
    const [task] = (await this.platform.listTasks(this.project.id, { id__in: [taskId] }, { limit: 1 })).items;
    if (!task) throw new ParamsError('invalid input', [{ path: 'task', message: `no task ${taskId} in project "${this.project.name}"` }]);
    const file = task.dataUnit.files[this.params.image_specification];
    if (!file) throw new ParamsError('invalid input', [{ path: 'task', message: `task ${taskId} has no "${this.params.image_specification}" file` }]);
    return this.platform.readFile(file);
  }
}

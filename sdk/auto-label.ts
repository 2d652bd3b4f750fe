/**
 * smart_tool/auto_label as a served action: an annotation tool asks for suggestions while a
 * person labels, so the action is served like a deployment (replicas answering HTTP; method
 * `restapi`), not run as a job. Its `load` gets ctx.platform (read the task's image, call the
 * model's deployment with `platform.predict`); its `predict` answers one request within the
 * tool's latency budget. `plugins/auto-label` is the built-in one.
 *
 * ```ts
 * export class Suggest extends AutoLabelServe<Input, Output, Params> {
 *   static override params = Params;   // DeploymentParams + the model's deployment, the project, ...
 *   static override input = Input;     // { task } or { image, region }
 *   async load(ctx: ServeContext<Params>) { this.platform = ctx.platform; }
 *   async predict(input: Input) { ... }
 * }
 * ```
 */
import type { Category } from './categories.js';
import type { DeploymentParams } from '../contracts/deployment.js';
import { ServeAction } from './serve.js';

export abstract class AutoLabelServe<I = unknown, O = unknown, P extends DeploymentParams = DeploymentParams> extends ServeAction<I, O, P> {
  static override action = 'auto_label';
  static override category: Category = 'smart_tool';
}

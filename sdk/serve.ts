/**
 * What a plugin author writes to serve a model over HTTP (neural_net `deployment`, method
 * `restapi`): a ServeAction. The engine creates one instance per replica, calls `load` once
 * (read the model, warm it up), then `predict` for every request whose body passed the
 * `static input` schema. `predict` may be called concurrently; a model that is not safe
 * for that serialises itself. A `load` that throws fails the replica and the deployment
 * shows why (a load error does not retry: the same file fails the same way).
 *
 * ```ts
 * export class Serve extends ServeAction {
 *   static override input = z.strictObject({ image: z.string().min(1) });
 *   async load(ctx: ServeContext) { this.net = parse(await readFile(...)); }
 *   async predict(input: { image: string }) { return { label: 'circle', scores: { circle: 0.9 } }; }
 * }
 * ```
 */
import { z } from 'zod';
import { DeploymentParams } from '../contracts/deployment.js';
import { NonRetriableError } from '../contracts/errors.js';
import { DeploymentAction } from './category-actions.js';

export { DeploymentParams } from '../contracts/deployment.js';
import type { LogLevel } from './run-context.js';
import type { PlatformApi } from './platform-api.js';

/** What `load` gets. */
export interface ServeContext<P = DeploymentParams> {
  /** The deployment's params (checked with the action's `static params`). */
  params: P;
  /** The plugin's folder (files shipped with it). */
  pluginDir: string;
  /** The registered model's file, when the params name one (`model`); else null. */
  modelBytes(): Promise<Buffer | null>;
  logMessage(message: string, level?: LogLevel): void;
  /** Aborted when the replica stops (scale down, undeploy). */
  signal: AbortSignal;
  /** The platform (sdk/platform-api.ts): tasks, files, other deployments' predictions (auto_label). Keep it for predict. */
  platform: PlatformApi;
}

export abstract class ServeAction<I = unknown, O = unknown, P extends DeploymentParams = DeploymentParams> extends DeploymentAction<P, never> {
  static override method = 'restapi' as const;
  static override params: z.ZodType = DeploymentParams;
  /** Schema of a predict request's JSON body; a failing body is a 400 naming the field. */
  static input: z.ZodType = z.unknown();
  /** Schema of predict's value (the OpenAPI and the demo page); a deployment's replica checks each answer with it (a failing one is a 500 naming the field). */
  static output: z.ZodType = z.unknown();

  /** Loads the model once per replica. Throw to fail the replica (the reason is shown). */
  abstract load(ctx: ServeContext<P>): Promise<void>;
  /** One prediction; its value (JSON) is the response body. */
  abstract predict(input: I): Promise<O>;

  /** A deployment is served, never started as a one-step run. */
  start(): Promise<never> {
    return Promise.reject(new NonRetriableError('a ServeAction runs as a deployment (synapse plugin run deployment ...), not as a single step'));
  }
}

export type ServeActionClass = (abstract new () => ServeAction) & { params: z.ZodType; input: z.ZodType; output: z.ZodType; name: string };

export function isServeActionClass(value: unknown): value is ServeActionClass {
  return typeof value === 'function' && value.prototype instanceof ServeAction;
}

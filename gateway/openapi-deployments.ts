/**
 * The served actions' own request and answer schemas in /openapi.json (docs/serving.md):
 * the rest of the document (gateway/openapi.ts) describes the predict route with a generic
 * object body, since which model a deployment serves is known only at run time. This adds,
 * for every plugin this gateway can start that has served (`restapi`) actions, its input and
 * output schemas as components (`deploy.<plugin>.<action>.input` / `.output`, from zod for a
 * TypeScript ServeAction, from config.yaml's JSON Schema for Python: engine/serve-schemas.ts),
 * the seed-style path of each action name (`POST /v1/deployments/{id}/<action>`, its body
 * any of the inputs of the plugins with that action) and the predict body as any of all of
 * them. A plugin whose action does not load is left out (`synapse plugin check` says why).
 *
 * The schemas are computed where the action's class loads, never in the gateway: a TypeScript
 * action's in a plugin host (activities/plugin-host-describe.ts, cached per plugin bundle key,
 * so an edited plugin is described again), a Python action's from its config.yaml.
 */
import { describeInPluginHosts } from '../activities/plugin-host-describe.js';
import { listPlugins, type Plugin } from '../engine/plugin-loader.js';
import type { ActionDescriber } from '../engine/run-params.js';
import type { JsonSchema } from '../engine/serve-schemas.js';

type Json = Record<string, unknown>;

export interface ServedActionSchemas {
  plugin: string;
  action: string;
  input: JsonSchema;
  output: JsonSchema;
}

/**
 * The served actions of `plugins` (default: every plugin the gateway finds) with their schemas,
 * described by `describer` (default: in plugin hosts). A plugin whose action does not load,
 * or whose host fails while describing it, is left out.
 */
export async function servedActionSchemas(plugins?: Plugin[], describer: ActionDescriber = describeInPluginHosts): Promise<ServedActionSchemas[]> {
  const out: ServedActionSchemas[] = [];
  for (const plugin of plugins ?? (await listPlugins())) {
    for (const [name, config] of Object.entries(plugin.config.actions)) {
      if (config.method !== 'restapi') continue;
      try {
        const { serve } = await describer.describe(plugin, name, { parse: false });
        if (serve) out.push({ plugin: plugin.config.code, action: name, input: serve.input, output: serve.output });
      } catch {
        // not servable as it is: `synapse plugin check` names the problem
      }
    }
  }
  return out;
}

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
// anyOf, not oneOf: two actions of one plugin (deployment, gradio) may take the same body.
const anyOf = (refs: Json[]): Json => (refs.length === 1 ? (refs[0] as Json) : { anyOf: refs });
const componentId = (s: ServedActionSchemas, which: 'input' | 'output'): string => `deploy.${s.plugin}.${s.action}.${which}`;

/**
 * `document` (an OpenAPI 3.1 object from openApiDocument) with the served actions' schemas
 * added; a new object, `document` is not changed.
 */
export function withDeploymentSchemas(document: Json, served: ServedActionSchemas[]): Json {
  if (served.length === 0) return document;
  const components = (document.components ?? {}) as Json;
  const schemas: Json = { ...((components.schemas ?? {}) as Json) };
  const paths: Json = { ...((document.paths ?? {}) as Json) };
  for (const s of served) {
    schemas[componentId(s, 'input')] = { ...s.input, description: String(s.input.description ?? `${s.plugin} ${s.action}: a prediction's request body`) };
    schemas[componentId(s, 'output')] = { ...s.output, description: String(s.output.description ?? `${s.plugin} ${s.action}: a prediction's answer`) };
  }
  const byAction = new Map<string, ServedActionSchemas[]>();
  for (const s of served) byAction.set(s.action, [...(byAction.get(s.action) ?? []), s]);
  const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
  const operation = (name: string, list: ServedActionSchemas[]): Json => ({
    post: {
      operationId: `deployment_${name}`,
      summary: `A prediction by a ready replica of a deployment serving \`${name}\` (${list.map((s) => s.plugin).join(', ')}); the same as /predict (scope runs:read)`,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'deployment (run) id' }],
      requestBody: { required: true, content: { 'application/json': { schema: anyOf(list.map((s) => ref(componentId(s, 'input')))) } } },
      responses: {
        '200': { description: "the action's answer", content: { 'application/json': { schema: anyOf(list.map((s) => ref(componentId(s, 'output')))) } } },
        '400': problem('the body fails the input schema; `errors` names each field'),
        '401': problem('missing, malformed, unknown or revoked token'),
        '404': problem('unknown or ended deployment, or it does not serve this action'),
        '413': problem('body too large'),
        '503': problem('no replica ready (Retry-After)'),
        '504': problem('the replica did not answer in time'),
      },
    },
  });
  for (const [name, list] of byAction) {
    const key = `/v1/deployments/{id}/${name}`;
    if (!(key in paths)) paths[key] = operation(name, list); // never over a route the gateway itself defines
  }
  const predict = paths['/v1/deployments/{id}/predict'] as { post?: Json } | undefined;
  if (predict?.post) {
    const inputs = served.map((s) => ref(componentId(s, 'input')));
    paths['/v1/deployments/{id}/predict'] = {
      ...predict,
      post: { ...predict.post, requestBody: { required: true, content: { 'application/json': { schema: anyOf(inputs) } } } },
    };
  }
  return { ...document, components: { ...components, schemas }, paths };
}

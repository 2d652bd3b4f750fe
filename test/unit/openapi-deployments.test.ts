/**
 * Served actions' schemas in /openapi.json (gateway/openapi-deployments.ts): a TypeScript
 * ServeAction's zod input (test/fixtures/plugins/serve-ts) and a Python plugin's config.yaml
 * JSON Schema (train-image-classifier, two actions with one body) become components, the
 * seed-style action paths and the predict body; /openapi.json of the docs router carries the
 * built-in plugin's.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPlugin } from '../../engine/plugin-loader.js';
import { servedActionSchemas, withDeploymentSchemas } from '../../gateway/openapi-deployments.js';
import { openApiDocument } from '../../gateway/openapi.js';
import { docsRouter } from '../../gateway/routes/docs.js';
import { ROOT } from '../helpers.js';

type Doc = {
  paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, unknown> } }>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

describe('deployment schemas in the OpenAPI document', () => {
  it('zod and config.yaml schemas become components, action paths and the predict body', async () => {
    const plugins = [await findPlugin(path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts')), await findPlugin('train-image-classifier')];
    const served = await servedActionSchemas(plugins);
    expect(served.map((s) => `${s.plugin}.${s.action}`)).toEqual(['serve-ts.deployment', 'train-image-classifier.deployment', 'train-image-classifier.gradio']);

    const doc = withDeploymentSchemas(openApiDocument(), served) as Doc;
    const ts = doc.components.schemas['deploy.serve-ts.deployment.input']!;
    expect(ts).toMatchObject({ type: 'object', required: ['image'], additionalProperties: false });
    expect((ts.properties as Record<string, Record<string, unknown>>).image).toMatchObject({
      type: 'string',
      contentEncoding: 'base64',
      description: 'a PNG, base64',
    });
    expect(doc.components.schemas['deploy.train-image-classifier.gradio.output']).toMatchObject({ required: ['label', 'scores', 'boxes'] });

    // The seed-style path of `deployment` takes either plugin's body; `gradio` only the classifier's.
    const body = (p: string) => doc.paths[p]!.post!.requestBody!.content['application/json']!.schema;
    expect(body('/v1/deployments/{id}/deployment')).toEqual({
      anyOf: [
        { $ref: '#/components/schemas/deploy.serve-ts.deployment.input' },
        { $ref: '#/components/schemas/deploy.train-image-classifier.deployment.input' },
      ],
    });
    expect(body('/v1/deployments/{id}/gradio')).toEqual({ $ref: '#/components/schemas/deploy.train-image-classifier.gradio.input' });
    expect((body('/v1/deployments/{id}/predict').anyOf as unknown[]).length).toBe(3);
    expect(Object.keys(doc.paths['/v1/deployments/{id}/predict']!.post!.responses)).toEqual(expect.arrayContaining(['200', '400', '503']));
    // Every $ref points at a component that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => !(r in doc.components.schemas))).toEqual([]);
  });

  it('a document without served actions is returned as it was', () => {
    const doc = openApiDocument();
    expect(withDeploymentSchemas(doc, [])).toBe(doc);
  });

  it("/openapi.json carries the built-in plugins' served actions", async () => {
    const app = express().use(docsRouter());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as Doc;
      expect(doc.components.schemas).toHaveProperty(['deploy.train-image-classifier.deployment.input']);
      expect(doc.paths).toHaveProperty(['/v1/deployments/{id}/gradio']);
    } finally {
      server.close();
    }
  });
});

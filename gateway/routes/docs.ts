/**
 * `GET /` (links to the docs), /openapi.json and /docs, an interactive API page (Swagger UI,
 * served from the installed swagger-ui-dist package: works offline; no inline script, so
 * the strict CSP holds).
 */
import express, { Router } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import { openApiDocument } from '../openapi.js';
import { finalizeDocument } from '../openapi-params.js';
import { servedActionSchemas, withDeploymentSchemas } from '../openapi-deployments.js';

const SWAGGER_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Synapse gateway API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
});
`;

/** What `GET /` answers (JSON): the API's entry points. */
export const ROOT_LINKS = {
  name: 'Synapse gateway',
  docs: '/docs',
  openapi: '/openapi.json',
  api: '/v1',
  health: '/healthz',
  ready: '/readyz',
  auth: 'every /v1 route needs Authorization: Bearer <token> (synapse token create)',
};

export function docsRouter(): Router {
  const router = Router();
  // Built on the first request: the served actions' schemas (gateway/openapi-deployments.ts) load every plugin.
  let document: Promise<string> | undefined;
  // `GET /`: where to go next. Browsers go to the docs page; other clients get the links.
  router.get('/', (_req, res) => {
    res.set('Link', '</docs>; rel="service-doc", </openapi.json>; rel="service-desc"');
    res.format({
      'application/json': () => res.json(ROOT_LINKS),
      'text/html': () => res.redirect(302, '/docs'),
      default: () => res.json(ROOT_LINKS),
    });
  });
  router.get('/openapi.json', async (_req, res) => {
    document ??= servedActionSchemas().then(
      // Patterns and 400s for the paths the served actions add too (gateway/openapi-params.ts).
      (served) => JSON.stringify(finalizeDocument(withDeploymentSchemas(openApiDocument(), served))),
      () => JSON.stringify(openApiDocument()),
    );
    res.type('application/json').send(await document);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  router.use('/docs/assets', express.static(SWAGGER_DIR, { index: false, maxAge: '1h' }));
  return router;
}

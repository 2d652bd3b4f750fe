/**
 * Every deployment's demo page (docs/serving.md, the neural_net `gradio` action): a page a
 * person opens in a browser, `GET /v1/deployments/{id}/demo`, whose form is built from the
 * served action's input schema and which shows the prediction (labels with scores, boxes on
 * the image). The page and its script (gateway/demo-page-script.ts) carry no secret and are
 * served without a token; everything they fetch goes through the normal /v1 routes.
 *
 * Signing in: a browser cannot send `Authorization: Bearer`, and a token in the URL would end
 * in logs and history. The page's login form POSTs the token in the body to
 * `/v1/deployments/{id}/demo/login`, which checks it and sets the `synapse_token` cookie
 * (HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it, which is the
 * CSRF defence; Path=/v1; Secure behind TLS; 8 hours), then redirects (303) to the page. The
 * gateway's authenticate() takes the cookie when there is no Authorization header. A wrong
 * token: 401 with the form again. `.../demo/logout` clears the cookie.
 *
 * Mounted before /v1's token check (gateway/app.ts); the page's CSP is the gateway's
 * (helmet: scripts from this origin only, images from it and data: URLs).
 */
import express, { Router, type Response } from 'express';
import { TOKEN_COOKIE } from './auth.js';
import { DEMO_PAGE_SCRIPT } from './demo-page-script.js';
import type { TokenStore } from './token-store.js';

const DEPLOYMENT_ID = /^[A-Za-z0-9][\w.-]{0,199}$/;
/** How long the sign-in cookie lives. */
const COOKIE_SECONDS = 8 * 3600;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const STYLE = `
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
  h1 { font-size: 1.3rem; } code { font-size: .95em; } #about { color: #555; margin-top: -.6rem; }
  .field { display: flex; flex-direction: column; gap: .25rem; margin: .8rem 0; }
  .field span { font-weight: 600; } input[type=text], input[type=number], select, textarea { font: inherit; padding: .3rem; }
  button { font: inherit; padding: .4rem 1.1rem; cursor: pointer; }
  #status { padding: .4rem .6rem; background: #f2f2f5; border-radius: 4px; }
  #status[data-state=error] { background: #fde8ec; color: #9b1030; }
  #result { display: grid; grid-template-columns: auto 1fr; gap: 1.2rem; align-items: start; margin-top: 1rem; }
  #label { font-size: 1.4rem; font-weight: 700; margin: 0 0 .4rem; }
  #labels { list-style: none; padding: 0; margin: 0; } #labels li { display: grid; grid-template-columns: 7rem 8rem 4rem; gap: .5rem; align-items: center; }
  #labels li:first-child { font-weight: 700; } #preview { border: 1px solid #ccc; image-rendering: pixelated; }
  #raw { grid-column: 1 / -1; background: #f7f7f9; padding: .6rem; overflow: auto; max-height: 14rem; }
  #logout { margin-top: 2rem; }
`;

/** The page's HTML; `error` shows above the login form (a refused token). */
export function demoPageHtml(deployment: string, error?: string): string {
  const id = escapeHtml(deployment);
  const base = `/v1/deployments/${encodeURIComponent(deployment)}/demo`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Demo of deployment ${id}</title>
  <style>${STYLE}</style>
</head>
<body data-deployment="${id}">
  <h1>Deployment <code>${id}</code></h1>
  <p id="about"></p>
  <section id="login"${error ? '' : ' hidden'}>
    ${error ? `<p class="error" id="login-error">${escapeHtml(error)}</p>` : ''}
    <form method="post" action="${base}/login">
      <label class="field"><span>Gateway token</span><input type="password" name="token" autocomplete="current-password" required></label>
      <button type="submit" id="sign-in">Sign in</button>
    </form>
  </section>
  <form id="inputs" hidden>
    <div id="fields"></div>
    <button type="submit" id="predict">Predict</button>
  </form>
  <p id="status" role="status" data-state="loading">Loading…</p>
  <section id="result" hidden>
    <canvas id="preview" width="0" height="0" hidden></canvas>
    <div><p id="label"></p><ol id="labels"></ol></div>
    <pre id="raw"></pre>
  </section>
  <form id="logout" method="post" action="${base}/logout" hidden><button type="submit">Sign out</button></form>
  <script src="/v1/demo/app.js"></script>
</body>
</html>
`;
}

function page(res: Response, status: number, html: string): void {
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

export function demoPageRouter(options: { tokens: TokenStore }): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 4 });

  router.get('/v1/demo/app.js', (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'no-cache').send(DEMO_PAGE_SCRIPT);
  });

  router.get('/v1/deployments/:id/demo', (req, res, next) => {
    const id = req.params.id;
    if (!DEPLOYMENT_ID.test(id)) return next();
    page(res, 200, demoPageHtml(id));
  });

  router.post('/v1/deployments/:id/demo/login', form, async (req, res, next) => {
    const id = req.params.id;
    if (!DEPLOYMENT_ID.test(id)) return next();
    const token: unknown = (req.body as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || token.trim() === '') return page(res, 400, demoPageHtml(id, 'token: required'));
    try {
      const check = await options.tokens.verify(token.trim());
      if (!check.ok) return page(res, 401, demoPageHtml(id, check.reason === 'revoked' ? 'token: it was revoked' : 'token: unknown or malformed'));
    } catch (err) {
      return next(err);
    }
    res.cookie(TOKEN_COOKIE, token.trim(), { httpOnly: true, sameSite: 'strict', path: '/v1', secure: req.secure, maxAge: COOKIE_SECONDS * 1000 });
    res.redirect(303, `/v1/deployments/${encodeURIComponent(id)}/demo`);
  });

  router.post('/v1/deployments/:id/demo/logout', (req, res, next) => {
    const id = req.params.id;
    if (!DEPLOYMENT_ID.test(id)) return next();
    res.clearCookie(TOKEN_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/v1', secure: req.secure });
    res.redirect(303, `/v1/deployments/${encodeURIComponent(id)}/demo`);
  });

  return router;
}

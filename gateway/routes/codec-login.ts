/**
 * /codec/login: how a person's browser gets a credential the Temporal Web UI can send to
 * /codec. The UI calls the codec endpoint from the browser and can add no header of ours, but
 * with "include cross-origin credentials" it sends the gateway's cookies. This page takes a
 * token with the `codec` scope in a form (never in a URL) and sets it as the HttpOnly,
 * SameSite=Strict `synapse_token` cookie for the /codec path only; /codec's authenticate()
 * reads that cookie when there is no Authorization header. POST /codec/logout clears it.
 * SameSite=Strict: the UI must be on the same site as the gateway (same host, any port, or
 * subdomains of one domain), which is how they are deployed together.
 */
import express, { Router, type Response } from 'express';
import { TOKEN_COOKIE } from '../auth.js';
import type { TokenStore } from '../token-store.js';

const COOKIE_SECONDS = 8 * 3600;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: Response, status: number, message: string): void {
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Synapse codec sign-in</title></head><body>` +
        `<h1>Decode payloads in the Temporal Web UI</h1><p>${escapeHtml(message)}</p>` +
        `<form method="post" action="/codec/login"><label>Token with the <code>codec</code> scope ` +
        `<input type="password" name="token" autocomplete="off" required></label> <button type="submit">Sign in</button></form>` +
        `<form method="post" action="/codec/logout"><button type="submit">Sign out</button></form></body></html>`,
    );
}

export function codecLoginRouter(tokens: TokenStore): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const cookie = (secure: boolean) => ({ httpOnly: true, sameSite: 'strict' as const, path: '/codec', secure });

  router.get('/login', (_req, res) =>
    page(res, 200, 'Sign in once; the Web UI then sends this cookie to /codec (codec setting "include cross-origin credentials").'),
  );

  router.post('/login', form, async (req, res) => {
    const token: unknown = (req.body as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || token.trim() === '') return page(res, 400, 'token: required');
    const check = await tokens.verify(token.trim());
    if (!check.ok) return page(res, 401, check.reason === 'revoked' ? 'token: it was revoked' : 'token: unknown or malformed');
    if (!check.token.scopes.includes('codec')) return page(res, 403, 'token: it lacks the scope "codec" (synapse token create --scope codec)');
    res.cookie(TOKEN_COOKIE, token.trim(), { ...cookie(req.secure), maxAge: COOKIE_SECONDS * 1000 });
    page(res, 200, `Signed in as token ${check.token.id}: the Web UI can decode payloads for ${COOKIE_SECONDS / 3600} hours.`);
  });

  router.post('/logout', (req, res) => {
    res.clearCookie(TOKEN_COOKIE, cookie(req.secure));
    page(res, 200, 'Signed out.');
  });
  return router;
}

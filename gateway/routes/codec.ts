/**
 * /codec/encode and /codec/decode: the Temporal codec-server protocol (docs.temporal.io,
 * "Codec Server"), so the Temporal Web UI (and `temporal workflow show --codec-endpoint`) can
 * show the payloads the worker and clients encrypt (client/codec.ts) to people allowed to see
 * them. Body and answer: `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 *
 * Authenticated like /v1 (a bearer token, or the `synapse_token` cookie), with the `codec`
 * scope, which tokens get only when it is named (`synapse token create --scope codec`). The
 * browser calls this from the UI's origin: CORS allows the origins of SYNAPSE_CODEC_CORS_ORIGINS
 * (comma-separated), by default the Temporal UI this gateway knows (TEMPORAL_UI_URL or the dev
 * server's), with credentials (for the cookie) and the Authorization and X-Namespace headers.
 * A preflight needs no token.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Payload } from '@temporalio/common';
import { PayloadKeyError, payloadCodecFor } from '../../client/codec.js';
import type { Settings } from '../../client/settings.js';
import { InvalidInputError } from '../../contracts/errors.js';
import { authenticate, requireScope } from '../auth.js';
import { codecLoginRouter } from './codec-login.js';
import { HttpProblem, zodIssues } from '../problem.js';
import { CodecBody, type CodecPayload } from '../schemas.js';
import type { TokenStore } from '../token-store.js';

/** The largest body /codec accepts. */
export const CODEC_BODY_LIMIT = '8mb';

/** Allowed browser origins: SYNAPSE_CODEC_CORS_ORIGINS, else the origin of the known Temporal UI. */
export function codecCorsOrigins(settings: Settings, env: NodeJS.ProcessEnv = process.env): string[] {
  const configured = env.SYNAPSE_CODEC_CORS_ORIGINS?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (configured && configured.length > 0) return configured;
  const ui = settings.temporal.uiUrl;
  if (!ui) return [];
  try {
    return [new URL(ui).origin];
  } catch {
    return [];
  }
}

function toPayload(p: CodecPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  };
}

function fromPayload(p: Payload): CodecPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export interface CodecRouteOptions {
  tokens: TokenStore;
  settings: Settings;
  /** Browser origins allowed to call (CORS). Default: codecCorsOrigins(settings). */
  corsOrigins?: string[];
}

/** The /codec router (mount it at /codec). */
export function codecRouter(options: CodecRouteOptions): Router {
  const codec = payloadCodecFor(options.settings.codec);
  const origins = new Set(options.corsOrigins ?? codecCorsOrigins(options.settings));
  const router = Router();

  router.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('Origin');
    res.vary('Origin');
    if (origin && origins.has(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-Namespace',
        'Access-Control-Max-Age': '600',
      });
    }
    if (req.method === 'OPTIONS') {
      if (origin && !origins.has(origin)) return next(new HttpProblem(403, `origin ${origin} may not call /codec (SYNAPSE_CODEC_CORS_ORIGINS)`));
      res.status(204).end();
      return;
    }
    next();
  });
  // The browser sign-in that sets the cookie the Web UI sends (before the token check).
  router.use(codecLoginRouter(options.tokens));
  router.use(authenticate(options.tokens), requireScope('codec'));
  router.use((req: Request, _res: Response, next: NextFunction) => {
    if (!req.is(['application/json', 'application/*+json'])) {
      return next(new HttpProblem(415, `send the body as application/json, not ${req.get('Content-Type') ?? 'an unknown type'}`));
    }
    next();
  });
  router.use(express.json({ limit: CODEC_BODY_LIMIT, strict: true }));

  const handle = (direction: 'encode' | 'decode') => async (req: Request, res: Response) => {
    const parsed = CodecBody.safeParse(req.body ?? {});
    if (!parsed.success) throw new InvalidInputError('invalid request body', zodIssues(parsed.error));
    if (!codec) throw new HttpProblem(501, 'payload encryption is not configured on this gateway (set SYNAPSE_CODEC_KEY, as on the worker)');
    const payloads = parsed.data.payloads.map(toPayload);
    let out: Payload[];
    try {
      out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
    } catch (err) {
      // Here the payload is the caller's: one under a key this gateway lacks is bad input.
      if (err instanceof PayloadKeyError) throw new InvalidInputError('cannot decode', [{ path: 'payloads', message: err.message }]);
      throw err;
    }
    res.json({ payloads: out.map(fromPayload) });
  };
  router.post('/encode', handle('encode'));
  router.post('/decode', handle('decode'));
  return router;
}

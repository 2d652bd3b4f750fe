/**
 * `Authorization: Bearer <token>` on every /v1 route (or, for a person using the demo page in
 * a browser, the `synapse_token` cookie its login form sets; the header wins). 401 when the token is missing,
 * malformed, unknown or revoked (the caller must authenticate); 403 when a valid token
 * lacks the scope the route needs (authenticating again will not help).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpProblem } from './problem.js';
import type { Scope, TokenCheck, TokenInfo, TokenStore } from './token-store.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The token the request authenticated with (its id and scopes; never the secret). */
    token?: TokenInfo;
  }
}

const CHALLENGE = 'Bearer realm="synapse"';

export function authenticate(tokens: TokenStore): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    // The demo page's login form (gateway/demo-page.ts) keeps the token in an HttpOnly cookie.
    const cookie = tokenCookie(req.headers.cookie);
    const header = req.headers.authorization ?? (cookie ? `Bearer ${cookie}` : undefined);
    if (!header) {
      return next(
        new HttpProblem(401, 'send Authorization: Bearer <token> (create one with `synapse token create`)', undefined, { 'WWW-Authenticate': CHALLENGE }),
      );
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    let check: TokenCheck;
    try {
      check = match ? await tokens.verify(match[1] as string) : { ok: false, reason: 'malformed' };
    } catch (err) {
      return next(err);
    }
    if (!check.ok) {
      const detail =
        check.reason === 'revoked' ? 'the token was revoked' : check.reason === 'unknown' ? 'unknown token' : 'malformed Authorization header or token';
      return next(new HttpProblem(401, detail, undefined, { 'WWW-Authenticate': `${CHALLENGE}, error="invalid_token"` }));
    }
    req.token = check.token;
    next();
  };
}

/** The cookie the demo page's login form sets (HttpOnly, SameSite=Strict, Path=/v1). */
export const TOKEN_COOKIE = 'synapse_token';

function tokenCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function requireScope(scope: Scope): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!req.token) return next(new HttpProblem(401, 'not authenticated', undefined, { 'WWW-Authenticate': CHALLENGE }));
    if (!req.token.scopes.includes(scope)) {
      return next(
        new HttpProblem(403, `this token lacks the scope "${scope}"`, undefined, {
          'WWW-Authenticate': `${CHALLENGE}, error="insufficient_scope", scope="${scope}"`,
        }),
      );
    }
    next();
  };
}

/** Request headers fit for a log line: credentials replaced. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [key, value] of Object.entries(headers)) {
    out[key] = /^(authorization|proxy-authorization|cookie|x-api-key)$/i.test(key) && value !== undefined ? '[redacted]' : value;
  }
  return out;
}

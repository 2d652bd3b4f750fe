/**
 * 405 for a path the gateway serves asked with a method it does not (TRACE, PUT on a run, ...),
 * with an `Allow` header, instead of 404: which paths take which methods is read from the
 * OpenAPI document (gateway/openapi.ts), so the answer and the document agree.
 */
import type { NextFunction, Request, Response } from 'express';
import { HttpProblem } from './problem.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface PathMethods {
  pattern: RegExp;
  allow: string[];
}

/** `/v1/runs/{id}` -> /^\/v1\/runs\/[^/]+$/ and its methods (GET implies HEAD, as Express answers it). */
export function pathMethods(paths: Record<string, Record<string, unknown>>): PathMethods[] {
  return Object.entries(paths).map(([template, item]) => {
    const source = template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    const allow = METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
    if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
    return { pattern: new RegExp(`^${source}/?$`), allow };
  });
}

/** Before the 404: a known path with another method is a 405 naming the methods it takes. */
export function methodNotAllowed(paths: Record<string, Record<string, unknown>>) {
  const table = pathMethods(paths);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const entry = table.find((t) => t.pattern.test(req.path));
    if (entry && !entry.allow.includes(req.method)) {
      return next(
        new HttpProblem(405, `${req.method} is not allowed on ${req.path}; use ${entry.allow.join(', ')}`, undefined, { Allow: entry.allow.join(', ') }),
      );
    }
    next();
  };
}

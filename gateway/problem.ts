/**
 * Errors as `application/problem+json` (RFC 9457), mapped the way DESIGN.md section 8 says:
 * the SynapseError subclasses carry their HTTP status; bad input lists every problem with
 * its field path. Never a stack trace, never a secret, in what a caller sees.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { z } from 'zod';
import { InvalidInputError, SynapseError, type Problem } from '../contracts/errors.js';
import { clientText } from './client-text.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const ProblemSchema = z.object({
  type: z.string().describe('a URI reference naming the kind of problem (see docs/gateway.md)'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  errors: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('every invalid field, for 400'),
  checks: z.record(z.string(), z.string()).optional().describe('readiness: each dependency and what went wrong'),
});
export type ProblemBody = z.infer<typeof ProblemSchema>;

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ['invalid-input', 'Invalid input'],
  401: ['unauthorized', 'Missing or invalid token'],
  403: ['forbidden', 'Not allowed'],
  404: ['not-found', 'Not found'],
  405: ['method-not-allowed', 'Method not allowed'],
  408: ['request-timeout', 'Request timeout'],
  409: ['conflict', 'Conflict'],
  413: ['too-large', 'Request body too large'],
  415: ['unsupported-media-type', 'Unsupported media type'],
  429: ['rate-limited', 'Too many requests'],
  500: ['internal', 'Internal error'],
  501: ['not-configured', 'Not configured'],
  503: ['unavailable', 'Service unavailable'],
};

/** An error the gateway itself raises with an HTTP status (auth, media type, ...). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly errors?: Problem[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function problemBody(status: number, detail?: string, errors?: Problem[]): ProblemBody {
  const [slug, title] = TITLES[status] ?? ['error', 'Error'];
  return {
    type: `/problems/${slug}`,
    title,
    status,
    // Server file paths never reach a client (gateway/client-text.ts).
    ...(detail ? { detail: clientText(detail) } : {}),
    ...(errors ? { errors: errors.map((e) => ({ path: e.path, message: clientText(e.message) })) } : {}),
  };
}

export function sendProblem(res: Response, body: ProblemBody, headers: Record<string, string> = {}): void {
  res.status(body.status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Zod issues as problems, with `prefix` before each path (`params.count`). */
export function zodIssues(error: z.ZodError, prefix = ''): Problem[] {
  const problems: Problem[] = [];
  const join = (parts: PropertyKey[]) => [prefix, ...parts.map(String)].filter(Boolean).join('.');
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: join([...issue.path, key]), message: `unknown field "${key}"` });
    } else {
      problems.push({ path: join(issue.path), message: issue.message });
    }
  }
  return problems;
}

/** Turns any thrown value into a problem body; `log` gets what callers must not see. */
export function toProblem(err: unknown, log: (line: string) => void): { body: ProblemBody; headers: Record<string, string> } {
  if (err instanceof HttpProblem) return { body: problemBody(err.status, err.message, err.errors), headers: err.headers };
  if (err instanceof InvalidInputError) return { body: problemBody(400, err.subject, err.problems), headers: {} };
  if (err instanceof SynapseError) {
    const status = err.httpStatus === 500 ? 500 : err.httpStatus;
    return { body: problemBody(status, err.message), headers: status === 503 ? { 'Retry-After': '5' } : {} };
  }
  // Errors of express's body parser carry `status` and `type`.
  const e = err as { status?: unknown; type?: unknown; message?: unknown };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.type === 'entity.parse.failed')
      return { body: problemBody(400, 'the body is not valid JSON', [{ path: '', message: 'not valid JSON' }]), headers: {} };
    if (e.type === 'entity.too.large') return { body: problemBody(413, 'the body is larger than the limit'), headers: {} };
    return { body: problemBody(e.status, typeof e.message === 'string' ? e.message : undefined), headers: {} };
  }
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return { body: problemBody(500, 'an unexpected error; the gateway log has the details'), headers: {} };
}

export function problemHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const { body, headers } = toProblem(err, log);
    sendProblem(res, body, headers);
  };
}

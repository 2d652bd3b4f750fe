/**
 * The Express gateway: HTTP in front of the shared client module, nothing else. This file
 * only assembles it: security headers, request log, metrics, rate limit, authentication,
 * JSON bodies, the routes, and errors as problem+json.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { randomUUID } from 'node:crypto';
import type { RunsClient } from '../client/runs.js';
import type { ActionDescriber } from '../engine/run-params.js';
import { authenticate } from './auth.js';
import { demoPageRouter } from './demo-page.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { HttpProblem, problemBody, problemHandler, sendProblem } from './problem.js';
import { deploymentsRouter } from './routes/deployments.js';
import { docsRouter } from './routes/docs.js';
import { healthRouter } from './routes/health.js';
import { PlatformHandle } from './platform-handle.js';
import { pluginsRouter } from './routes/plugins.js';
import { isPublishRequest } from './routes/publish.js';
import { resourcesRouter } from './routes/resources.js';
import { runFilesRouter } from './routes/run-files.js';
import { runsRouter } from './routes/runs.js';
import { storagesRouter } from './routes/storages.js';
import { codecRouter } from './routes/codec.js';
import { methodNotAllowed } from './method-not-allowed.js';
import { openApiDocument } from './openapi.js';
import { RevocationWatcher } from './revocation.js';
import { RunStateCache, type StateCacheOptions } from './state-cache.js';
import type { TokenStore } from './token-store.js';

export interface GatewayOptions {
  runs: RunsClient;
  tokens: TokenStore;
  /** One line per request (JSON) and internal errors. Tokens never reach it. Default: none. */
  log?: (line: string) => void;
  /** Requests per window per client address on /v1; `false` turns the limit off. Default 1200 a minute. */
  rateLimit?: { windowMs: number; limit: number } | false;
  /** Largest accepted JSON body (bytes or a string such as '1mb'). Default 1 MB. */
  bodyLimit?: number | string;
  /** Largest plugin archive POST /v1/releases accepts, in bytes. Default 64 MiB. */
  publishLimitBytes?: number;
  /** Event streams: run store poll interval and keep-alive comments. */
  sse?: { pollMs?: number; keepAliveMs?: number };
  /** Ended runs' states served from memory (they never change); `false` always asks Temporal. Default 60 s, 10,000 runs. */
  stateCache?: StateCacheOptions | false;
  /** Prometheus process metrics (off in benchmarks that build many apps). Default on. */
  defaultMetrics?: boolean;
  /** How often open event streams' tokens are checked for revocation (gateway/revocation.ts). Default 1 s. */
  revocationCheckMs?: number;
  /** Browser origins allowed to call /codec (the Temporal Web UI). Default: SYNAPSE_CODEC_CORS_ORIGINS, else the known UI's origin. */
  codecCorsOrigins?: string[];
}

export interface Gateway {
  app: Express;
  metrics: GatewayMetrics;
  /** Ends every open event stream (on shutdown). */
  closeStreams(): void;
}

/**
 * The gateway's describer (client/run-start.ts, GET /v1/plugins/{code}): plugin actions load in
 * plugin hosts, never in the gateway's process (activities/plugin-host-describe.ts; imported on
 * the first describe).
 */
export const DESCRIBE_IN_HOSTS: ActionDescriber = {
  describe: async (...args) => (await import('../activities/plugin-host-describe.js')).describeInPluginHost(...args),
};

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? (() => {});
  const { runs, tokens } = options;
  // Runs started or resumed over HTTP, and plugins described, load their actions in plugin hosts (unless the caller chose a describer).
  runs.describer ??= DESCRIBE_IN_HOSTS;
  const describer = runs.describer;
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const streams = new AbortController();
  const revocations = new RevocationWatcher(tokens, options.revocationCheckMs, log);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestLog(log));
  app.use(metrics.middleware);
  // The gateway speaks plain HTTP (TLS ends at a proxy, if any): upgrading the docs page's
  // requests to https would break it on http://127.0.0.1.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));

  app.use(healthRouter({ runs, tokens, metrics }));
  app.use(docsRouter());
  // Before /v1's token check: the demo page signs a person in with a form (gateway/demo-page.ts).
  app.use(demoPageRouter({ tokens }));

  const v1 = express.Router();
  if (options.rateLimit !== false) {
    const { windowMs, limit } = options.rateLimit ?? { windowMs: 60_000, limit: 1200 };
    v1.use(
      rateLimit({
        windowMs,
        limit,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        handler: (_req, res) => sendProblem(res, problemBody(429, `more than ${limit} requests in ${windowMs / 1000} s; slow down`)),
      }),
    );
  }
  v1.use(authenticate(tokens));
  // A revoked token's open event streams end (gateway/revocation.ts).
  v1.use(revocations.middleware());
  v1.use(requireJsonBody);
  const json = express.json({ limit: options.bodyLimit ?? '1mb', strict: true });
  v1.use((req, res, next) => (isPublishRequest(req) ? next() : json(req, res, next)));
  const states = new RunStateCache(runs, options.stateCache ?? { ttlMs: 60_000, max: 10_000 });
  v1.use(runsRouter({ runs, states, metrics, sse: { ...options.sse, shutdown: streams.signal } }));
  const platform = new PlatformHandle(runs.settings.dataDir, streams.signal);
  const publish = { platform, ...(options.publishLimitBytes !== undefined ? { limitBytes: options.publishLimitBytes } : {}) };
  v1.use(
    pluginsRouter({ platform, describer }),
    resourcesRouter({ platform, publish }),
    storagesRouter({ platform }),
    runFilesRouter({ runs, platform, metrics }),
  );
  v1.use(deploymentsRouter({ runs, metrics, shutdown: streams.signal }));
  app.use('/v1', v1);
  // The Temporal Web UI's codec server (payloads encrypted by client/codec.ts).
  app.use('/codec', codecRouter({ tokens, settings: runs.settings, ...(options.codecCorsOrigins ? { corsOrigins: options.codecCorsOrigins } : {}) }));

  app.use(methodNotAllowed(openApiDocument().paths as Record<string, Record<string, unknown>>));

  app.use((req: Request, _res: Response, next: NextFunction) => next(new HttpProblem(404, `no route ${req.method} ${req.path}`)));
  app.use(problemHandler(log));
  return {
    app,
    metrics,
    closeStreams: () => {
      revocations.close();
      streams.abort();
    },
  };
}

/** A request that carries a body must carry JSON (415 otherwise); bodiless requests pass, and plugin archives (their route checks their type). */
function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  if (isPublishRequest(req)) return next();
  const length = req.get('Content-Length');
  const hasBody = req.get('Transfer-Encoding') !== undefined || (length !== undefined && length !== '0');
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    return next(new HttpProblem(415, `send the body as application/json, not ${req.get('Content-Type') ?? 'an unknown type'}`));
  }
  next();
}

/** One JSON line per request once it finished. Headers are not logged, so neither are tokens. */
function requestLog(log: (line: string) => void) {
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    const id = req.get('X-Request-Id')?.slice(0, 100) ?? randomUUID();
    res.set('X-Request-Id', id);
    res.once('close', () => {
      log(
        JSON.stringify({
          at: new Date().toISOString(),
          requestId: id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round(Number(process.hrtime.bigint() - start) / 1e5) / 10,
          token: req.token?.id,
          ip: req.ip,
        }),
      );
    });
    next();
  };
}

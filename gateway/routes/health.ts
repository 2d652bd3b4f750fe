/**
 * /healthz (the process answers), /readyz (Temporal, the database and the data dir all
 * reachable; 503 naming what is not) and /metrics (Prometheus). No token: these are for
 * load balancers and scrapers; bind the gateway to a private address or filter them.
 */
import { Router } from 'express';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { RunsClient } from '../../client/runs.js';
import { clientText } from '../client-text.js';
import type { GatewayMetrics } from '../metrics.js';
import { problemBody, sendProblem } from '../problem.js';
import type { TokenStore } from '../token-store.js';

export interface ReadinessDeps {
  runs: RunsClient;
  tokens: TokenStore;
}

/** Each dependency: `ok`, or what went wrong (no secrets: messages name addresses only). */
export async function readiness({ runs, tokens }: ReadinessDeps): Promise<Record<string, string>> {
  const reason = (err: unknown) => (err instanceof Error ? (err.message.split('\n')[0] ?? 'error') : String(err));
  const temporal = runs.temporal
    .withDeadline(Date.now() + 2000, () => runs.temporal.connection.workflowService.getSystemInfo({}))
    .then(
      () => 'ok',
      (err: unknown) => `unreachable at ${runs.settings.temporal.address}: ${reason(err)}`,
    );
  const database = withTimeout(
    (async () => {
      await tokens.ping();
      await runs.store.getRun('readyz-probe');
    })(),
    2000,
    'no answer in 2 s',
  ).then(
    () => 'ok',
    (err: unknown) => reason(err),
  );
  const storage = access(runs.settings.dataDir, constants.W_OK).then(
    () => 'ok',
    (err: unknown) => `data dir ${runs.settings.dataDir} is not writable: ${reason(err)}`,
  );
  return { temporal: await temporal, database: await database, storage: await storage };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function healthRouter(deps: ReadinessDeps & { metrics: GatewayMetrics }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    // Unauthenticated: what went wrong, without the server's paths (gateway/client-text.ts).
    const checks = Object.fromEntries(Object.entries(await readiness(deps)).map(([k, v]) => [k, clientText(v)]));
    if (Object.values(checks).every((v) => v === 'ok')) {
      res.json({ status: 'ok', checks });
      return;
    }
    const failing = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k]) => k);
    sendProblem(res, { ...problemBody(503, `not ready: ${failing.join(', ')}`), checks }, { 'Retry-After': '5' });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}

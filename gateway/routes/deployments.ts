/**
 * /v1/deployments (docs/serving.md): deployments and their replicas, scaling, undeploying,
 * and inference over HTTP. `POST /v1/deployments/{id}/predict` (or `/{action}`, the seed-style
 * path: any restapi action the replica serves; it answers 404 for others) goes to a ready replica (the
 * one with the fewest requests in flight from this gateway, round robin among equals); a
 * replica that cannot be reached or says it is not ready is skipped and the next one tried,
 * so a lost worker costs a retry, not an error. No ready replica: 503 with Retry-After.
 * Replies carry `X-Synapse-Replica` (the slot that answered) and `X-Synapse-Replica-Status`.
 * `GET /v1/deployments/{id}/schema`: the served action's input and output JSON Schemas, from a
 * ready replica (the demo page, gateway/demo-page.ts, builds its form from them).
 *
 * Metrics per deployment: synapse_deployment_predictions_total{deployment,status} and
 * synapse_deployment_predict_duration_seconds{deployment}.
 */
import { Router, type Request } from 'express';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import { Deployments, type DeploymentStatus } from '../../client/deployments.js';
import type { RunsClient } from '../../client/runs.js';
import { MAX_REPLICAS } from '../../contracts/deployment.js';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import type { RunRecord } from '../../platform/run-store.js';
import { requireScope } from '../auth.js';
import type { GatewayMetrics } from '../metrics.js';
import { problemBody, sendProblem, zodIssues } from '../problem.js';

export interface DeploymentsRouterOptions {
  runs: RunsClient;
  metrics: GatewayMetrics;
  /** Longest a replica may take to answer a prediction. Default 30 s. */
  predictTimeoutMs?: number;
  /** How old a ready replica's row may be and still take requests. Default 5 s. */
  staleMs?: number;
  /** Seconds a caller is told to wait when no replica is ready. Default 1. */
  retryAfterSeconds?: number;
  /** Aborted when the gateway closes: the router closes its database. */
  shutdown?: AbortSignal;
}

const ScaleBody = z.strictObject({ replicas: z.number().int().min(1).max(MAX_REPLICAS) });
const DeploymentId = z.string().regex(/^[A-Za-z0-9][\w.-]{0,199}$/, 'a run id');
/** `predict` or an action name of the plugin (config.yaml's rule for action names). */
const ActionName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'predict or an action name (lowercase words joined by _)');

/** Replicas' rows are read at most this often per deployment (every request would cost a query). */
const REPLICAS_TTL_MS = 250;

export function deploymentsRouter(options: DeploymentsRouterOptions): Router {
  const router = Router();
  const deployments = new Deployments(options.runs, options.staleMs);
  options.shutdown?.addEventListener('abort', () => void deployments.close(), { once: true });
  const timeoutMs = options.predictTimeoutMs ?? 30_000;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const registry = options.metrics.registry;
  const predictions = new Counter({
    name: 'synapse_deployment_predictions_total',
    help: 'predict requests by deployment and status',
    labelNames: ['deployment', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'synapse_deployment_predict_duration_seconds',
    help: 'predict latency through the gateway, by deployment',
    labelNames: ['deployment'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  const inFlight = new Map<string, number>();
  let turn = 0;
  const records = new Map<string, { at: number; run: RunRecord }>();
  const rows = new Map<string, { at: number; addresses: { replica: number; address: string }[] }>();

  const id = (req: Request): string => {
    const parsed = DeploymentId.safeParse(req.params.id);
    if (!parsed.success) throw new InvalidInputError('invalid deployment id', zodIssues(parsed.error, 'id'));
    return parsed.data;
  };
  /** The deployment's run (cached a second while it runs). @throws NotFoundError */
  const record = async (deployment: string): Promise<RunRecord> => {
    const cached = records.get(deployment);
    if (cached && Date.now() - cached.at < 1000) return cached.run;
    const run = await deployments.record(deployment);
    records.set(deployment, { at: Date.now(), run });
    return run;
  };
  const serving = async (deployment: string) => {
    const cached = rows.get(deployment);
    if (cached && Date.now() - cached.at < REPLICAS_TTL_MS) return cached.addresses;
    const addresses = (await deployments.replicas(deployment))
      .filter((r) => r.serving && r.address)
      .map((r) => ({ replica: r.replica, address: r.address as string }));
    // Nothing serving is not cached: the next request looks again (a replica may just have come up).
    if (addresses.length > 0) rows.set(deployment, { at: Date.now(), addresses });
    return addresses;
  };

  router.get('/deployments', requireScope('runs:read'), async (req, res) => {
    const all = req.query.all === 'true';
    res.json({ deployments: (await deployments.list({ all })).map(summary) });
  });

  router.get('/deployments/:id', requireScope('runs:read'), async (req, res) => {
    res.json(await deployments.status(id(req)));
  });

  router.post('/deployments/:id/scale', requireScope('runs:write'), async (req, res) => {
    const deployment = id(req);
    const body = ScaleBody.safeParse(req.body);
    if (!body.success) throw new InvalidInputError('invalid scale request', zodIssues(body.error));
    await deployments.scale(deployment, body.data.replicas);
    rows.delete(deployment);
    res.json(await deployments.status(deployment));
  });

  router.delete('/deployments/:id', requireScope('runs:write'), async (req, res) => {
    const deployment = id(req);
    await deployments.stop(deployment);
    rows.delete(deployment);
    records.delete(deployment);
    res.json(await deployments.status(deployment));
  });

  router.get('/deployments/:id/schema', requireScope('runs:read'), async (req, res) => {
    const deployment = id(req);
    const run = await record(deployment);
    if (run.status !== 'running' && run.status !== 'pending') return sendProblem(res, problemBody(404, `deployment ${deployment} is ${run.status}`));
    for (const candidate of await serving(deployment)) {
      const answered = await fetch(`${candidate.address}/schema`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      if (answered?.ok) return res.json(await answered.json());
    }
    sendProblem(res, problemBody(503, `no replica of deployment ${deployment} is ready; try again shortly`), { 'Retry-After': retryAfter });
  });

  // `predict`, or the seed-style path: the name of a restapi action the replica serves.
  router.post('/deployments/:id/:action', requireScope('runs:read'), async (req, res) => {
    const deployment = id(req);
    const action = ActionName.safeParse(req.params.action);
    if (!action.success) throw new InvalidInputError('invalid action', zodIssues(action.error, 'action'));
    const started = process.hrtime.bigint();
    const done = (status: number) => {
      predictions.inc({ deployment, status: String(status) });
      latency.observe({ deployment }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const run = await record(deployment).catch((err: unknown) => {
      if (err instanceof NotFoundError) done(404);
      throw err;
    });
    if (run.status !== 'running' && run.status !== 'pending') {
      records.delete(deployment);
      done(404);
      return sendProblem(res, problemBody(404, `deployment ${deployment} is ${run.status}${run.error ? `: ${run.error}` : ''}`));
    }
    const candidates = order(await serving(deployment), inFlight, turn++);
    const body = JSON.stringify(req.body ?? null);
    for (const candidate of candidates) {
      const answered = await forward(`${candidate.address}/${action.data}`, candidate.address, body, timeoutMs, inFlight);
      if (answered === 'timeout') {
        done(504);
        return sendProblem(res, {
          ...problemBody(503, `replica ${candidate.replica} did not answer within ${timeoutMs} ms`),
          status: 504,
          title: 'Gateway timeout',
          type: '/problems/timeout',
        });
      }
      if (answered === 'unreachable' || answered.status === 503) {
        rows.delete(deployment); // read the rows again: this one may be gone
        continue;
      }
      done(answered.status);
      res.status(answered.status);
      res.set('Content-Type', answered.contentType);
      res.set('X-Synapse-Replica', answered.replica ?? String(candidate.replica));
      if (answered.replicaStatus) res.set('X-Synapse-Replica-Status', answered.replicaStatus);
      res.send(answered.body);
      return;
    }
    done(503);
    sendProblem(res, problemBody(503, `no replica of deployment ${deployment} is ready; try again shortly`), { 'Retry-After': retryAfter });
  });

  return router;
}

function summary(d: DeploymentStatus) {
  return {
    id: d.id,
    plugin: d.plugin,
    status: d.status,
    desired: d.desired,
    ready: d.ready,
    replicas: d.replicas.length,
    createdAt: d.createdAt,
    ...(d.error ? { error: d.error } : {}),
  };
}

/** Fewest in flight first; among equals, rotated by `turn` (round robin). */
function order<T extends { address: string }>(candidates: T[], inFlight: Map<string, number>, turn: number): T[] {
  const n = candidates.length;
  const rotated = candidates.map((_, i) => candidates[(i + turn) % n] as T);
  return rotated.sort((a, b) => (inFlight.get(a.address) ?? 0) - (inFlight.get(b.address) ?? 0));
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
  replica: string | null;
  replicaStatus: string | null;
}

async function forward(
  url: string,
  address: string,
  body: string,
  timeoutMs: number,
  inFlight: Map<string, number>,
): Promise<Answer | 'unreachable' | 'timeout'> {
  inFlight.set(address, (inFlight.get(address) ?? 0) + 1);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return {
      status: res.status,
      contentType: res.headers.get('Content-Type') ?? 'application/json',
      body: await res.text(),
      replica: res.headers.get('X-Synapse-Replica'),
      replicaStatus: res.headers.get('X-Synapse-Replica-Status'),
    };
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
    return 'unreachable';
  } finally {
    inFlight.set(address, (inFlight.get(address) ?? 1) - 1);
  }
}

/**
 * Prometheus metrics of one gateway (its own registry, so several apps in one process,
 * as in tests, do not collide): requests by route and status, their latency, live SSE
 * streams, runs started and cancelled, and the Node process defaults.
 */
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  sseClients: Gauge;
  runsStarted: Counter;
  runsCancelled: Counter;
  /** Records every request's route, status and duration. */
  middleware: RequestHandler;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'synapse_gateway_' });
  const requests = new Counter({
    name: 'synapse_gateway_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'synapse_gateway_http_request_duration_seconds',
    help: 'Time to the response headers, by method and route (SSE streams: their whole life)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const sseClients = new Gauge({ name: 'synapse_gateway_sse_clients', help: 'open event streams', registers: [registry] });
  const runsStarted = new Counter({ name: 'synapse_gateway_runs_started_total', help: 'runs started over HTTP', registers: [registry] });
  const runsCancelled = new Counter({ name: 'synapse_gateway_runs_cancelled_total', help: 'cancellations requested over HTTP', registers: [registry] });

  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      // The route pattern, not the URL: run ids must not become label values.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      duration.observe({ method: req.method, route }, seconds);
    });
    next();
  };
  return { registry, sseClients, runsStarted, runsCancelled, middleware };
}

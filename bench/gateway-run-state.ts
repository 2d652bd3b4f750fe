/**
 * Gateway benchmark: GET /v1/runs/:id of a completed run under load, against a bare
 * Express endpoint that returns the same JSON from memory, both on loopback, in the
 * same process and the same run.
 *
 *   node bin/run-ts.mjs bench/gateway-run-state.ts [--duration 10] [--connections 10] [--warmup 2] [--json out.json]
 *
 * The subject goes through everything a real request does: security headers, request
 * log (to nowhere), metrics, rate limit (set high enough never to trigger), bearer-token
 * check (SQLite lookup, SHA-256, constant-time compare), then RunsClient.state(): describe
 * the workflow and read its result from Temporal (a private headless, ephemeral dev server
 * started here). Ended runs' states are served from the gateway's memory (they never change),
 * so a third line shows the same gateway with that cache off, where every request asks
 * Temporal. The baseline is `express()` with one route and `res.json(state)`.
 * The load generator (autocannon) runs in this process too, so both sides share the CPU
 * with it the same way. Prints requests/s and p99 latency of each, the ratios, and the
 * peak RSS of this process.
 */
import autocannon from 'autocannon';
import express from 'express';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RunsClient } from '../client/runs.js';
import { loadSettings } from '../client/settings.js';
import { listenGateway } from '../gateway/server.js';
import { TokenStore } from '../gateway/token-store.js';
import { startDevServer } from '../workers/dev-server.js';
import { startWorker } from '../workers/worker.js';
import type { RunState } from '../contracts/run-state.js';

interface Side {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('node bin/run-ts.mjs bench/gateway-run-state.ts [--duration 10] [--connections 10] [--warmup 2] [--json out.json]\n');
  process.exit(0);
}
const duration = Number(values.duration);
const connections = Number(values.connections);
const warmup = Number(values.warmup);
const log = (line: string) => process.stderr.write(line + '\n');

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<Side> {
  const result = await autocannon({ url, connections, duration: seconds, headers });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  let rssPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 20);
  sampler.unref();

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-gateway-'));
  log(`data dir ${dataDir}; starting a private Temporal dev server...`);
  const server = await startDevServer({ dataDir, port: 0, headless: true, ephemeral: true, log });
  const settings = loadSettings({ dataDir, temporalAddress: server.address, taskQueuePrefix: 'bench-gw' });
  const worker = await startWorker({ settings, methods: ['task'], log: () => {} });

  const runs = await RunsClient.connect(settings);
  const tokens = await TokenStore.open({ dataDir: settings.dataDir });
  const rateLimit = { windowMs: 60_000, limit: 1_000_000_000 };
  const gateway = await listenGateway({ runs, tokens, port: 0, rateLimit });
  // The same gateway with its cache of ended runs' states off: every request asks Temporal.
  const uncached = await listenGateway({ runs, tokens, port: 0, rateLimit, stateCache: false, defaultMetrics: false });
  const bare = express();
  let bareServer: Server | undefined;
  try {
    const { runId } = await runs.start({ plugin: 'noop', action: 'validation' });
    const state = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    log(`run ${runId} ${state.status}`);
    const token = (await tokens.create('bench', ['runs:read'])).token;

    bare.get('/runs/:id', (_req, res) => {
      res.json(state);
    });
    bareServer = await listen(bare);
    const bareUrl = `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}/runs/${runId}`;
    const gatewayUrl = `${gateway.url}/v1/runs/${runId}`;
    const uncachedUrl = `${uncached.url}/v1/runs/${runId}`;
    const auth = { Authorization: `Bearer ${token}` };

    const check = await fetch(gatewayUrl, { headers: auth });
    if (check.status !== 200) throw new Error(`GET ${gatewayUrl}: ${check.status} ${await check.text()}`);
    const gatewayBody = await check.text();
    const bareBody = await (await fetch(bareUrl)).text();
    log(`bodies: gateway ${gatewayBody.length} B, bare ${bareBody.length} B`);

    log(`warm-up ${warmup} s each...`);
    await load(bareUrl, {}, warmup);
    await load(gatewayUrl, auth, warmup);
    await load(uncachedUrl, auth, warmup);
    const rssBeforeLoad = process.memoryUsage.rss();
    log(`measuring ${duration} s each, ${connections} connections...`);
    const baseline = await load(bareUrl, {}, duration);
    const subject = await load(gatewayUrl, auth, duration);
    const subjectUncached = await load(uncachedUrl, auth, duration);

    const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
    const report = {
      node: process.version,
      cpus: os.cpus().length,
      durationSeconds: duration,
      connections,
      baseline,
      subject,
      subjectUncached,
      ratios: {
        requestsPerSec: Math.round((subject.requestsPerSec / baseline.requestsPerSec) * 1000) / 1000,
        p99: Math.round((subject.p99Ms / Math.max(baseline.p99Ms, 0.001)) * 100) / 100,
        uncachedRequestsPerSec: Math.round((subjectUncached.requestsPerSec / baseline.requestsPerSec) * 1000) / 1000,
        uncachedP99: Math.round((subjectUncached.p99Ms / Math.max(baseline.p99Ms, 0.001)) * 100) / 100,
      },
      memory: { rssBeforeLoadMiB: mib(rssBeforeLoad), rssPeakSampledMiB: mib(rssPeak), maxRssMiB: mib(process.resourceUsage().maxRSS * 1024) },
    };
    const row = (name: string, s: Side) =>
      `${name.padEnd(28)} ${s.requestsPerSec.toFixed(0).padStart(8)} ${s.p50Ms.toFixed(1).padStart(8)} ${s.p99Ms.toFixed(1).padStart(8)} ${String(s.requests).padStart(9)} ${String(s.non2xx + s.errors).padStart(7)}`;
    process.stdout.write(
      [
        `GET run state on loopback, ${connections} connections, ${duration} s each (Node ${process.version}, ${os.cpus().length} CPUs)`,
        `${'endpoint'.padEnd(28)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'requests'.padStart(9)} ${'errors'.padStart(7)}`,
        row('bare express (baseline)', baseline),
        row('gateway GET /v1/runs/:id', subject),
        row('  same, state cache off', subjectUncached),
        `ratio gateway/bare: req/s ${report.ratios.requestsPerSec}x, p99 ${report.ratios.p99}x`,
        `ratio gateway (cache off)/bare: req/s ${report.ratios.uncachedRequestsPerSec}x, p99 ${report.ratios.uncachedP99}x`,
        `peak RSS of this process (server side, worker, client, load generator): ${report.memory.maxRssMiB} MiB (sampled ${report.memory.rssPeakSampledMiB} MiB; ${report.memory.rssBeforeLoadMiB} MiB before load)`,
        '',
      ].join('\n'),
    );
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
    if ([baseline, subject, subjectUncached].some((s) => s.non2xx + s.errors > 0)) {
      throw new Error('some requests failed; the numbers above are not comparable');
    }
  } finally {
    clearInterval(sampler);
    bareServer?.close();
    bareServer?.closeAllConnections();
    await gateway.close();
    await uncached.close();
    await tokens.close();
    await runs.close();
    await worker.stop().catch(() => {});
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

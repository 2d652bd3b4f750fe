/**
 * What a run leaves behind, over HTTP, as the CLI shows it: its log (`GET /v1/runs/{id}/logs`,
 * plain text lines as `synapse run logs` prints them, or JSON, filtered by `?kind=`), its
 * artifacts (`GET /v1/runs/{id}/artifacts`, engine/run-artifacts.ts) and each artifact's bytes
 * (`GET /v1/runs/{id}/artifacts/{name}`, the name may hold `/`); and `POST
 * /v1/runs/{id}/resume`, a new run from an ended train or tune run's last checkpoint.
 */
import { Router, type Request } from 'express';
import type { RunsClient } from '../../client/runs.js';
import { parseEventKinds } from '../../client/event-kinds.js';
import { listRunArtifacts, openRunArtifact, type RunFacts } from '../../engine/run-artifacts.js';
import type { RunEvent } from '../../platform/run-store.js';
import { requireScope } from '../auth.js';
import type { GatewayMetrics } from '../metrics.js';
import type { PlatformHandle } from '../platform-handle.js';
import { LogsQuery, ResumeRunBody } from '../resource-schemas.js';
import { RunIdParam } from '../schemas.js';
import { parseOr400, sendFile } from './resources.js';

function runId(req: Request): string {
  return parseOr400(RunIdParam, req.params.id, 'invalid run id', 'id');
}

/** `HH:MM:SS.mmm LEVEL message`, the text `synapse run logs` prints (cli/render.ts formatLogTime is UTC time of day too). */
function logLine(e: RunEvent): string {
  const time = e.at.slice(11, 23);
  if (e.data.kind === 'log') return `${time} ${e.data.level.padEnd(7)} ${e.data.message}`;
  return `${time} ${e.data.kind.toUpperCase().padEnd(7)} ${JSON.stringify(e.data)}`;
}

async function facts(runs: RunsClient, id: string): Promise<RunFacts> {
  const state = await runs.state(id); // unknown run: 404
  return { runId: id, category: state.category, params: (await runs.store.getRun(id))?.params, result: state.result };
}

export function runFilesRouter({ runs, platform, metrics }: { runs: RunsClient; platform: PlatformHandle; metrics: GatewayMetrics }): Router {
  const router = Router();

  router.get('/runs/:id/logs', requireScope('runs:read'), async (req, res) => {
    const id = runId(req);
    const q = parseOr400(LogsQuery, req.query, 'invalid query');
    const kinds: ReadonlySet<string> = parseEventKinds(q.kind) ?? new Set(['log']);
    if (!(await runs.store.getRun(id))) await runs.state(id); // unknown run: 404
    const events: RunEvent[] = [];
    let after = q.after ?? 0;
    for (;;) {
      const page = await runs.events(id, after, Math.min(5000, q.limit));
      for (const e of page) {
        after = e.id;
        if (kinds.has(e.data.kind)) events.push(e);
        if (events.length >= q.limit) break;
      }
      if (page.length < Math.min(5000, q.limit) || events.length >= q.limit) break;
    }
    res.set('X-Next-After', String(after));
    if (q.format === 'json') return void res.json({ events: events.map((e) => ({ id: e.id, attempt: e.attempt, at: e.at, ...e.data })), nextAfter: after });
    res.type('text/plain; charset=utf-8').send(events.map((e) => logLine(e) + '\n').join(''));
  });

  router.get('/runs/:id/artifacts', requireScope('runs:read'), async (req, res) => {
    const id = runId(req);
    const list = await listRunArtifacts({ db: await platform.db(), dataDir: platform.dataDir }, await facts(runs, id));
    res.json({
      artifacts: list.map((a) => ({
        name: a.name,
        kind: a.kind,
        size: a.size,
        ...(a.modelId !== undefined ? { modelId: a.modelId } : {}),
        href: `/v1/runs/${encodeURIComponent(id)}/artifacts/${a.name.split('/').map(encodeURIComponent).join('/')}`,
      })),
    });
  });

  router.get('/runs/:id/artifacts/*name', requireScope('runs:read'), async (req, res) => {
    const id = runId(req);
    const raw = (req.params as { name?: string | string[] }).name;
    const name = Array.isArray(raw) ? raw.join('/') : (raw ?? '');
    const opened = await openRunArtifact({ db: await platform.db(), dataDir: platform.dataDir }, await facts(runs, id), name);
    await sendFile(res, { fileName: name.slice(name.lastIndexOf('/') + 1), size: opened.artifact.size, body: opened.body, close: opened.close });
  });

  router.post('/runs/:id/resume', requireScope('runs:write'), async (req, res) => {
    const id = runId(req);
    const body = parseOr400(ResumeRunBody, req.body ?? {}, 'invalid request body');
    const started = await runs.resume(id, {
      ...(body.runId ? { runId: body.runId } : {}),
      ...(body.heartbeatTimeoutSeconds !== undefined ? { heartbeatTimeoutSeconds: body.heartbeatTimeoutSeconds } : {}),
    });
    metrics.runsStarted.inc();
    const self = `/v1/runs/${encodeURIComponent(started.runId)}`;
    res
      .status(202)
      .location(self)
      .json({ ...started, links: { self, events: `${self}/events`, cancel: `${self}/cancel` } });
  });

  return router;
}

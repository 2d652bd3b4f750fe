/**
 * /v1/runs: start, list, read, follow (SSE) and cancel runs, through the shared client
 * module exactly as the CLI does.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { parseEventKinds } from '../../client/event-kinds.js';
import type { RunsClient } from '../../client/runs.js';
import { uploadRootsFromEnv } from '../../client/input-checks.js';
import { runUiUrl } from '../../client/settings.js';
import { InvalidInputError, ParamsError, type Problem } from '../../contracts/errors.js';
import { assertParamsWithinLimits } from '../../contracts/input-limits.js';
import { findPlugin } from '../../engine/plugin-loader.js';
import { revokedSignal } from '../revocation.js';
import { describeInProcess, type ActionDescriber } from '../../engine/run-params.js';
import { requireScope } from '../auth.js';
import type { GatewayMetrics } from '../metrics.js';
import { HttpProblem, zodIssues } from '../problem.js';
import { EventsQuery, ListRunsQuery, RunIdParam, StartRunBody } from '../schemas.js';
import { streamRunEvents, type SseOptions } from '../sse.js';
import type { RunStateCache } from '../state-cache.js';

export interface RunsRouteOptions {
  runs: RunsClient;
  /** RunsClient.state, with ended runs' states kept in memory. */
  states: RunStateCache;
  metrics: GatewayMetrics;
  sse: Pick<SseOptions, 'pollMs' | 'keepAliveMs' | 'shutdown'>;
}

/** Parses `value` with `schema` or throws a 400 listing every problem. */
function parseOr400<S extends z.ZodType>(schema: S, value: unknown, subject: string, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(subject, zodIssues(parsed.error, prefix));
}

function runId(req: Request): string {
  return parseOr400(RunIdParam, req.params.id, 'invalid run id', 'id');
}

function links(runs: RunsClient, id: string) {
  const self = `/v1/runs/${encodeURIComponent(id)}`;
  const ui = runUiUrl(runs.settings, id);
  return { self, events: `${self}/events`, cancel: `${self}/cancel`, ...(ui ? { ui } : {}) };
}

/**
 * The params' problems, prefixed `params.`, when plugin and action can be resolved; none
 * otherwise. Lets a 400 for a bad body also name every bad param, not only the first layer.
 * The params are parsed where the run's describer loads the class (the gateway's: a plugin
 * host), by the parser of the action's run shape, as a start would.
 */
async function paramsProblems(body: Record<string, unknown>, describer: ActionDescriber): Promise<Problem[]> {
  if (typeof body.plugin !== 'string' || typeof body.action !== 'string' || !StartRunBody.shape.plugin.safeParse(body.plugin).success) return [];
  try {
    assertParamsWithinLimits(body.params); // over a limit: not parsed (nor sent to a host); the body is refused anyway
    await describer.describe(await findPlugin(body.plugin), body.action, { parse: true, params: body.params });
    return [];
  } catch (err) {
    // Params problems only: a plugin that does not load is the start's to report, not the body's.
    return err instanceof ParamsError ? err.problems.map((p) => ({ path: p.path ? `params.${p.path}` : 'params', message: p.message })) : [];
  }
}

export function runsRouter({ runs, states, metrics, sse }: RunsRouteOptions): Router {
  const router = Router();

  router.post('/runs', requireScope('runs:write'), async (req, res) => {
    const raw: unknown = req.body ?? {};
    const parsed = StartRunBody.safeParse(raw);
    if (!parsed.success) {
      const problems = zodIssues(parsed.error);
      if (raw && typeof raw === 'object' && !Array.isArray(raw))
        problems.push(...(await paramsProblems(raw as Record<string, unknown>, runs.describer ?? describeInProcess)));
      throw new InvalidInputError('invalid request body', problems);
    }
    const body = parsed.data;
    let started;
    try {
      // Upload sources only under the declared roots (SYNAPSE_UPLOAD_ROOTS), never any server path.
      const localRoots = uploadRootsFromEnv();
      started = await runs.start({
        plugin: body.plugin,
        action: body.action,
        params: body.params ?? {},
        localRoots,
        ...(body.runId ? { runId: body.runId } : {}),
      });
    } catch (err) {
      if (err instanceof InvalidInputError) {
        // The client speaks of `job-id` (the CLI flag) and of params by their own paths.
        const paramsErr = err instanceof ParamsError;
        throw new InvalidInputError(
          err.subject,
          err.problems.map((p) => ({
            path: p.path === 'job-id' ? 'runId' : paramsErr ? (p.path ? `params.${p.path}` : 'params') : p.path,
            message: p.message,
          })),
        );
      }
      throw err;
    }
    metrics.runsStarted.inc();
    const l = links(runs, started.runId);
    res.status(202).location(l.self).json({ runId: started.runId, plugin: started.plugin, action: started.action, links: l });
  });

  router.get('/runs', requireScope('runs:read'), async (req, res) => {
    const q = parseOr400(ListRunsQuery, req.query, 'invalid query');
    const page = await runs.listPage(
      {
        ...(q.plugin ? { plugin: q.plugin } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.category ? { category: q.category } : {}),
        ...(q.status ? { status: q.status } : {}),
      },
      { pageSize: q.limit, ...(q.pageToken ? { pageToken: q.pageToken } : {}) },
    );
    res.json(page);
  });

  router.get('/runs/:id', requireScope('runs:read'), async (req, res) => {
    res.json(await states.state(runId(req)));
  });

  router.get('/runs/:id/events', requireScope('runs:read'), async (req, res) => {
    const id = runId(req);
    const q = parseOr400(EventsQuery, req.query, 'invalid query');
    const kinds = parseEventKinds(q.kind);
    const header = req.get('Last-Event-ID');
    let after = q.after ?? 0;
    if (header !== undefined && header.trim() !== '') {
      if (!/^\d{1,15}$/.test(header.trim()))
        throw new InvalidInputError('invalid Last-Event-ID', [{ path: 'Last-Event-ID', message: 'must be an event id (a non-negative integer)' }]);
      after = Math.max(after, Number(header.trim()));
    }
    // Unknown run: a 404 before the stream opens. The run store knows the runs started here.
    if (!(await runs.store.getRun(id))) await runs.state(id);
    const revoked = revokedSignal(res);
    await streamRunEvents(runs, id, after, res, {
      ...sse,
      ...(revoked ? { revoked } : {}),
      ...(kinds ? { kinds } : {}),
      onOpen: () => metrics.sseClients.inc(),
      onClose: () => metrics.sseClients.dec(),
    });
  });

  router.post('/runs/:id/cancel', requireScope('runs:write'), async (req, res) => {
    const id = runId(req);
    const state = await states.state(id);
    if (state.status !== 'running' && state.status !== 'pending') {
      throw new HttpProblem(409, `run ${id} has already ended (${state.status})`);
    }
    await runs.cancel(id);
    metrics.runsCancelled.inc();
    res.status(202).json({ runId: id, cancelRequested: true, links: links(runs, id) });
  });

  return router;
}

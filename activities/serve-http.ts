/**
 * The HTTP face of a served action, shared by a deployment's replica (activities/serve.ts)
 * and `synapse plugin run <restapi action> --debug` (activities/serve-local.ts), so both
 * answer alike:
 *
 * - `POST /predict`, or `POST /<action>` for each restapi action of the plugin with the same
 *   entrypoint (the seed-style path): the JSON body checked with the action's `static input`
 *   (here when the caller gives the schema; a replica of TypeScript code has it checked in its
 *   plugin host, which answers a ParamsError) -> 200 with predict's value; 400 problem+json
 *   naming each invalid field (a ParamsError from the code too: Python's InvalidInput); 413
 *   above REPLICA_BODY_LIMIT; 500 when predict throws or its plugin host failed (the message
 *   names what happened); 503 while not ready.
 * - `GET /health` -> 200 when ready (503 otherwise) with the counters.
 * - `GET /schema` -> plugin, action, the actions served and the input / output JSON Schemas
 *   (the caller's: a replica of TypeScript code gets them from its plugin host; else
 *   engine/serve-schemas.ts on the action).
 * Every answer carries `X-Synapse-Replica: <slot>` and `X-Synapse-Replica-Status`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { ParamsError, type Problem } from '../contracts/errors.js';
import type { ReplicaStatus } from '../contracts/deployment.js';
import { zodProblems } from '../contracts/problems.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { servedActionNames, serveSchemas, type ServeSchemas } from '../engine/serve-schemas.js';

/** Largest predict body a replica reads (the gateway's own limit is lower). */
export const REPLICA_BODY_LIMIT = 8 * 1024 * 1024;

export interface ServeHttpOptions {
  action: ResolvedAction;
  /** The slot named in X-Synapse-Replica (0 for a local --debug server). */
  slot: number;
  /** The action's input schema (`static input`), checked here; absent when `predict` checks the body itself (a plugin host). */
  input?: z.ZodType;
  /** The JSON Schemas `GET /schema` answers; default: engine/serve-schemas.ts on `action` (a class loaded in this process). */
  schemas?: ServeSchemas;
  predict(body: unknown): Promise<unknown>;
  /** After each answered prediction: its running count and how long predict took (ms). */
  onPredicted?(served: number, ms: number): void;
}

export interface ServeHttp {
  server: Server;
  status: ReplicaStatus;
  readonly inFlight: number;
  readonly served: number;
  /** Listens on `host:port` (0: a free port); resolves with `http://host:port`. */
  listen(port: number, host: string): Promise<string>;
  /** Stops taking connections; resolves when the requests in flight were answered. */
  close(): Promise<void>;
}

export function createServeHttp(options: ServeHttpOptions): ServeHttp {
  const { action, slot } = options;
  const schemas = {
    plugin: action.plugin.config.code,
    action: action.name,
    actions: servedActionNames(action.plugin, action),
    ...(options.schemas ?? serveSchemas(action)),
  };
  const routes = new Set(['predict', ...schemas.actions]);
  let inFlight = 0;
  let served = 0;
  const state: ServeHttp = {
    server: undefined as unknown as Server,
    status: 'starting',
    get inFlight() {
      return inFlight;
    },
    get served() {
      return served;
    },
    listen: (port, host) => listen(state.server, port, host),
    close: () =>
      new Promise<void>((resolve) => {
        state.server.close(() => resolve());
        state.server.closeIdleConnections();
      }),
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const status = state.status;
    if (req.method === 'GET' && path === '/health') return send(res, status === 'ready' ? 200 : 503, { replica: slot, status, inFlight, served });
    if (req.method === 'GET' && path === '/schema') return send(res, 200, schemas);
    if (req.method !== 'POST' || !routes.has(path.slice(1)))
      return problem(res, 404, `no route ${req.method} ${path} (POST /predict or /${schemas.actions.join(', /')})`);
    if (status !== 'ready') return problem(res, 503, `replica ${slot} is ${status}`);
    inFlight++;
    try {
      const body = await readJson(req);
      if (body.error) return problem(res, body.error.status, body.error.detail);
      const parsed = options.input ? options.input.safeParse(body.value) : { success: true as const, data: body.value };
      if (!parsed.success) return problem(res, 400, 'the body fails the input schema', zodProblems(parsed.error));
      const started = performance.now();
      const value = await options.predict(parsed.data);
      served++;
      options.onPredicted?.(served, performance.now() - started);
      return send(res, 200, value);
    } catch (err) {
      if (err instanceof ParamsError) return problem(res, 400, 'the body fails the input schema', err.problems);
      return problem(res, 500, `predict failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      inFlight--;
    }
  };

  state.server = createServer((req, res) => {
    res.setHeader('X-Synapse-Replica', String(slot));
    res.setHeader('X-Synapse-Replica-Status', state.status);
    void answer(req, res);
  });
  return state;
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve(`http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
    });
  });
}

type Body = { value: unknown; error?: undefined } | { value?: undefined; error: { status: number; detail: string } };

async function readJson(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > REPLICA_BODY_LIMIT) return { error: { status: 413, detail: `the body is larger than ${REPLICA_BODY_LIMIT} bytes` } };
    chunks.push(chunk);
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return { error: { status: 400, detail: `the body is not JSON: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

function problem(res: ServerResponse, status: number, detail: string, errors?: Problem[]): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/problem+json');
  res.end(
    JSON.stringify({
      type: 'about:blank',
      title: detail,
      status,
      detail,
      ...(errors ? { errors: errors.map((e) => ({ path: e.path, message: e.message })) } : {}),
    }),
  );
}

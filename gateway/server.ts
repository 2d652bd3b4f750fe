/**
 * Running the gateway: listen on host:port, and stop cleanly (event streams ended,
 * connections closed). `openGateway` builds everything it needs from Settings, as
 * `synapse gateway` and `synapse dev` do; tests and the bench pass their own client.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RunsClient } from '../client/runs.js';
import type { Settings } from '../client/settings.js';
import { UnavailableError } from '../contracts/errors.js';
import { createGateway, type Gateway, type GatewayOptions } from './app.js';
import { TokenStore } from './token-store.js';

export interface GatewayServer extends Gateway {
  server: Server;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

/**
 * How long a client may take to send a request (docs/gateway.md, "Timeouts"). A client that
 * trickles its headers or its body (one byte every 2 s, with or without a token) gets
 * 408 and its connection closed; event streams are not affected (their request is complete
 * once its headers are in). Checked every `checkMs`, so a cut comes at most that much late.
 */
export interface GatewayTimeouts {
  /** Request line and headers. Default 10 s. */
  headersMs?: number;
  /** The whole request, headers and body. Default 60 s. */
  requestMs?: number;
  /** How often open connections are checked against the two. Default 1 s. */
  checkMs?: number;
}

export const DEFAULT_TIMEOUTS: Required<GatewayTimeouts> = { headersMs: 10_000, requestMs: 60_000, checkMs: 1000 };

export async function listenGateway(options: GatewayOptions & { port?: number; host?: string; timeouts?: GatewayTimeouts }): Promise<GatewayServer> {
  // createGateway gives the runs client the plugin-host describer (unless the caller chose one).
  const gateway = createGateway(options);
  const host = options.host ?? '127.0.0.1';
  const t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    // Node wants headersTimeout <= requestTimeout.
    { headersTimeout: Math.min(t.headersMs, t.requestMs), requestTimeout: t.requestMs, connectionsCheckingInterval: t.checkMs },
    gateway.app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new UnavailableError(`port ${options.port} on ${host} is already in use; pick another with --port`);
    throw err;
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    ...gateway,
    server,
    url,
    close: async () => {
      gateway.closeStreams();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(force);
    },
  };
}

/** The gateway for these settings, with its own Temporal client, run store and token store. */
export async function openGateway(
  settings: Settings,
  options: Omit<GatewayOptions, 'runs' | 'tokens'> & { port?: number; host?: string; timeouts?: GatewayTimeouts },
): Promise<GatewayServer> {
  const runs = await RunsClient.connect(settings);
  let tokens: TokenStore;
  try {
    tokens = await TokenStore.open({ dataDir: settings.dataDir });
  } catch (err) {
    await runs.close();
    throw err;
  }
  try {
    const gateway = await listenGateway({ ...options, runs, tokens });
    return {
      ...gateway,
      close: async () => {
        await gateway.close();
        await tokens.close();
        await runs.close();
      },
    };
  } catch (err) {
    await tokens.close();
    await runs.close();
    throw err;
  }
}

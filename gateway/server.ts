/**
 * Running the gateway: listen on host:port, and stop cleanly (event streams ended,
 * connections closed). `openGateway` builds everything it needs from Settings, as
 * `synapse gateway` and `synapse dev` do; tests and the bench pass their own client.
 */
import type { Server } from 'node:http';
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

export async function listenGateway(options: GatewayOptions & { port?: number; host?: string }): Promise<GatewayServer> {
  const gateway = createGateway(options);
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = gateway.app.listen(options.port ?? 8080, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new UnavailableError(`port ${options.port} on ${host} is already in use; pick another with --port`);
    throw err;
  });
  // Slow clients cannot hold a socket forever before sending their headers.
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // event streams live as long as their run
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
  options: Omit<GatewayOptions, 'runs' | 'tokens'> & { port?: number; host?: string },
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

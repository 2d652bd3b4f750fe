/**
 * One way to reach Temporal, used by the CLI, the gateway and the worker alike. The worker's
 * native connection loads `@temporalio/worker` (the Rust core, webpack) on demand, so that
 * clients never load it.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { UnavailableError } from '../contracts/errors.js';
import { payloadCodecFor } from './codec.js';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';
import type { Settings, TemporalSettings } from './settings.js';

function tlsOptions(t: TemporalSettings): ConnectionOptions['tls'] {
  if (t.tls === undefined || t.tls === false) return undefined;
  if (t.tls === true) return true;
  return {
    ...(t.tls.serverName ? { serverNameOverride: t.tls.serverName } : {}),
    ...(t.tls.caFile ? { serverRootCACertificate: readFileSync(t.tls.caFile) } : {}),
    ...(t.tls.certFile && t.tls.keyFile ? { clientCertPair: { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } } : {}),
  };
}

/**
 * The data converter of these settings: payloads encrypted by the codec (client/codec.ts) when
 * a key is configured, Temporal's default otherwise. The worker and every client use it, so
 * they read each other's payloads. Throws ConfigError on a malformed key.
 */
export function dataConverterFor(settings: Settings): DataConverter {
  const codec = payloadCodecFor(settings.codec);
  return codec ? { payloadCodecs: [codec] } : {};
}

/** What to tell a person who cannot reach the server. */
export function unreachable(settings: Settings, cause: unknown): UnavailableError {
  const hint = settings.temporal.external
    ? 'check TEMPORAL_ADDRESS and that the server is up'
    : 'start one with `synapse server start-dev` (or `synapse dev`), or set TEMPORAL_ADDRESS';
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new UnavailableError(`cannot reach Temporal at ${settings.temporal.address} (${reason}): ${hint}`);
}

export async function connectClient(settings: Settings): Promise<Client> {
  const t = settings.temporal;
  const dataConverter = dataConverterFor(settings);
  try {
    const tls = tlsOptions(t);
    const connection = await Connection.connect({
      address: t.address,
      connectTimeout: '5s',
      ...(tls !== undefined ? { tls } : {}),
      ...(t.apiKey ? { apiKey: t.apiKey } : {}),
    });
    // Connection.connect asks the server for its system info, so an unreachable one fails here.
    return new Client({ connection, namespace: t.namespace, dataConverter });
  } catch (err) {
    throw unreachable(settings, err);
  }
}

export async function connectNative(settings: Settings): Promise<NativeConnection> {
  const t = settings.temporal;
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    const tls = tlsOptions(t) as NativeConnectionOptions['tls'];
    return await NativeConnection.connect({
      address: t.address,
      ...(tls !== undefined ? { tls } : {}),
      ...(t.apiKey ? { apiKey: t.apiKey } : {}),
    });
  } catch (err) {
    throw unreachable(settings, err);
  }
}

/**
 * Registers this project's search attributes when the server lacks them (a server we did
 * not start). Servers that refuse (Temporal Cloud) need them added by an operator.
 */
export async function ensureSearchAttributes(client: Client, log: (line: string) => void = () => {}): Promise<void> {
  const namespace = client.options.namespace;
  const operator = client.connection.operatorService;
  try {
    const existing = await operator.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
    });
    log(`registered search attributes: ${missing.map((k) => k.name).join(', ')}`);
  } catch (err) {
    log(`could not register search attributes (${err instanceof Error ? err.message : String(err)}); add them as an operator`);
  }
}

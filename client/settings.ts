/**
 * Where things are: the data directory, the Temporal server, the task queues. Read once
 * from the environment (and CLI flags) at the edge; everything else receives a Settings.
 * Every CLI command reads these first, so this file imports nothing but Node built-ins.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { findDataDir } from './data-dir.js';
import type { Method } from '../sdk/categories.js';

export interface TemporalSettings {
  /** host:port of the Temporal frontend. */
  address: string;
  namespace: string;
  /** True when TEMPORAL_ADDRESS names a server we must not start ourselves. */
  external: boolean;
  /** TLS: `true` for system roots, or client certificate files for mTLS. */
  tls?: { certFile?: string; keyFile?: string; caFile?: string; serverName?: string } | boolean;
  /** Temporal Cloud API key; never logged. */
  apiKey?: string;
  /** Where the Web UI shows this namespace's runs, if known. */
  uiUrl?: string;
}

export interface Settings {
  /** Root of everything the embedded defaults keep on disk (default `.synapse/`). */
  dataDir: string;
  temporal: TemporalSettings;
  /** Task queues are `<prefix>-<method>`; a different prefix isolates a set of workers. */
  taskQueuePrefix: string;
  /**
   * Payload encryption keys (SYNAPSE_CODEC_KEY, SYNAPSE_CODEC_PREVIOUS_KEYS; client/codec.ts):
   * the worker and every client need the same. Absent: payloads go to Temporal unencrypted,
   * and actions with secret params refuse to start. Never logged.
   */
  codec?: { key: string; previousKeys: string[] };
}

/** What `synapse server start-dev` writes so that clients find the server it started. */
export interface DevServerInfo {
  /** host:port of its gRPC frontend. */
  address: string;
  /** Its Web UI; empty when headless. */
  uiUrl: string;
  pid: number;
  namespace: string;
}

/** Checked by hand: zod takes a fifth of a second to load on a small machine, and `run status` has no other use for it. */
export function isDevServerInfo(value: unknown): value is DevServerInfo {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.address === 'string' && typeof v.uiUrl === 'string' && Number.isInteger(v.pid) && typeof v.namespace === 'string';
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_UI_PORT = 8233;

export function devServerInfoFile(dataDir: string): string {
  return path.join(dataDir, 'temporal', 'dev-server.json');
}

export function readDevServerInfo(dataDir: string): DevServerInfo | undefined {
  const file = devServerInfoFile(dataDir);
  if (!existsSync(file)) return undefined;
  const info: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return isDevServerInfo(info) ? { address: info.address, uiUrl: info.uiUrl, pid: info.pid, namespace: info.namespace } : undefined;
}

export interface SettingsOverrides {
  dataDir?: string;
  temporalAddress?: string;
  namespace?: string;
  taskQueuePrefix?: string;
}

export function loadSettings(overrides: SettingsOverrides = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  // Neither flag nor variable: found from the current folder (client/data-dir.ts).
  const dataDir = path.resolve(overrides.dataDir ?? env.SYNAPSE_DATA_DIR ?? findDataDir(process.cwd(), env));
  const namespace = overrides.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default';
  const explicit = overrides.temporalAddress ?? env.TEMPORAL_ADDRESS;
  const dev = explicit ? undefined : readDevServerInfo(dataDir);
  const temporal: TemporalSettings = {
    address: explicit ?? dev?.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace,
    external: Boolean(explicit),
  };
  const uiUrl = env.TEMPORAL_UI_URL ?? dev?.uiUrl ?? (explicit ? undefined : `http://127.0.0.1:${DEFAULT_UI_PORT}`);
  if (uiUrl) temporal.uiUrl = uiUrl;
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY || env.TEMPORAL_TLS_CA) {
    temporal.tls = {
      ...(env.TEMPORAL_TLS_CERT ? { certFile: env.TEMPORAL_TLS_CERT } : {}),
      ...(env.TEMPORAL_TLS_KEY ? { keyFile: env.TEMPORAL_TLS_KEY } : {}),
      ...(env.TEMPORAL_TLS_CA ? { caFile: env.TEMPORAL_TLS_CA } : {}),
      ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverName: env.TEMPORAL_TLS_SERVER_NAME } : {}),
    };
  } else if (env.TEMPORAL_TLS === '1' || env.TEMPORAL_TLS === 'true') {
    temporal.tls = true;
  }
  if (env.TEMPORAL_API_KEY) temporal.apiKey = env.TEMPORAL_API_KEY;
  const previousKeys = (env.SYNAPSE_CODEC_PREVIOUS_KEYS ?? '').split(',').filter((k) => k.trim() !== '');
  return {
    dataDir,
    temporal,
    taskQueuePrefix: overrides.taskQueuePrefix ?? env.SYNAPSE_TASK_QUEUE_PREFIX ?? 'synapse',
    // Previous keys without a current one are kept so that connecting says what is missing.
    ...(env.SYNAPSE_CODEC_KEY || previousKeys.length > 0 ? { codec: { key: env.SYNAPSE_CODEC_KEY ?? '', previousKeys } } : {}),
  };
}

/** The default resource class: its task queues keep the plain names `<prefix>-<method>`. */
export const DEFAULT_RESOURCE_CLASS = 'cpu';

/**
 * The task queue of a method's runs for a resource class (sdk/config.ts ResourceClassSchema):
 * `<prefix>-<method>` for `cpu`, `<prefix>-<class>-<method>` for any other (`synapse-gpu-job`).
 */
export function taskQueueFor(settings: Settings, method: Method, resourceClass: string = DEFAULT_RESOURCE_CLASS): string {
  return resourceClass === DEFAULT_RESOURCE_CLASS ? `${settings.taskQueuePrefix}-${method}` : `${settings.taskQueuePrefix}-${resourceClass}-${method}`;
}

export function runStoreFile(settings: Settings): string {
  return path.join(settings.dataDir, 'synapse.db');
}

/** A link to one run in the Temporal Web UI, when we know where the UI is. */
export function runUiUrl(settings: Settings, runId: string): string | undefined {
  const ui = settings.temporal.uiUrl;
  return ui ? `${ui}/namespaces/${encodeURIComponent(settings.temporal.namespace)}/workflows/${encodeURIComponent(runId)}` : undefined;
}

/**
 * The production topology, once for the whole production suite (vitest.production.config.ts):
 * one real Temporal cluster (workers/cluster.ts: frontend, history, matching and worker services
 * as separate processes) on a real PostgreSQL, which also holds each test file's platform
 * database, and one versitygw for S3 storage. Worker processes with separate data dirs are the
 * test files' own (test/production/system.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCluster, stopCluster } from '../../workers/cluster.js';
import { startPostgres, type PostgresServer } from '../servers/postgres.js';
import { startS3Server, type S3Server } from '../servers/s3.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's folder (cluster.json: ports and pids of each service). */
    clusterDir: string;
  }
}

let postgres: PostgresServer | undefined;
let s3: S3Server | undefined;
let clusterDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const log = (line: string) => console.log(`[cluster] ${line}`);
  postgres = await startPostgres();
  clusterDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-cluster-'));
  const started = performance.now();
  const cluster = await startCluster({ dir: clusterDir, databaseUrl: postgres.url, port: 0, log });
  log(`ready on ${cluster.address} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  s3 = await startS3Server({ log });
  project.provide('clusterDir', clusterDir);
  project.provide('temporalAddress', cluster.address);
  project.provide('postgresUrl', postgres.url);
  project.provide('postgresError', '');
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('s3AccessKeyId', s3.accessKeyId);
  project.provide('s3SecretAccessKey', s3.secretAccessKey);
  project.provide('s3Error', '');
}

export async function teardown(): Promise<void> {
  if (clusterDir) await stopCluster(clusterDir);
  await s3?.stop();
  await postgres?.stop();
  if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
}

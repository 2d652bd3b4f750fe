/**
 * One real Temporal dev server for the whole test run (in memory, headless, free ports),
 * started through the same code as `synapse server start-dev`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../workers/dev-server.js';
import { startPostgres, type PostgresServer } from './servers/postgres.js';
import { startS3Server, type S3Server } from './servers/s3.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** A real PostgreSQL server's database URL; '' when it could not start (then postgresError says why). */
    postgresUrl: string;
    postgresError: string;
    /** versitygw (S3-compatible), path-style, region us-east-1. */
    s3Endpoint: string;
    s3AccessKeyId: string;
    s3SecretAccessKey: string;
    /** Why versitygw did not start ('' when it did; then s3Endpoint is ''). */
    s3Error: string;
  }
}

let server: DevServer | undefined;
let postgres: PostgresServer | undefined;
let dir: string | undefined;
let s3: S3Server | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-test-server-'));
  server = await startDevServer({ dataDir: dir, port: 0, headless: true, ephemeral: true, log: (l) => console.log(l) });
  project.provide('temporalAddress', server.address);

  // A real PostgreSQL (scripts/postgres-server.sh) for the platform tests. Only they fail without it.
  try {
    postgres = await startPostgres();
    project.provide('postgresUrl', postgres.url);
    project.provide('postgresError', '');
  } catch (err) {
    console.log(`PostgreSQL did not start: ${(err as Error).message}`);
    project.provide('postgresUrl', '');
    project.provide('postgresError', (err as Error).message);
  }

  // A real S3-compatible server (versitygw) for the storage tests. Only they fail without it.
  try {
    s3 = await startS3Server({ log: (l) => console.log(l) });
    project.provide('s3Endpoint', s3.endpoint);
    project.provide('s3AccessKeyId', s3.accessKeyId);
    project.provide('s3SecretAccessKey', s3.secretAccessKey);
    project.provide('s3Error', '');
  } catch (err) {
    console.log(`versitygw did not start: ${(err as Error).message}`);
    for (const k of ['s3Endpoint', 's3AccessKeyId', 's3SecretAccessKey'] as const) project.provide(k, '');
    project.provide('s3Error', (err as Error).message);
  }
}

export async function teardown(): Promise<void> {
  await postgres?.stop();
  await s3?.stop();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

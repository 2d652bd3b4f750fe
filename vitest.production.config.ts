/**
 * The production suite (test/production/): the system on a real Temporal cluster on PostgreSQL,
 * S3 storage and several worker processes with separate data dirs, killing workers and the
 * history service on purpose. One cluster for every file; one file at a time, since each file
 * runs its own worker processes on a small machine.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@synapse/sdk': fileURLToPath(new URL('./sdk/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/production/**/*.test.ts'],
    globalSetup: ['test/production/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});

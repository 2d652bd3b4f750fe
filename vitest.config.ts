import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@synapse/sdk': fileURLToPath(new URL('./sdk/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts', 'sdk/**/*.test.ts', 'workflows/**/*.test.ts', 'client/**/*.test.ts', 'cli/**/*.test.ts'],
    // The production suite runs on its own cluster: vitest.production.config.ts.
    exclude: [...configDefaults.exclude, 'test/production/**'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    // Integration tests share one dev server and a 2-core machine: a few files at a time.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});

/**
 * Migrations, listed here in order (a static provider: nothing is discovered on disk, so
 * the list is the same under tsx, a bundle or a build). Each migration is told its dialect.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { runs } from './001_runs.js';
import { platform } from './002_platform.js';
import { apiTokens } from './003_api_tokens.js';
import { runItemResults } from './004_run_item_results.js';
import { deploymentReplicas } from './005_deployment_replicas.js';
import { uploadPlans } from './006_upload_plans.js';
import type { DialectMigration, DialectName } from './columns.js';

const MIGRATIONS: [string, DialectMigration][] = [
  ['001_runs', runs],
  ['002_platform', platform],
  ['003_api_tokens', apiTokens],
  ['004_run_item_results', runItemResults],
  ['005_deployment_replicas', deploymentReplicas],
  ['006_upload_plans', uploadPlans],
];

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return Object.fromEntries(MIGRATIONS.map(([name, m]) => [name, { up: (db) => m.up(db, dialect) }]));
    },
  };
}

/** The platform: storages, data collections and units, projects, tasks, assignments, ground truth, models, releases. */
import type { Kysely } from 'kysely';
import { withId, type DialectMigration, type DialectName } from './columns.js';

export const platform: DialectMigration = {
  async up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
    const s = db.schema;
    await withId(s.createTable('storages'), dialect)
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await withId(s.createTable('data_collections'), dialect)
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await withId(s.createTable('file_specifications'), dialect)
      .addColumn('collection_id', 'bigint', (c) => c.notNull().references('data_collections.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('required', 'integer', (c) => c.notNull())
      .addColumn('extensions', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addUniqueConstraint('file_specifications_collection_name', ['collection_id', 'name'])
      .execute();

    await withId(s.createTable('data_units'), dialect)
      .addColumn('collection_id', 'bigint', (c) => c.notNull().references('data_collections.id').onDelete('cascade'))
      .addColumn('unique_key', 'text', (c) => c.notNull())
      .addColumn('meta', 'text', (c) => c.notNull())
      .addColumn('files', 'text', (c) => c.notNull())
      .addColumn('checksum', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('data_units_collection_key', ['collection_id', 'unique_key'])
      .execute();

    await withId(s.createTable('projects'), dialect)
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('collection_id', 'bigint', (c) => c.notNull().references('data_collections.id'))
      .addColumn('configuration', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await withId(s.createTable('tasks'), dialect)
      .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('data_unit_id', 'bigint', (c) => c.notNull().references('data_units.id'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('tasks_project_data_unit', ['project_id', 'data_unit_id'])
      .execute();
    await s.createIndex('tasks_project_status').on('tasks').columns(['project_id', 'status', 'id']).execute();

    await withId(s.createTable('assignments'), dialect)
      .addColumn('task_id', 'bigint', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
      .addColumn('annotator', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('annotations', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('assignments_task_annotator', ['task_id', 'annotator'])
      .execute();
    await s.createIndex('assignments_status').on('assignments').columns(['status', 'id']).execute();

    await withId(s.createTable('ground_truth_datasets'), dialect)
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('project_id', 'bigint', (c) => c.references('projects.id'))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await withId(s.createTable('ground_truth_versions'), dialect)
      .addColumn('dataset_id', 'bigint', (c) => c.notNull().references('ground_truth_datasets.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('ground_truth_versions_dataset_name', ['dataset_id', 'name'])
      .execute();

    await withId(s.createTable('ground_truth_events'), dialect)
      .addColumn('version_id', 'bigint', (c) => c.notNull().references('ground_truth_versions.id').onDelete('cascade'))
      .addColumn('data_unit_id', 'bigint', (c) => c.notNull().references('data_units.id'))
      .addColumn('annotations', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('ground_truth_events_version_unit', ['version_id', 'data_unit_id'])
      .execute();

    await withId(s.createTable('models'), dialect)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('plugin_code', 'text', (c) => c.notNull())
      .addColumn('plugin_version', 'text', (c) => c.notNull())
      .addColumn('storage_id', 'bigint', (c) => c.references('storages.id'))
      .addColumn('file_key', 'text')
      .addColumn('configuration', 'text', (c) => c.notNull())
      .addColumn('metrics', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await s.createIndex('models_plugin').on('models').columns(['plugin_code', 'plugin_version']).execute();

    await withId(s.createTable('plugin_releases'), dialect)
      .addColumn('code', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('checksum', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('storage_id', 'bigint', (c) => c.references('storages.id'))
      .addColumn('archive_key', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('plugin_releases_code_version', ['code', 'version'])
      .execute();
  },
};

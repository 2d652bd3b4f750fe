/**
 * The platform's tables as Kysely sees them. One shape for SQLite and Postgres: ids are
 * integers (SQLite rowid alias / Postgres identity), JSON lives in text columns, times are
 * ISO 8601 text, booleans are 0/1 integers. Repositories turn rows into typed records.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

export interface StorageTable {
  id: Generated<number>;
  name: string;
  provider: string;
  /** JSON: the StorageConfig (no secrets). */
  config: string;
  created_at: string;
}

export interface DataCollectionTable {
  id: Generated<number>;
  name: string;
  description: string;
  created_at: string;
}

/** One file a data unit of the collection carries (e.g. `image`, required, `.png`/`.jpg`). */
export interface FileSpecificationTable {
  id: Generated<number>;
  collection_id: number;
  name: string;
  required: number;
  /** JSON: lower-case extensions with their dot, e.g. [".png", ".jpg"]; [] allows any. */
  extensions: string;
  position: number;
}

export interface DataUnitTable {
  id: Generated<number>;
  collection_id: number;
  /** Unique inside the collection: what makes an upload retry idempotent. */
  unique_key: string;
  /** JSON object. */
  meta: string;
  /** JSON: { [specification name]: { storage, key, size?, checksum? } }. */
  files: string;
  /** sha256 of the canonical meta + files: a retry with the same content is a no-op. */
  checksum: string;
  created_at: string;
}

export interface ProjectTable {
  id: Generated<number>;
  name: string;
  collection_id: number;
  /** JSON: ProjectConfiguration (data type, annotation classes). */
  configuration: string;
  created_at: string;
}

export interface TaskTable {
  id: Generated<number>;
  project_id: number;
  data_unit_id: number;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface AssignmentTable {
  id: Generated<number>;
  task_id: number;
  /** Who (or which plugin) annotated; '' when nobody in particular. */
  annotator: string;
  status: string;
  /** JSON: an AnnotationDocument (sdk/annotations.ts). */
  annotations: string;
  created_at: string;
  updated_at: string;
}

export interface GroundTruthDatasetTable {
  id: Generated<number>;
  name: string;
  project_id: number | null;
  description: string;
  created_at: string;
}

export interface GroundTruthVersionTable {
  id: Generated<number>;
  dataset_id: number;
  name: string;
  created_at: string;
}

/** A data unit and its annotations as they are in one ground-truth version. */
export interface GroundTruthEventTable {
  id: Generated<number>;
  version_id: number;
  data_unit_id: number;
  /** JSON: an AnnotationDocument. */
  annotations: string;
  created_at: string;
}

export interface ModelTable {
  id: Generated<number>;
  name: string;
  plugin_code: string;
  plugin_version: string;
  storage_id: number | null;
  file_key: string | null;
  /** JSON object. */
  configuration: string;
  /** JSON object of numbers. */
  metrics: string;
  run_id: string | null;
  created_at: string;
}

export interface PluginReleaseTable {
  id: Generated<number>;
  code: string;
  version: string;
  /** sha256 hex of the release archive. */
  checksum: string;
  /** JSON: the plugin's config.yaml as parsed. */
  config: string;
  storage_id: number | null;
  archive_key: string | null;
  created_at: string;
}

export interface RunTable {
  id: string;
  plugin_code: string;
  plugin_version: string;
  action: string;
  category: string;
  method: string;
  status: string;
  params: string;
  result: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface RunEventTable {
  id: Generated<number>;
  run_id: string;
  attempt: number;
  at: string;
  kind: string;
  data: string;
}

export interface RunCheckpointTable {
  run_id: string;
  seq: number;
  attempt: number;
  at: string;
  state: string;
}

/** One item's result in a run (migration 004): a retry replaces it. */
export interface RunItemResultTable {
  run_id: string;
  /** The item's key in the run, e.g. `task:12`. */
  item: string;
  status: string;
  /** JSON object. */
  data: string;
  attempt: number;
  at: string;
}

/** A replica of a deployment (migration 005): written by its serve activity, removed when it stops. */
export interface DeploymentReplicaTable {
  deployment_id: string;
  replica: number;
  /** starting | ready | draining | failed (contracts/deployment.ts). */
  status: string;
  /** http://127.0.0.1:<port> once listening. */
  address: string | null;
  /** host:pid of the worker process hosting it. */
  worker: string;
  attempt: number;
  in_flight: number;
  served: number;
  error: string | null;
  started_at: string;
  updated_at: string;
}

/** A gateway API token: the secret only as its SHA-256 (hex; older SQLite rows hold bytes). */
export interface ApiTokenTable {
  id: string;
  name: string;
  /** Comma-separated scopes. */
  scopes: string;
  secret_sha256: string | Buffer;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface Database {
  storages: StorageTable;
  data_collections: DataCollectionTable;
  file_specifications: FileSpecificationTable;
  data_units: DataUnitTable;
  projects: ProjectTable;
  tasks: TaskTable;
  assignments: AssignmentTable;
  ground_truth_datasets: GroundTruthDatasetTable;
  ground_truth_versions: GroundTruthVersionTable;
  ground_truth_events: GroundTruthEventTable;
  models: ModelTable;
  plugin_releases: PluginReleaseTable;
  runs: RunTable;
  run_events: RunEventTable;
  run_checkpoints: RunCheckpointTable;
  api_tokens: ApiTokenTable;
  run_item_results: RunItemResultTable;
  deployment_replicas: DeploymentReplicaTable;
}

/** Tables `synapse platform stats` counts, in the order it prints them. */
export const PLATFORM_TABLES = [
  'storages',
  'data_collections',
  'file_specifications',
  'data_units',
  'projects',
  'tasks',
  'assignments',
  'ground_truth_datasets',
  'ground_truth_versions',
  'ground_truth_events',
  'models',
  'plugin_releases',
  'runs',
  'run_events',
] as const satisfies readonly (keyof Database)[];

export type DataUnitRow = Selectable<DataUnitTable>;
export type NewDataUnitRow = Insertable<DataUnitTable>;

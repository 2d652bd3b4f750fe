/**
 * PlatformApi: what plugin code of the annotation categories (to_task, pre_annotation,
 * post_annotation, validation) may read and write on the platform, as `ctx.platform` of a
 * task-page run (sdk/task-pages.ts). An interface only: the engine implements it over the
 * platform database and storages (activities/platform-api.ts), so plugin code never sees
 * SQL, storage providers or Temporal.
 *
 * Reads page by id (`afterId`, at most `limit` records, `nextAfterId` null on the last page)
 * with the filters of sdk/platform-filters.ts; an unknown filter key throws InvalidInputError
 * naming it. Writes are batched and idempotent: writing the same annotations for the same
 * task and annotator again replaces them (one row per task and annotator, never two), and a
 * run's per-item result is keyed by the item, so a retried page writes nothing twice.
 */
import type { AnnotationClass, AnnotationDocument, AnnotationDocumentInput, DataType } from './annotations.js';
import type { AssignmentFilter, DataUnitFilter, TaskFilter } from './platform-filters.js';
import type { RunContext } from './run-context.js';

/** A file of a data unit: the storage id and the key in it. */
export interface PlatformFile {
  storage: number;
  key: string;
  size?: number;
  checksum?: string;
}

export interface PlatformDataUnit {
  id: number;
  uniqueKey: string;
  meta: Record<string, unknown>;
  /** By file specification name, e.g. `{ image: {...}, annotation: {...} }`. */
  files: Record<string, PlatformFile>;
}

export interface PlatformTask {
  id: number;
  projectId: number;
  status: string;
  createdAt: string;
  updatedAt: string;
  dataUnit: PlatformDataUnit;
}

/** A data unit as it is in a ground-truth version: its annotations there. */
export interface PlatformGroundTruthEntry {
  /** The version's event id (entries page in its order). */
  id: number;
  versionId: number;
  dataUnit: PlatformDataUnit;
  annotations: AnnotationDocument;
}

export interface PlatformAssignment {
  id: number;
  taskId: number;
  /** Who annotated ('' when nobody in particular; `plugin:<code>` for a plugin's writes). */
  annotator: string;
  status: string;
  annotations: AnnotationDocument;
  createdAt: string;
  updatedAt: string;
}

export interface PlatformFileSpecification {
  name: string;
  required: boolean;
  /** Lower-case with their dot; empty allows any. */
  extensions: string[];
}

export interface PlatformProject {
  id: number;
  name: string;
  dataType: DataType;
  classes: AnnotationClass[];
  /** The project's data collection and the files its data units carry. */
  collection: { id: number; name: string; files: PlatformFileSpecification[] };
}

export interface PageRequest {
  /** Records with ids above this one (default 0: from the start). */
  afterId?: number;
  /** At most this many (1..1000, default 100). */
  limit?: number;
}

export interface Page<T> {
  items: T[];
  /** The `afterId` of the next page, or null when this was the last. */
  nextAfterId: number | null;
}

/** Annotations for one task, as one annotator's assignment. */
export interface AnnotationWrite {
  taskId: number;
  annotations: AnnotationDocumentInput;
  /** Default `completed`. */
  status?: 'pending' | 'in_progress' | 'submitted' | 'completed' | 'rejected';
}

/** One item's outcome in a run, kept per run and item (a retry replaces it). */
export interface ItemResult {
  /** The item's key in the run: `task:12`, `data_unit:7`, ... */
  item: string;
  status: 'success' | 'failed' | 'skipped';
  /** JSON details: problems found, counts, the error. */
  data?: Record<string, unknown>;
}

/** A deployment (docs/serving.md) as plugin code sees it: its run's status and its ready replicas now. */
export interface PlatformDeployment {
  /** The deployment's id (its run id). */
  id: string;
  /** The deployment run's status: `running` (or `pending`) while it serves. */
  status: string;
  /** Replicas that take requests now (ready and fresh). */
  ready: number;
}

export interface PlatformApi {
  /** A project by id or name, with its classes and file specifications. NotFoundError when unknown. */
  getProject(ref: number | string): Promise<PlatformProject>;
  /** A page of the project's tasks in id order. */
  listTasks(project: number | string, filter?: TaskFilter, page?: PageRequest): Promise<Page<PlatformTask>>;
  /** A page of the project's assignments in id order. */
  listAssignments(project: number | string, filter?: AssignmentFilter, page?: PageRequest): Promise<Page<PlatformAssignment>>;
  /** A page of a data collection's data units in id order. */
  listDataUnits(collection: number | string, filter?: DataUnitFilter, page?: PageRequest): Promise<Page<PlatformDataUnit>>;
  /** Every assignment of these tasks (any status), grouped by task id. */
  assignmentsOf(taskIds: readonly number[]): Promise<Map<number, PlatformAssignment[]>>;
  /** Whether a file is in its storage (false for a missing key; NotFoundError for an unknown storage). */
  fileExists(file: PlatformFile): Promise<boolean>;
  /** A file's bytes. NotFoundError when the storage or the key is missing. */
  readFile(file: PlatformFile): Promise<Buffer>;
  /** Writes a file into a storage (id or name) under `key`; the same key again replaces it. */
  writeFile(storage: number | string, key: string, body: string | Buffer): Promise<void>;
  /**
   * Writes annotations to tasks of the project, all or nothing, as assignments of
   * `annotator` (default `plugin:<code>`): checked against the format and the project's
   * classes first (InvalidInputError naming each problem), replacing what that annotator
   * wrote before.
   */
  writeAnnotations(project: number | string, items: readonly AnnotationWrite[], options?: { annotator?: string }): Promise<void>;
  /** Tasks for data units of the project's collection; units with a task keep it. Returns task ids in input order. */
  createTasks(project: number | string, dataUnitIds: readonly number[]): Promise<number[]>;
  /**
   * Puts data units with annotations into ground-truth version `version` of dataset
   * `dataset` (both made when missing, the dataset for `project`); a unit already there gets
   * the new annotations. Returns the version id.
   */
  writeGroundTruth(
    project: number | string,
    dataset: string,
    version: string,
    items: readonly { dataUnitId: number; annotations: AnnotationDocumentInput }[],
  ): Promise<number>;
  /** Records items' results for this run; an item written again replaces its result. */
  writeResults(items: readonly ItemResult[]): Promise<void>;
  /** A deployment by id. NotFoundError when no deployment run has this id. */
  getDeployment(id: string): Promise<PlatformDeployment>;
  /**
   * One prediction of a deployment: `input` (the JSON its action's `static input` takes, e.g.
   * `{ image: <base64 PNG> }`) to a ready replica, trying the next one when a replica cannot
   * be reached; resolves to its JSON answer. UnavailableError naming the deployment when no
   * replica is ready or none answered (retryable: a task-page run retries the page); NotFoundError
   * for an unknown or ended deployment; InvalidInputError when the replica refused the input
   * (HTTP 400: its problems); Error for any other non-2xx answer. `timeoutMs` per replica (default 30 000).
   */
  predict(deployment: string, input: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
}

/** The run context of an action that reads or writes the platform: a job's `start(ctx)` gets one too. */
export interface PlatformRunContext<P = unknown> extends RunContext<P> {
  readonly platform: PlatformApi;
}

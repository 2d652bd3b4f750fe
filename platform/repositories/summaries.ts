/**
 * What people list and inspect from the CLI and the gateway: data collections with their
 * data unit counts, projects with their tasks per status, ground-truth versions with their
 * dataset and size, a run's models, and the newest release of a plugin. The entity modules
 * hold the writes and the rows plugins page through; these are the read-only overviews
 * around them, a few COUNT queries each, never a scan of the rows themselves.
 */
import { NotFoundError } from '../../contracts/errors.js';
import { getDataCollection, listDataCollections, type DataCollection } from './collections.js';
import { asId, type Db } from './common.js';
import { getGroundTruthDataset, getGroundTruthVersion, type GroundTruthDataset, type GroundTruthVersion } from './ground-truth.js';
import { listModels, listPluginReleases, getModel, type Model, type PluginRelease } from './models.js';
import { getProject, listProjects, TASK_STATUSES, type Project, type TaskStatus } from './projects.js';

export interface DataCollectionSummary extends DataCollection {
  /** Data units in the collection. */
  dataUnits: number;
}

export interface ProjectSummary extends Project {
  collection: { id: number; name: string };
  /** Tasks per status; every status is present (0 when none). */
  tasks: Record<TaskStatus, number>;
}

export interface GroundTruthVersionSummary extends GroundTruthVersion {
  dataset: { id: number; name: string; projectId: number | null };
  /** Data units (with their annotations) in the version. */
  dataUnits: number;
}

export interface GroundTruthDatasetSummary extends GroundTruthDataset {
  /** The project the dataset's data comes from (null when it has none). */
  project: { id: number; name: string } | null;
  /** Its versions, oldest first (no events). */
  versions: { id: number; name: string; createdAt: string }[];
}

async function unitCounts(db: Db, collectionIds: number[]): Promise<Map<number, number>> {
  if (collectionIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('data_units')
    .select(['collection_id', db.fn.countAll<number>().as('n')])
    .where('collection_id', 'in', collectionIds)
    .groupBy('collection_id')
    .execute();
  return new Map(rows.map((r) => [Number(r.collection_id), Number(r.n)]));
}

/** Every data collection (oldest first) with its file specifications and data unit count. */
export async function listDataCollectionSummaries(db: Db): Promise<DataCollectionSummary[]> {
  const collections = await listDataCollections(db);
  const counts = await unitCounts(
    db,
    collections.map((c) => c.id),
  );
  return collections.map((c) => ({ ...c, dataUnits: counts.get(c.id) ?? 0 }));
}

/** One data collection by id or name; NotFoundError (exit 3, HTTP 404) when there is none. */
export async function dataCollectionSummary(db: Db, ref: string | number): Promise<DataCollectionSummary> {
  const collection = await getDataCollection(db, ref);
  return { ...collection, dataUnits: (await unitCounts(db, [collection.id])).get(collection.id) ?? 0 };
}

async function withTasks(db: Db, projects: Project[]): Promise<ProjectSummary[]> {
  if (projects.length === 0) return [];
  const ids = projects.map((p) => p.id);
  const rows = await db
    .selectFrom('tasks')
    .select(['project_id', 'status', db.fn.countAll<number>().as('n')])
    .where('project_id', 'in', ids)
    .groupBy(['project_id', 'status'])
    .execute();
  const collections = new Map(
    (
      await db
        .selectFrom('data_collections')
        .select(['id', 'name'])
        .where(
          'id',
          'in',
          projects.map((p) => p.collectionId),
        )
        .execute()
    ).map((c) => [Number(c.id), c.name]),
  );
  return projects.map((p) => {
    const tasks = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const r of rows)
      if (Number(r.project_id) === p.id && (TASK_STATUSES as readonly string[]).includes(r.status)) tasks[r.status as TaskStatus] = Number(r.n);
    return { ...p, collection: { id: p.collectionId, name: collections.get(p.collectionId) ?? '' }, tasks };
  });
}

/** Every project (oldest first) with its collection's name and task counts per status. */
export async function listProjectSummaries(db: Db): Promise<ProjectSummary[]> {
  return withTasks(db, await listProjects(db));
}

/** One project by id or name; NotFoundError when there is none. */
export async function projectSummary(db: Db, ref: string | number): Promise<ProjectSummary> {
  return (await withTasks(db, [await getProject(db, ref)]))[0] as ProjectSummary;
}

async function withDatasets(db: Db, versions: GroundTruthVersion[]): Promise<GroundTruthVersionSummary[]> {
  if (versions.length === 0) return [];
  const versionIds = versions.map((v) => v.id);
  const counts = new Map(
    (
      await db
        .selectFrom('ground_truth_events')
        .select(['version_id', db.fn.countAll<number>().as('n')])
        .where('version_id', 'in', versionIds)
        .groupBy('version_id')
        .execute()
    ).map((r) => [Number(r.version_id), Number(r.n)]),
  );
  const datasets = new Map(
    (
      await db
        .selectFrom('ground_truth_datasets')
        .select(['id', 'name', 'project_id'])
        .where('id', 'in', [...new Set(versions.map((v) => v.datasetId))])
        .execute()
    ).map((d) => [Number(d.id), { id: Number(d.id), name: d.name, projectId: d.project_id === null ? null : Number(d.project_id) }]),
  );
  return versions.map((v) => ({
    ...v,
    dataset: datasets.get(v.datasetId) ?? { id: v.datasetId, name: '', projectId: null },
    dataUnits: counts.get(v.id) ?? 0,
  }));
}

/**
 * Ground-truth versions, oldest first, each with its dataset and data unit count; with
 * `dataset` (an id or name) only that dataset's (NotFoundError when it does not exist).
 */
export async function listGroundTruthVersionSummaries(db: Db, filter: { dataset?: string | number } = {}): Promise<GroundTruthVersionSummary[]> {
  let q = db.selectFrom('ground_truth_versions').selectAll();
  if (filter.dataset !== undefined) q = q.where('dataset_id', '=', (await getGroundTruthDataset(db, filter.dataset)).id);
  const rows = await q.orderBy('id').execute();
  return withDatasets(
    db,
    rows.map((r) => ({ id: r.id, datasetId: Number(r.dataset_id), name: r.name, createdAt: r.created_at })),
  );
}

/** One ground-truth version by id (what export filters name: `ground_truth_dataset_version`). */
export async function groundTruthVersionSummary(db: Db, id: number): Promise<GroundTruthVersionSummary> {
  return (await withDatasets(db, [await getGroundTruthVersion(db, id)]))[0] as GroundTruthVersionSummary;
}

/**
 * Ground-truth datasets, oldest first (or only the one `ref` names, an id or a name:
 * NotFoundError when there is none), each with its project and its versions. Two queries
 * besides the datasets', never a scan of the events.
 */
export async function listGroundTruthDatasetSummaries(db: Db, ref?: string | number): Promise<GroundTruthDatasetSummary[]> {
  const datasets: GroundTruthDataset[] =
    ref !== undefined
      ? [await getGroundTruthDataset(db, ref)]
      : (await db.selectFrom('ground_truth_datasets').selectAll().orderBy('id').execute()).map((r) => ({
          id: r.id,
          name: r.name,
          projectId: r.project_id === null ? null : Number(r.project_id),
          description: r.description,
          createdAt: r.created_at,
        }));
  if (datasets.length === 0) return [];
  const projectIds = [...new Set(datasets.flatMap((d) => (d.projectId === null ? [] : [d.projectId])))];
  const projects = new Map(
    projectIds.length === 0
      ? []
      : (await db.selectFrom('projects').select(['id', 'name']).where('id', 'in', projectIds).execute()).map((p) => [
          Number(p.id),
          { id: Number(p.id), name: p.name },
        ]),
  );
  const versions = await db
    .selectFrom('ground_truth_versions')
    .select(['id', 'dataset_id', 'name', 'created_at'])
    .where(
      'dataset_id',
      'in',
      datasets.map((d) => d.id),
    )
    .orderBy('id')
    .execute();
  const byDataset = new Map<number, GroundTruthDatasetSummary['versions']>();
  for (const v of versions) {
    const list = byDataset.get(Number(v.dataset_id)) ?? [];
    list.push({ id: v.id, name: v.name, createdAt: v.created_at });
    byDataset.set(Number(v.dataset_id), list);
  }
  return datasets.map((d) => ({
    ...d,
    project: d.projectId === null ? null : (projects.get(d.projectId) ?? null),
    versions: byDataset.get(d.id) ?? [],
  }));
}

/**
 * A model by id, or by name (the newest model of that name: names are unique among models a
 * train run registers, see platform/model-names.ts). NotFoundError names what was asked for.
 */
export async function findModel(db: Db, ref: string | number): Promise<Model> {
  const id = asId(ref);
  if (id !== undefined) return getModel(db, id);
  const row = await db.selectFrom('models').select('id').where('name', '=', String(ref)).orderBy('id', 'desc').executeTakeFirst();
  if (!row) throw new NotFoundError(`unknown model ${JSON.stringify(ref)}`);
  return getModel(db, Number(row.id));
}

/** The models a run registered (a train run its model; a tune run its best trial's), oldest first. */
export async function listModelsOfRun(db: Db, runId: string): Promise<Model[]> {
  return (await listModels(db)).filter((m) => m.runId === runId);
}

/**
 * Semantic-version precedence (semver.org section 11): -1, 0 or 1. Build metadata is ignored;
 * a pre-release sorts before its release. Versions are valid (sdk/config.ts checks them).
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core = '', pre] = (v.split('+')[0] ?? '').split(/-(.*)/s) as [string, string | undefined];
    return { core: core.split('.').map(Number), pre: pre === undefined || pre === '' ? [] : pre.split('.') };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.core[i] ?? 0) - (y.core[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === y.pre.length ? 0 : x.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** The highest version (by semver precedence) published of `code`; undefined when none is. */
export async function newestPluginRelease(db: Db, code: string): Promise<PluginRelease | undefined> {
  const releases = await listPluginReleases(db, code);
  return releases.sort((a, b) => compareVersions(b.version, a.version))[0];
}

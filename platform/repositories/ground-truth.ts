/**
 * Ground-truth datasets, their versions, and the events of a version: a data unit with its
 * annotations as they are in that version (the export target `ground_truth`).
 */
import type { Selectable } from 'kysely';
import { z } from 'zod';
import type { AnnotationDocument } from '../../sdk/annotations.js';
import { InvalidInputError, NotFoundError, type Problem } from '../../contracts/errors.js';
import type { GroundTruthDatasetTable, GroundTruthEventTable, GroundTruthVersionTable } from '../schema.js';
import type { DataUnit } from './collections.js';
import { asId, batchSize, chunks, inTransaction, notFound, now, parseInput, parseJson, type Db } from './common.js';
import { annotationProblems, getProject } from './projects.js';
import { NAME } from './storages.js';

export interface GroundTruthDataset {
  id: number;
  name: string;
  projectId: number | null;
  description: string;
  createdAt: string;
}

export interface GroundTruthVersion {
  id: number;
  datasetId: number;
  name: string;
  createdAt: string;
}

export interface GroundTruthEvent {
  id: number;
  versionId: number;
  dataUnitId: number;
  annotations: AnnotationDocument;
  createdAt: string;
}

export interface GroundTruthEventWithDataUnit extends GroundTruthEvent {
  dataUnit: Pick<DataUnit, 'id' | 'uniqueKey' | 'meta' | 'files'>;
}

const toDataset = (r: Selectable<GroundTruthDatasetTable>): GroundTruthDataset => ({
  id: r.id,
  name: r.name,
  projectId: r.project_id === null ? null : Number(r.project_id),
  description: r.description,
  createdAt: r.created_at,
});
const toVersion = (r: Selectable<GroundTruthVersionTable>): GroundTruthVersion => ({
  id: r.id,
  datasetId: Number(r.dataset_id),
  name: r.name,
  createdAt: r.created_at,
});
const toEvent = (r: Selectable<GroundTruthEventTable>): GroundTruthEvent => ({
  id: r.id,
  versionId: Number(r.version_id),
  dataUnitId: Number(r.data_unit_id),
  annotations: parseJson(r.annotations),
  createdAt: r.created_at,
});

/** Creates a dataset (of a project's data); the same name again returns the existing one. */
export async function createGroundTruthDataset(db: Db, input: { name: string; project: number | string; description?: string }): Promise<GroundTruthDataset> {
  const parsed = parseInput(
    z.strictObject({ name: NAME, project: z.union([z.number().int().positive(), z.string().min(1)]), description: z.string().default('') }),
    input,
    'invalid ground-truth dataset',
  );
  const project = await getProject(db, parsed.project);
  return inTransaction(db, async (trx) => {
    const existing = await trx.selectFrom('ground_truth_datasets').selectAll().where('name', '=', parsed.name).executeTakeFirst();
    if (existing) {
      if (Number(existing.project_id) === project.id) return toDataset(existing);
      throw new InvalidInputError('cannot create the ground-truth dataset', [
        { path: 'name', message: `a dataset named "${parsed.name}" exists for another project` },
      ]);
    }
    const row = await trx
      .insertInto('ground_truth_datasets')
      .values({ name: parsed.name, project_id: project.id, description: parsed.description, created_at: now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDataset(row);
  });
}

export async function getGroundTruthDataset(db: Db, ref: number | string): Promise<GroundTruthDataset> {
  const id = asId(ref);
  const row = await db
    .selectFrom('ground_truth_datasets')
    .selectAll()
    .where(id !== undefined ? 'id' : 'name', '=', id ?? String(ref))
    .executeTakeFirst();
  if (!row) throw notFound('ground-truth dataset', ref);
  return toDataset(row);
}

/** Creates a version of a dataset; the same name again returns the existing one. */
export async function createGroundTruthVersion(db: Db, datasetRef: number | string, name: string): Promise<GroundTruthVersion> {
  const dataset = await getGroundTruthDataset(db, datasetRef);
  const parsedName = parseInput(z.string().min(1).max(100), name, 'invalid version name');
  await db
    .insertInto('ground_truth_versions')
    .values({ dataset_id: dataset.id, name: parsedName, created_at: now() })
    .onConflict((oc) => oc.columns(['dataset_id', 'name']).doNothing())
    .execute();
  const row = await db
    .selectFrom('ground_truth_versions')
    .selectAll()
    .where('dataset_id', '=', dataset.id)
    .where('name', '=', parsedName)
    .executeTakeFirstOrThrow();
  return toVersion(row);
}

export async function getGroundTruthVersion(db: Db, id: number): Promise<GroundTruthVersion> {
  const row = await db.selectFrom('ground_truth_versions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`unknown ground-truth version ${id}`);
  return toVersion(row);
}

export async function listGroundTruthVersions(db: Db, datasetId: number): Promise<GroundTruthVersion[]> {
  return (await db.selectFrom('ground_truth_versions').selectAll().where('dataset_id', '=', datasetId).orderBy('id').execute()).map(toVersion);
}

/**
 * Puts data units with their annotations into a version, all or nothing; a data unit
 * already in the version gets the new annotations (a retried step writes the same).
 */
export async function addGroundTruthEvents(
  db: Db,
  versionId: number,
  input: readonly { dataUnitId: number; annotations: unknown }[],
): Promise<GroundTruthEvent[]> {
  const version = await getGroundTruthVersion(db, versionId);
  const dataset = await getGroundTruthDataset(db, version.datasetId);
  if (dataset.projectId === null)
    throw new InvalidInputError('cannot add to the ground-truth version', [{ path: 'dataset', message: 'the dataset has no project' }]);
  const project = await getProject(db, dataset.projectId);
  const subject = `invalid ground truth for version ${version.id} of "${dataset.name}"`;
  const items = parseInput(z.array(z.strictObject({ dataUnitId: z.number().int().positive(), annotations: z.unknown() })), input, subject);
  const { parsed, problems } = annotationProblems(
    items.map((i) => i.annotations),
    project.configuration.classes,
    project.configuration.data_type,
    (i) => `${i}.annotations`,
  );
  const seen = new Map<number, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.dataUnitId);
    if (first !== undefined)
      problems.push({ path: `${i}.dataUnitId`, message: `duplicate data unit ${item.dataUnitId} (also item ${first})` } satisfies Problem);
    else seen.set(item.dataUnitId, i);
  });
  if (problems.length) throw new InvalidInputError(subject, problems);
  const ids = [...seen.keys()];
  return inTransaction(db, async (trx) => {
    const found = new Set<number>();
    for (const batch of chunks(ids, 1000)) {
      for (const r of await trx.selectFrom('data_units').select('id').where('collection_id', '=', project.collectionId).where('id', 'in', batch).execute())
        found.add(Number(r.id));
    }
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length)
      throw new NotFoundError(
        `unknown data unit${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')} in the collection of project "${project.name}"`,
      );
    const at = now();
    const written = new Map<number, { id: number; created_at: string }>();
    const rows = items.map((item, i) => ({ version_id: version.id, data_unit_id: item.dataUnitId, annotations: JSON.stringify(parsed[i]), created_at: at }));
    for (const batch of chunks(rows, batchSize(4))) {
      const result = await trx
        .insertInto('ground_truth_events')
        .values(batch)
        .onConflict((oc) => oc.columns(['version_id', 'data_unit_id']).doUpdateSet((eb) => ({ annotations: eb.ref('excluded.annotations') })))
        .returning(['id', 'data_unit_id', 'created_at'])
        .execute();
      for (const w of result) written.set(Number(w.data_unit_id), w);
    }
    // RETURNING's order is not guaranteed: match by data unit; the annotations are the parsed input.
    return items.map((item, i) => {
      const w = written.get(item.dataUnitId) as { id: number; created_at: string };
      return { id: w.id, versionId: version.id, dataUnitId: item.dataUnitId, annotations: parsed[i] as AnnotationDocument, createdAt: w.created_at };
    });
  });
}

/** Events of a version (the export target `ground_truth`) with their data units, in id order. */
export async function listGroundTruthEvents(db: Db, filter: { versionId: number; afterId?: number; limit?: number }): Promise<GroundTruthEventWithDataUnit[]> {
  const rows = await db
    .selectFrom('ground_truth_events')
    .innerJoin('data_units', 'data_units.id', 'ground_truth_events.data_unit_id')
    .selectAll('ground_truth_events')
    .select(['data_units.unique_key', 'data_units.meta', 'data_units.files'])
    .where('ground_truth_events.version_id', '=', filter.versionId)
    .where('ground_truth_events.id', '>', filter.afterId ?? 0)
    .orderBy('ground_truth_events.id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map((r) => ({
    ...toEvent(r),
    dataUnit: { id: Number(r.data_unit_id), uniqueKey: r.unique_key, meta: parseJson(r.meta), files: parseJson(r.files) },
  }));
}

/** Ids of a version's events after `afterId`, in id order, at most `limit`: an export plans its pages with them. */
export async function listGroundTruthEventIds(db: Db, filter: { versionId: number; afterId?: number; limit?: number }): Promise<number[]> {
  const rows = await db
    .selectFrom('ground_truth_events')
    .select('id')
    .where('version_id', '=', filter.versionId)
    .where('id', '>', filter.afterId ?? 0)
    .orderBy('id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map((r) => Number(r.id));
}

/**
 * What an export reads from the platform: its target's items (assignments, tasks, or a
 * ground-truth version's events) page by page by id cursor, their count, the project's
 * classes, and the seed's filter keys turned into repository filters. Pure reads through the
 * platform repositories; the export steps (export.ts) call these.
 */
import { Context } from '@temporalio/activity';
import type { Db } from '../platform/repositories/common.js';
import { getGroundTruthDataset, getGroundTruthVersion, listGroundTruthEventIds, listGroundTruthEvents } from '../platform/repositories/ground-truth.js';
import {
  getProject,
  listAssignmentIds,
  listAssignments,
  listAssignmentsOfTasks,
  listTaskIds,
  listTasks,
  type AssignmentFilter,
  type AssignmentStatus,
  type TaskFilter,
  type TaskStatus,
} from '../platform/repositories/projects.js';
import { getStorage } from '../platform/repositories/storages.js';
import type { AnnotationClass } from '../sdk/annotations.js';
import type { ExportItem, ExportParams } from '../sdk/exporter.js';

function filterId(params: ExportParams, key: string): number {
  return Number(params.filter[key]);
}

function filterStatus(params: ExportParams): string | undefined {
  return typeof params.filter.status === 'string' ? params.filter.status : undefined;
}

/** The filter's references must exist: a missing project or version is a permanent error. */
export async function checkFilter(db: Db, params: ExportParams): Promise<void> {
  if (params.target === 'ground_truth') await getGroundTruthVersion(db, filterId(params, 'ground_truth_dataset_version'));
  else await getProject(db, filterId(params, 'project'));
  await getStorage(db, params.storage);
}

export async function projectClasses(db: Db, params: ExportParams): Promise<AnnotationClass[]> {
  let projectId: number | null;
  if (params.target === 'ground_truth') {
    const version = await getGroundTruthVersion(db, filterId(params, 'ground_truth_dataset_version'));
    projectId = (await getGroundTruthDataset(db, version.datasetId)).projectId;
  } else projectId = filterId(params, 'project');
  return projectId === null ? [] : (await getProject(db, projectId)).configuration.classes;
}

/** Item ids after `afterId`, in id order, at most `limit`. */
export async function itemIds(db: Db, params: ExportParams, afterId: number, limit: number): Promise<number[]> {
  if (params.target === 'ground_truth') return listGroundTruthEventIds(db, { versionId: filterId(params, 'ground_truth_dataset_version'), afterId, limit });
  if (params.target === 'assignment') return listAssignmentIds(db, { ...assignmentFilter(params), afterId, limit });
  return listTaskIds(db, { ...taskFilter(params), afterId, limit });
}

/** The filter's keys (checked by the params schema: sdk/exporter.ts FILTER_KEYS) as a repository filter. */
function assignmentFilter(params: ExportParams): AssignmentFilter {
  const status = filterStatus(params);
  return {
    projectId: filterId(params, 'project'),
    ...(status ? { status: status as AssignmentStatus } : {}),
    ...(params.filter.task !== undefined ? { taskId: filterId(params, 'task') } : {}),
  };
}

function taskFilter(params: ExportParams): TaskFilter {
  const status = filterStatus(params);
  return {
    projectId: filterId(params, 'project'),
    ...(status ? { status: status as TaskStatus } : {}),
    ...(params.filter.assignment !== undefined ? { assignmentId: filterId(params, 'assignment') } : {}),
  };
}

export async function countItems(db: Db, params: ExportParams): Promise<number> {
  let total = 0;
  let after = 0;
  for (;;) {
    const ids = await itemIds(db, params, after, 10_000);
    Context.current().heartbeat();
    total += ids.length;
    if (ids.length < 10_000) return total;
    after = ids[ids.length - 1] as number;
  }
}

export async function fetchItems(db: Db, params: ExportParams, afterId: number, limit: number): Promise<ExportItem[]> {
  const unit = (u: { id: number; uniqueKey: string; meta: Record<string, unknown> }) => ({ id: u.id, uniqueKey: u.uniqueKey, meta: u.meta });
  if (params.target === 'ground_truth') {
    const rows = await listGroundTruthEvents(db, { versionId: filterId(params, 'ground_truth_dataset_version'), afterId, limit });
    return rows.map((r) => ({
      id: r.id,
      target: 'ground_truth',
      data: r.annotations,
      files: r.dataUnit.files,
      dataUnit: unit(r.dataUnit),
      extra: { version_id: r.versionId },
    }));
  }
  if (params.target === 'assignment') {
    const rows = await listAssignments(db, { ...assignmentFilter(params), afterId, limit });
    return rows.map((r) => ({
      id: r.id,
      target: 'assignment',
      data: r.annotations,
      files: r.dataUnit.files,
      dataUnit: unit(r.dataUnit),
      extra: { task_id: r.taskId, annotator: r.annotator, status: r.status },
    }));
  }
  const rows = await listTasks(db, { ...taskFilter(params), afterId, limit });
  const expand = Array.isArray(params.filter.expand) ? (params.filter.expand as string[]) : [];
  const byTask = new Map<number, { id: number; annotator: string; status: string; annotations: unknown }[]>();
  if (expand.includes('assignment')) {
    for (const a of await listAssignmentsOfTasks(
      db,
      rows.map((r) => r.id),
    )) {
      const list = byTask.get(a.taskId) ?? [];
      list.push({ id: a.id, annotator: a.annotator, status: a.status, annotations: a.annotations });
      byTask.set(a.taskId, list);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    target: 'task',
    data: null,
    files: r.dataUnit.files,
    dataUnit: unit(r.dataUnit),
    extra: { status: r.status, ...(expand.includes('assignment') ? { assignments: byTask.get(r.id) ?? [] } : {}) },
  }));
}

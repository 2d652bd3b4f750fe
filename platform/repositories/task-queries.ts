/**
 * Filtered, paged reads of tasks, assignments and data units: what plugin code asks for
 * through `ctx.platform` (sdk/platform-api.ts) and what a task-page run pages over. The
 * filters are the ones sdk/platform-filters.ts parses (unknown keys never get this far);
 * every read is in id order after an `afterId`, at most `limit` rows.
 */
import type { Selectable } from 'kysely';
import type { ParsedAssignmentFilter, ParsedDataUnitFilter, ParsedTaskFilter } from '../../sdk/platform-filters.js';
import { TASK_STATUS_VALUES, ASSIGNMENT_STATUS_VALUES } from '../../sdk/platform-filters.js';
import type { AssignmentTable } from '../schema.js';
import { getDataCollection, type DataUnit } from './collections.js';
import { chunks, parseJson, type Db } from './common.js';
import { ASSIGNMENT_STATUSES, getProject, TASK_STATUSES, type Assignment, type AssignmentStatus, type TaskStatus, type TaskWithDataUnit } from './projects.js';

// The SDK's filter statuses are the platform's: a status added to one and not the other does not compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _taskStatuses: Same<(typeof TASK_STATUS_VALUES)[number], (typeof TASK_STATUSES)[number]> = true;
const _assignmentStatuses: Same<(typeof ASSIGNMENT_STATUS_VALUES)[number], (typeof ASSIGNMENT_STATUSES)[number]> = true;
void _taskStatuses;
void _assignmentStatuses;

export interface PageWindow {
  /** Rows with ids above this (default 0). */
  afterId?: number;
  /** Rows with ids up to this one, inclusive (a planned page's last id). */
  upToId?: number;
  /** At most this many (default 1000). */
  limit?: number;
}

type DataUnitPart = Pick<DataUnit, 'id' | 'uniqueKey' | 'meta' | 'files'>;

/** The project's tasks matching `filter`, in id order, with their data units. */
export async function findTasks(db: Db, projectId: number, filter: ParsedTaskFilter, window: PageWindow = {}): Promise<TaskWithDataUnit[]> {
  const collectionId = filter.data_collection !== undefined ? (await getDataCollection(db, filter.data_collection)).id : undefined;
  let q = db
    .selectFrom('tasks')
    .innerJoin('data_units', 'data_units.id', 'tasks.data_unit_id')
    .selectAll('tasks')
    .select(['data_units.unique_key', 'data_units.meta', 'data_units.files'])
    .where('tasks.project_id', '=', projectId)
    .where('tasks.id', '>', window.afterId ?? 0);
  if (window.upToId !== undefined) q = q.where('tasks.id', '<=', window.upToId);
  if (filter.status) q = q.where('tasks.status', '=', filter.status);
  if (filter.status__in) q = q.where('tasks.status', 'in', filter.status__in);
  if (collectionId !== undefined) q = q.where('data_units.collection_id', '=', collectionId);
  if (filter.id__in) q = q.where('tasks.id', 'in', filter.id__in);
  if (filter.data_unit__in) q = q.where('tasks.data_unit_id', 'in', filter.data_unit__in);
  if (filter.created_at__gte) q = q.where('tasks.created_at', '>=', filter.created_at__gte);
  if (filter.created_at__lte) q = q.where('tasks.created_at', '<=', filter.created_at__lte);
  const assignee = filter.assignee;
  if (assignee !== undefined) {
    q = q.where((eb) =>
      eb.exists(
        eb.selectFrom('assignments').select('assignments.id').whereRef('assignments.task_id', '=', 'tasks.id').where('assignments.annotator', '=', assignee),
      ),
    );
  }
  if (filter.assignee__isnull !== undefined) {
    const none = filter.assignee__isnull;
    q = q.where((eb) => {
      const any = eb.exists(eb.selectFrom('assignments').select('assignments.id').whereRef('assignments.task_id', '=', 'tasks.id'));
      return none ? eb.not(any) : any;
    });
  }
  const rows = await q
    .orderBy('tasks.id')
    .limit(window.limit ?? 1000)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    projectId: Number(r.project_id),
    dataUnitId: Number(r.data_unit_id),
    status: r.status as TaskStatus,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    dataUnit: { id: Number(r.data_unit_id), uniqueKey: r.unique_key, meta: parseJson(r.meta), files: parseJson(r.files) } satisfies DataUnitPart,
  }));
}

/** Ids of the project's tasks matching `filter` after `afterId`, at most `limit`: a task-page run plans pages with them. */
export async function findTaskIds(db: Db, projectId: number, filter: ParsedTaskFilter, window: PageWindow = {}): Promise<number[]> {
  // The same query as findTasks (one place for the filter's meaning); ids only are kept.
  return (await findTasks(db, projectId, filter, window)).map((t) => t.id);
}

function toAssignment(row: Selectable<AssignmentTable>): Assignment {
  return {
    id: row.id,
    taskId: Number(row.task_id),
    annotator: row.annotator,
    status: row.status as AssignmentStatus,
    annotations: parseJson(row.annotations),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The project's assignments matching `filter`, in id order. */
export async function findAssignments(db: Db, projectRef: number | string, filter: ParsedAssignmentFilter, window: PageWindow = {}): Promise<Assignment[]> {
  const project = await getProject(db, projectRef);
  let q = db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .selectAll('assignments')
    .where('tasks.project_id', '=', project.id)
    .where('assignments.id', '>', window.afterId ?? 0);
  if (window.upToId !== undefined) q = q.where('assignments.id', '<=', window.upToId);
  if (filter.status) q = q.where('assignments.status', '=', filter.status);
  if (filter.status__in) q = q.where('assignments.status', 'in', filter.status__in);
  if (filter.assignee !== undefined) q = q.where('assignments.annotator', '=', filter.assignee);
  if (filter.task !== undefined) q = q.where('assignments.task_id', '=', filter.task);
  if (filter.task__in) q = q.where('assignments.task_id', 'in', filter.task__in);
  if (filter.created_at__gte) q = q.where('assignments.created_at', '>=', filter.created_at__gte);
  if (filter.created_at__lte) q = q.where('assignments.created_at', '<=', filter.created_at__lte);
  return (
    await q
      .orderBy('assignments.id')
      .limit(window.limit ?? 1000)
      .execute()
  ).map(toAssignment);
}

/** Every assignment of these tasks, grouped by task id (each group in id order). */
export async function assignmentsByTask(db: Db, taskIds: readonly number[]): Promise<Map<number, Assignment[]>> {
  const out = new Map<number, Assignment[]>();
  for (const batch of chunks([...new Set(taskIds)], 1000)) {
    const rows = await db.selectFrom('assignments').selectAll().where('task_id', 'in', batch).orderBy('id').execute();
    for (const row of rows) {
      const a = toAssignment(row);
      const list = out.get(a.taskId);
      if (list) list.push(a);
      else out.set(a.taskId, [a]);
    }
  }
  return out;
}

/** A collection's data units matching `filter`, in id order. */
export async function findDataUnits(db: Db, collectionRef: number | string, filter: ParsedDataUnitFilter, window: PageWindow = {}): Promise<DataUnitPart[]> {
  const collection = await getDataCollection(db, collectionRef);
  const projectId = filter.project !== undefined ? (await getProject(db, filter.project)).id : undefined;
  let q = db
    .selectFrom('data_units')
    .select(['id', 'unique_key', 'meta', 'files'])
    .where('collection_id', '=', collection.id)
    .where('id', '>', window.afterId ?? 0);
  if (window.upToId !== undefined) q = q.where('id', '<=', window.upToId);
  if (filter.id__in) q = q.where('id', 'in', filter.id__in);
  if (filter.unique_key__in) q = q.where('unique_key', 'in', filter.unique_key__in);
  if (filter.created_at__gte) q = q.where('created_at', '>=', filter.created_at__gte);
  if (filter.created_at__lte) q = q.where('created_at', '<=', filter.created_at__lte);
  if (filter.task__isnull !== undefined && projectId !== undefined) {
    const none = filter.task__isnull;
    q = q.where((eb) => {
      const any = eb.exists(
        eb.selectFrom('tasks').select('tasks.id').whereRef('tasks.data_unit_id', '=', 'data_units.id').where('tasks.project_id', '=', projectId),
      );
      return none ? eb.not(any) : any;
    });
  }
  const rows = await q
    .orderBy('id')
    .limit(window.limit ?? 1000)
    .execute();
  return rows.map((r) => ({ id: Number(r.id), uniqueKey: r.unique_key, meta: parseJson(r.meta), files: parseJson(r.files) }));
}

/**
 * Projects (a data collection to annotate, with annotation classes), tasks (one per data
 * unit of the project) and assignments (a task's annotations by one annotator, with a status).
 * Annotations are checked against sdk/annotations.ts and the project's classes before
 * anything is written.
 */
import type { Selectable } from 'kysely';
import { z } from 'zod';
import {
  AnnotationClassSchema,
  AnnotationDocumentSchema,
  classProblems,
  DATA_TYPES,
  type AnnotationClass,
  type AnnotationDocument,
  type AnnotationDocumentInput,
  type DataType,
} from '../../sdk/annotations.js';
import { zodProblems } from '../../contracts/problems.js';
import { InvalidInputError, NotFoundError, type Problem } from '../../contracts/errors.js';
import type { AssignmentTable, ProjectTable, TaskTable } from '../schema.js';
import { getDataCollection, type DataUnit } from './collections.js';
import { asId, batchSize, canonicalJson, chunks, inTransaction, notFound, now, parseInput, parseJson, type Db } from './common.js';
import { NAME } from './storages.js';

export const TASK_STATUSES = ['pending', 'in_progress', 'completed', 'rejected'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const ASSIGNMENT_STATUSES = ['pending', 'in_progress', 'submitted', 'completed', 'rejected'] as const;
export type AssignmentStatus = (typeof ASSIGNMENT_STATUSES)[number];

/**
 * Why a class name cannot enter the platform, or undefined. Class names end up as text in
 * every export format (XML, YAML, JSON, labelmap.txt); a control character (C0 except none,
 * DEL, C1), a lone surrogate or U+FFFE/U+FFFF cannot be written in XML and is invisible in
 * most tools, and leading or trailing spaces make two names that look the same.
 */
export function classNameProblem(name: string): string | undefined {
  for (const ch of name) {
    const cp = ch.codePointAt(0) as number;
    const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return `holds the control character ${hex}`;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) return `holds ${hex}, which is not a character`;
  }
  if (name.trim() !== name) return 'starts or ends with white space';
  return undefined;
}

const ProjectClassSchema = AnnotationClassSchema.superRefine((c, ctx) => {
  const problem = classNameProblem(c.name);
  if (problem) ctx.addIssue({ code: 'custom', path: ['name'], message: `class name ${JSON.stringify(c.name)} ${problem}` });
});

export const ProjectConfigurationSchema = z.strictObject({
  data_type: z.enum(DATA_TYPES),
  classes: z.array(ProjectClassSchema).refine((classes) => new Set(classes.map((c) => c.name)).size === classes.length, 'class names must be unique'),
});
export type ProjectConfiguration = z.infer<typeof ProjectConfigurationSchema>;

export interface Project {
  id: number;
  name: string;
  collectionId: number;
  configuration: ProjectConfiguration;
  createdAt: string;
}

export interface Task {
  id: number;
  projectId: number;
  dataUnitId: number;
  status: TaskStatus;
  createdAt: string;
  updatedAt: string;
}

export interface Assignment {
  id: number;
  taskId: number;
  annotator: string;
  status: AssignmentStatus;
  annotations: AnnotationDocument;
  createdAt: string;
  updatedAt: string;
}

export interface AssignmentInput {
  taskId: number;
  annotator?: string;
  status?: AssignmentStatus;
  annotations: AnnotationDocumentInput | unknown;
}

const NewProjectSchema = z.strictObject({
  name: NAME,
  collection: z.union([z.number().int().positive(), z.string().min(1)]),
  configuration: ProjectConfigurationSchema,
});

function toProject(row: Selectable<ProjectTable>): Project {
  return { id: row.id, name: row.name, collectionId: Number(row.collection_id), configuration: parseJson(row.configuration), createdAt: row.created_at };
}
function toTask(row: Selectable<TaskTable>): Task {
  return {
    id: row.id,
    projectId: Number(row.project_id),
    dataUnitId: Number(row.data_unit_id),
    status: row.status as TaskStatus,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
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

/** Creates a project; the same name with the same collection and configuration returns the existing one. */
export async function createProject(
  db: Db,
  input: { name: string; collection: number | string; configuration: ProjectConfiguration | unknown },
): Promise<Project> {
  const parsed = parseInput(NewProjectSchema, input, 'invalid project');
  const collection = await getDataCollection(db, parsed.collection);
  return inTransaction(db, async (trx) => {
    const existing = await trx.selectFrom('projects').selectAll().where('name', '=', parsed.name).executeTakeFirst();
    if (existing) {
      const project = toProject(existing);
      if (project.collectionId === collection.id && canonicalJson(project.configuration) === canonicalJson(parsed.configuration)) return project;
      throw new InvalidInputError('cannot create the project', [
        { path: 'name', message: `a project named "${parsed.name}" exists with another collection or configuration` },
      ]);
    }
    const row = await trx
      .insertInto('projects')
      .values({ name: parsed.name, collection_id: collection.id, configuration: JSON.stringify(parsed.configuration), created_at: now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toProject(row);
  });
}

export async function getProject(db: Db, ref: string | number): Promise<Project> {
  const id = asId(ref);
  const row = await db
    .selectFrom('projects')
    .selectAll()
    .where(id !== undefined ? 'id' : 'name', '=', id ?? String(ref))
    .executeTakeFirst();
  if (!row) throw notFound('project', ref);
  return toProject(row);
}

export async function listProjects(db: Db): Promise<Project[]> {
  return (await db.selectFrom('projects').selectAll().orderBy('id').execute()).map(toProject);
}

/**
 * Tasks for data units of the project's collection, one per unit; units that have a task
 * already keep it (idempotent). Returns the tasks in input order.
 */
export async function createTasks(db: Db, projectRef: string | number, dataUnitIds: readonly number[], status: TaskStatus = 'pending'): Promise<Task[]> {
  const project = await getProject(db, projectRef);
  const ids = parseInput(z.array(z.number().int().positive()), dataUnitIds, 'invalid data unit ids');
  parseInput(z.enum(TASK_STATUSES), status, 'invalid task status');
  const unique = [...new Set(ids)];
  return inTransaction(db, async (trx) => {
    const found = new Set<number>();
    for (const batch of chunks(unique, 1000)) {
      const rows = await trx.selectFrom('data_units').select('id').where('collection_id', '=', project.collectionId).where('id', 'in', batch).execute();
      for (const r of rows) found.add(Number(r.id));
    }
    const missing = unique.filter((id) => !found.has(id));
    if (missing.length) {
      throw new NotFoundError(
        `unknown data unit${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''} in the collection of project "${project.name}"`,
      );
    }
    const at = now();
    const byUnit = new Map<number, Task>();
    for (const batch of chunks(unique, batchSize(5))) {
      const inserted = await trx
        .insertInto('tasks')
        .values(batch.map((id) => ({ project_id: project.id, data_unit_id: id, status, created_at: at, updated_at: at })))
        .onConflict((oc) => oc.columns(['project_id', 'data_unit_id']).doNothing())
        .returningAll()
        .execute();
      for (const r of inserted) byUnit.set(Number(r.data_unit_id), toTask(r));
      const rest = batch.filter((id) => !byUnit.has(id));
      if (rest.length === 0) continue;
      const existing = await trx.selectFrom('tasks').selectAll().where('project_id', '=', project.id).where('data_unit_id', 'in', rest).execute();
      for (const r of existing) byUnit.set(Number(r.data_unit_id), toTask(r));
    }
    return ids.map((id) => byUnit.get(id) as Task);
  });
}

export async function setTaskStatus(db: Db, taskId: number, status: TaskStatus): Promise<void> {
  parseInput(z.enum(TASK_STATUSES), status, 'invalid task status');
  const r = await db.updateTable('tasks').set({ status, updated_at: now() }).where('id', '=', taskId).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`unknown task ${taskId}`);
}

export interface TaskWithDataUnit extends Task {
  dataUnit: Pick<DataUnit, 'id' | 'uniqueKey' | 'meta' | 'files'>;
}

/** Which tasks of a project: with `status`; `assignmentId`: the task that assignment belongs to. */
export interface TaskFilter {
  projectId: number;
  status?: TaskStatus;
  assignmentId?: number;
  afterId?: number;
  limit?: number;
}

/** Which assignments of a project: with `status`; `taskId`: that task's assignments only. */
export interface AssignmentFilter {
  projectId: number;
  status?: AssignmentStatus;
  taskId?: number;
  afterId?: number;
  limit?: number;
}

/** Tasks of a project (the export target `task`), in id order, a page at a time. */
export async function listTasks(db: Db, filter: TaskFilter): Promise<TaskWithDataUnit[]> {
  let q = db
    .selectFrom('tasks')
    .innerJoin('data_units', 'data_units.id', 'tasks.data_unit_id')
    .selectAll('tasks')
    .select(['data_units.unique_key', 'data_units.meta', 'data_units.files'])
    .where('tasks.project_id', '=', filter.projectId)
    .where('tasks.id', '>', filter.afterId ?? 0);
  if (filter.status) q = q.where('tasks.status', '=', filter.status);
  if (filter.assignmentId !== undefined) q = q.where('tasks.id', 'in', db.selectFrom('assignments').select('task_id').where('id', '=', filter.assignmentId));
  const rows = await q
    .orderBy('tasks.id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map((r) => ({
    ...toTask(r),
    dataUnit: { id: Number(r.data_unit_id), uniqueKey: r.unique_key, meta: parseJson(r.meta), files: parseJson(r.files) },
  }));
}

/** The project's task of each data unit asked for that has one: data unit id -> task id. */
export async function taskIdsByDataUnit(db: Db, projectId: number, dataUnitIds: Iterable<number>): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const batch of chunks([...new Set(dataUnitIds)], 1000)) {
    const rows = await db.selectFrom('tasks').select(['id', 'data_unit_id']).where('project_id', '=', projectId).where('data_unit_id', 'in', batch).execute();
    for (const r of rows) out.set(Number(r.data_unit_id), Number(r.id));
  }
  return out;
}

/** Ids of a project's tasks after `afterId` (with `status`, when given), in id order, at most `limit`: an export plans its pages with them. */
export async function listTaskIds(db: Db, filter: TaskFilter): Promise<number[]> {
  let q = db
    .selectFrom('tasks')
    .select('id')
    .where('project_id', '=', filter.projectId)
    .where('id', '>', filter.afterId ?? 0);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.assignmentId !== undefined) q = q.where('id', 'in', db.selectFrom('assignments').select('task_id').where('id', '=', filter.assignmentId));
  return (
    await q
      .orderBy('id')
      .limit(filter.limit ?? 1000)
      .execute()
  ).map((r) => Number(r.id));
}

/** The assignments of some tasks (a task export's `expand: ["assignment"]`), in id order. */
export async function listAssignmentsOfTasks(db: Db, taskIds: readonly number[]): Promise<Assignment[]> {
  const out: Assignment[] = [];
  for (const batch of chunks([...new Set(taskIds)], 1000)) {
    out.push(...(await db.selectFrom('assignments').selectAll().where('task_id', 'in', batch).orderBy('id').execute()).map(toAssignment));
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Validates annotation documents against the format and the project's classes; every problem, with its path. */
export function annotationProblems(
  docs: readonly unknown[],
  classes: readonly AnnotationClass[],
  dataType: DataType,
  at: (i: number) => string,
): { parsed: AnnotationDocument[]; problems: Problem[] } {
  const parsed: AnnotationDocument[] = [];
  const problems: Problem[] = [];
  docs.forEach((doc, i) => {
    const prefix = at(i);
    const result = AnnotationDocumentSchema.safeParse(doc);
    if (!result.success) {
      for (const p of zodProblems(result.error)) problems.push({ ...p, path: p.path ? `${prefix}.${p.path}` : prefix });
      return;
    }
    if (result.data.data_type !== dataType)
      problems.push({ path: `${prefix}.data_type`, message: `the project annotates "${dataType}", not "${result.data.data_type}"` });
    for (const p of classProblems(result.data, classes)) problems.push({ ...p, path: `${prefix}.${p.path}` });
    parsed.push(result.data);
  });
  return { parsed, problems };
}

/**
 * Creates or replaces assignments (one per task and annotator), all or nothing: a retried
 * step writes the same rows again. Malformed annotations fail before anything is written,
 * with every zod path.
 */
export async function upsertAssignments(db: Db, projectRef: string | number, input: readonly AssignmentInput[]): Promise<Assignment[]> {
  const project = await getProject(db, projectRef);
  const subject = `invalid assignments for project "${project.name}"`;
  const items = parseInput(
    z.array(
      z.strictObject({
        taskId: z.number().int().positive(),
        annotator: z.string().max(200).default(''),
        status: z.enum(ASSIGNMENT_STATUSES).default('completed'),
        annotations: z.unknown(),
      }),
    ),
    input,
    subject,
  );
  const { parsed, problems } = annotationProblems(
    items.map((i) => i.annotations),
    project.configuration.classes,
    project.configuration.data_type,
    (i) => `${i}.annotations`,
  );
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = `${item.taskId}\u0000${item.annotator}`;
    const first = seen.get(k);
    if (first !== undefined) problems.push({ path: `${i}`, message: `task ${item.taskId} and annotator "${item.annotator}" are also item ${first}` });
    else seen.set(k, i);
  });
  if (problems.length) throw new InvalidInputError(subject, problems);
  const taskIds = [...new Set(items.map((i) => i.taskId))];
  return inTransaction(db, async (trx) => {
    const found = new Set<number>();
    for (const batch of chunks(taskIds, 1000)) {
      for (const r of await trx.selectFrom('tasks').select('id').where('project_id', '=', project.id).where('id', 'in', batch).execute())
        found.add(Number(r.id));
    }
    const missing = taskIds.filter((id) => !found.has(id));
    if (missing.length) throw new NotFoundError(`unknown task${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')} in project "${project.name}"`);
    const at = now();
    const written = new Map<string, { id: number; created_at: string; updated_at: string }>();
    const rows = items.map((item, i) => ({
      task_id: item.taskId,
      annotator: item.annotator,
      status: item.status,
      annotations: JSON.stringify(parsed[i]),
      created_at: at,
      updated_at: at,
    }));
    for (const batch of chunks(rows, batchSize(6))) {
      const result = await trx
        .insertInto('assignments')
        .values(batch)
        .onConflict((oc) =>
          oc.columns(['task_id', 'annotator']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            annotations: eb.ref('excluded.annotations'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .returning(['id', 'task_id', 'annotator', 'created_at', 'updated_at'])
        .execute();
      for (const w of result) written.set(`${w.task_id}\u0000${w.annotator}`, w);
    }
    // RETURNING's order is not guaranteed: match by key; the annotations are the parsed input.
    return items.map((item, i) => {
      const w = written.get(`${item.taskId}\u0000${item.annotator}`) as { id: number; created_at: string; updated_at: string };
      return {
        id: w.id,
        taskId: item.taskId,
        annotator: item.annotator,
        status: item.status,
        annotations: parsed[i] as AnnotationDocument,
        createdAt: w.created_at,
        updatedAt: w.updated_at,
      };
    });
  });
}

export interface AssignmentWithDataUnit extends Assignment {
  projectId: number;
  dataUnit: Pick<DataUnit, 'id' | 'uniqueKey' | 'meta' | 'files'>;
}

/** Assignments of a project (the export target `assignment`), in id order, a page at a time. */
export async function listAssignments(db: Db, filter: AssignmentFilter): Promise<AssignmentWithDataUnit[]> {
  let q = db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .innerJoin('data_units', 'data_units.id', 'tasks.data_unit_id')
    .selectAll('assignments')
    .select(['tasks.project_id', 'tasks.data_unit_id', 'data_units.unique_key', 'data_units.meta', 'data_units.files'])
    .where('tasks.project_id', '=', filter.projectId)
    .where('assignments.id', '>', filter.afterId ?? 0);
  if (filter.status) q = q.where('assignments.status', '=', filter.status);
  if (filter.taskId !== undefined) q = q.where('assignments.task_id', '=', filter.taskId);
  const rows = await q
    .orderBy('assignments.id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map((r) => ({
    ...toAssignment(r),
    projectId: Number(r.project_id),
    dataUnit: { id: Number(r.data_unit_id), uniqueKey: r.unique_key, meta: parseJson(r.meta), files: parseJson(r.files) },
  }));
}

/** Ids of a project's assignments after `afterId` (with `status`, when given), in id order, at most `limit`: an export plans its pages with them. */
export async function listAssignmentIds(db: Db, filter: AssignmentFilter): Promise<number[]> {
  let q = db
    .selectFrom('assignments')
    .innerJoin('tasks', 'tasks.id', 'assignments.task_id')
    .select('assignments.id')
    .where('tasks.project_id', '=', filter.projectId)
    .where('assignments.id', '>', filter.afterId ?? 0);
  if (filter.status) q = q.where('assignments.status', '=', filter.status);
  if (filter.taskId !== undefined) q = q.where('assignments.task_id', '=', filter.taskId);
  return (
    await q
      .orderBy('assignments.id')
      .limit(filter.limit ?? 1000)
      .execute()
  ).map((r) => Number(r.id));
}

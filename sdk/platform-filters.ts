/**
 * The filters plugin code pages platform records with (the seed's list filters: `status`,
 * `status__in`, `data_collection`, `assignee`, `created_at__gte` / `__lte`, ...). Each is a
 * strict zod object: a key the platform does not know is an error naming it (`unknown key
 * "colour"`), never a filter silently ignored. The same schemas check a run's
 * `task_filters` at the edge (exit 2, nothing started) and the calls plugin code makes.
 */
import { z } from 'zod';
import { RecordRef } from './params.js';

/** Task statuses (the platform's; platform/repositories/projects.ts asserts they agree). */
export const TASK_STATUS_VALUES = ['pending', 'in_progress', 'completed', 'rejected'] as const;
/** Assignment statuses (the platform's). */
export const ASSIGNMENT_STATUS_VALUES = ['pending', 'in_progress', 'submitted', 'completed', 'rejected'] as const;

/** An ISO 8601 time (`2026-01-31` or `2026-01-31T12:00:00Z`), compared as the platform stores it (UTC). */
const Instant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z')
  .transform((s) => new Date(s).toISOString());
const Id = z.number().int().positive();
const Ids = z.array(Id).min(1).max(10_000);

const created = { created_at__gte: Instant.optional(), created_at__lte: Instant.optional() };

/** Filters of a project's tasks. */
export const TaskFilterSchema = z.strictObject({
  status: z.enum(TASK_STATUS_VALUES).optional(),
  status__in: z.array(z.enum(TASK_STATUS_VALUES)).min(1).optional(),
  /** The task's data unit is in this data collection (id or name). */
  data_collection: RecordRef.optional(),
  /** Someone (an annotator name) has an assignment on the task. */
  assignee: z.string().min(1).optional(),
  /** Nobody has an assignment on the task (true) / somebody has (false). */
  assignee__isnull: z.boolean().optional(),
  id__in: Ids.optional(),
  data_unit__in: Ids.optional(),
  ...created,
});
export type TaskFilter = z.input<typeof TaskFilterSchema>;
export type ParsedTaskFilter = z.output<typeof TaskFilterSchema>;

/** Filters of a project's assignments. */
export const AssignmentFilterSchema = z.strictObject({
  status: z.enum(ASSIGNMENT_STATUS_VALUES).optional(),
  status__in: z.array(z.enum(ASSIGNMENT_STATUS_VALUES)).min(1).optional(),
  /** The annotator's name. */
  assignee: z.string().optional(),
  task: Id.optional(),
  task__in: Ids.optional(),
  ...created,
});
export type AssignmentFilter = z.input<typeof AssignmentFilterSchema>;
export type ParsedAssignmentFilter = z.output<typeof AssignmentFilterSchema>;

/** Filters of a data collection's data units. */
export const DataUnitFilterSchema = z
  .strictObject({
    id__in: Ids.optional(),
    unique_key__in: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    /** Units that have (false) / have no (true) task in the project named by `project`. */
    task__isnull: z.boolean().optional(),
    project: RecordRef.optional(),
    ...created,
  })
  .superRefine((f, ctx) => {
    if (f.task__isnull !== undefined && f.project === undefined) ctx.addIssue({ code: 'custom', path: ['project'], message: 'required with task__isnull' });
  });
export type DataUnitFilter = z.input<typeof DataUnitFilterSchema>;
export type ParsedDataUnitFilter = z.output<typeof DataUnitFilterSchema>;

/**
 * A task-page run's params (sdk/task-pages.ts), read once for the client's check and again by
 * the worker's steps: the action's own schema first (it extends TaskPageParams), then the
 * project and task filters the engine pages with. ParamsError names every problem, an
 * unknown `task_filters` key included.
 */
import { zodProblems } from '../contracts/problems.js';
import { ParamsError } from '../contracts/errors.js';
import type { ParsedDataUnitFilter, ParsedTaskFilter } from '../sdk/platform-filters.js';
import { DataUnitPageScope, TaskPageScope, type TaskPagesSource } from '../sdk/task-pages.js';
import { parseParams, type ResolvedAction } from './plugin-loader.js';

export interface TaskPagesParams {
  /** The params as the action's schema made them (what plugin code sees as ctx.params). */
  params: unknown;
  /** Project id or name. */
  project: string | number;
  /** What the pages go over, and the filter of each source (the other is empty). */
  source: TaskPagesSource;
  filter: ParsedTaskFilter;
  unitFilter: ParsedDataUnitFilter;
  /** Source `ground_truth`: the version whose entries the pages go over. */
  groundTruthVersion?: number;
}

export function parseTaskPagesParams(action: ResolvedAction, raw: unknown, subject: string): TaskPagesParams {
  const params = parseParams(action, raw);
  if ((action.cls as { source?: unknown }).source === 'data_units') {
    const scope = DataUnitPageScope.safeParse(params);
    if (!scope.success) throw new ParamsError(subject, zodProblems(scope.error));
    return { params, project: scope.data.project, source: 'data_units', filter: {}, unitFilter: scope.data.data_unit_filters };
  }
  const scope = TaskPageScope.safeParse(params);
  if (!scope.success) throw new ParamsError(subject, zodProblems(scope.error));
  const version = scope.data.ground_truth_version;
  if (version !== undefined) {
    // A ground-truth version instead of the tasks: only an action that can go over one takes it.
    const proto = (action.cls as { prototype?: { processGroundTruth?: unknown } }).prototype;
    if (typeof proto?.processGroundTruth !== 'function')
      throw new ParamsError(subject, [
        { path: 'ground_truth_version', message: `${action.plugin.config.code} ${action.name} cannot go over a ground-truth version` },
      ]);
    if (Object.keys(scope.data.task_filters).length > 0)
      throw new ParamsError(subject, [{ path: 'task_filters', message: 'task filters do not apply to a ground-truth version; give one or the other' }]);
    return { params, project: scope.data.project, source: 'ground_truth', filter: {}, unitFilter: {}, groundTruthVersion: version };
  }
  return { params, project: scope.data.project, source: 'tasks', filter: scope.data.task_filters, unitFilter: {} };
}

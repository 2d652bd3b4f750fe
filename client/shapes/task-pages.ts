/**
 * The task-page run shape: an annotation-category action (to_task, validation,
 * post_annotation) written as a task-page action (sdk/task-pages.ts) runs as the task-page
 * workflow (count, pages of tasks, finalize). Its params are the action's own schema, which
 * extends TaskPageParams: `project` and `task_filters` (an unknown filter key is refused
 * here, naming it: exit 2, HTTP 400, nothing started).
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { parseTaskPagesParams } from '../../engine/task-page-params.js';
import { isTaskPagesClass } from '../../sdk/task-pages.js';
import { defineRunShape } from '../run-shape.js';

const CATEGORIES = new Set(['pre_annotation', 'data_validation', 'post_annotation']);

export const taskPagesShape = defineRunShape({
  name: 'task-pages',
  matches: (action) => CATEGORIES.has(action.plugin.config.category) && isTaskPagesClass(action.cls),
  // The action's own params (the steps parse them again); the project and filters are checked too.
  parseParams: (action, raw) => parseTaskPagesParams(action, raw, `invalid params for ${action.plugin.config.code} ${action.name}`).params,
  workflow: WORKFLOW_TYPES.taskPages,
});

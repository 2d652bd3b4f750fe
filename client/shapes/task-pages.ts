/**
 * The task-page run shape: an annotation-category action (to_task, validation,
 * post_annotation) written as a task-page action (sdk/task-pages.ts) runs as the task-page
 * workflow (count, pages of tasks, finalize). Its params are the action's own schema, which
 * extends TaskPageParams: `project` and `task_filters` (an unknown filter key is refused
 * here, naming it: exit 2, HTTP 400, nothing started).
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { defineRunShape } from '../run-shape.js';

export const taskPagesShape = defineRunShape({
  name: 'task-pages',
  // The action's own params (the steps parse them again); the project and filters are checked
  // too (engine/task-page-params.ts, where the class is).
  parser: 'task-pages',
  workflow: WORKFLOW_TYPES.taskPages,
});

// client-no-activity-or-workflow-values: a value from activities/. A type from workflows/ is fine.
import { work } from '../activities/steps.js';
import type { Flow } from '../workflows/flow.js';

export interface StartOptions {
  flow: Flow;
}
export const run = work;

/**
 * The worker's activities, built once per worker process by `createActivities` with what
 * they share: the run store and the platform (both over the worker's one database pool).
 * Its return type is the single source of the activities' types: workflows type their
 * proxies as `proxyActivities<ReturnType<typeof createActivities>>`.
 */
import { createExportActivities } from './export.js';
import { createModelActivities } from './model-actions.js';
import { createRunActivities } from './run-action.js';
import { createServeActivities } from './serve.js';
import { stepRunner, type ActivityDeps } from './step.js';
import { createTrainActivities } from './train.js';
import { trainData } from './train-data.js';
import { trainerHost } from './trainer-host.js';
import { createTuneActivities } from './tune.js';
import { createTaskPagesActivities } from './task-pages.js';
import { createUploadActivities } from './upload.js';

export type { ActivityDeps } from './step.js';

export function createActivities(deps: ActivityDeps) {
  const shared = { ...deps, steps: stepRunner(deps.store) };
  // One dataset memory and one trainer host for the train, test and inference steps.
  const training = { ...shared, data: trainData(deps.platform, deps.dataDir), host: trainerHost(deps.dataDir) };
  return {
    ...createRunActivities(shared),
    ...createExportActivities(shared),
    ...createTrainActivities(training),
    ...createModelActivities(training),
    ...createUploadActivities(shared),
    ...createTuneActivities(shared),
    ...createTaskPagesActivities(shared),
    ...createServeActivities(training),
  };
}

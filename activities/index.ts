/**
 * The worker's activities, built once per worker process by `createActivities` with what
 * they share: the run store and the platform (both over the worker's one database pool).
 * Its return type is the single source of the activities' types: workflows type their
 * proxies as `proxyActivities<ReturnType<typeof createActivities>>`.
 */
import { createExportActivities } from './export.js';
import { createModelActivities } from './model-actions.js';
import { createRunActivities } from './run-action.js';
import { stepRunner, type ActivityDeps } from './step.js';
import { createTrainActivities } from './train.js';
import { trainData } from './train-data.js';
import { trainerHost } from './trainer-host.js';
import { createTuneActivities } from './tune.js';
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
  };
}

type Activities = ReturnType<typeof createActivities>;
export declare const runAction: Activities['runAction'];
export declare const recordRunStatus: Activities['recordRunStatus'];
export declare const recordRunProgress: Activities['recordRunProgress'];
export declare const exportPrepare: Activities['exportPrepare'];
export declare const exportPlan: Activities['exportPlan'];
export declare const exportPage: Activities['exportPage'];
export declare const exportFinalize: Activities['exportFinalize'];
export declare const uploadDiscover: Activities['uploadDiscover'];
export declare const uploadBatch: Activities['uploadBatch'];
export declare const uploadRegister: Activities['uploadRegister'];
export declare const uploadFinalize: Activities['uploadFinalize'];
export declare const trainPrepare: Activities['trainPrepare'];
export declare const trainEpoch: Activities['trainEpoch'];
export declare const trainEvaluate: Activities['trainEvaluate'];
export declare const trainRegister: Activities['trainRegister'];
export declare const modelTest: Activities['modelTest'];
export declare const modelInference: Activities['modelInference'];

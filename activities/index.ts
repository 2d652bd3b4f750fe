/**
 * Activity types, for `proxyActivities<typeof activities>` in workflows. The worker builds
 * the implementations with their dependencies through `createActivities`.
 */
import type { RunStore } from '../platform/run-store.js';
import { createExportActivities } from './export.js';
import { createRunActivities } from './run-action.js';
import { createTrainActivities } from './train.js';
import { createUploadActivities } from './upload.js';

export function createActivities(deps: { store: RunStore; dataDir: string }) {
  return { ...createRunActivities(deps), ...createExportActivities(deps), ...createTrainActivities(deps), ...createUploadActivities(deps) };
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

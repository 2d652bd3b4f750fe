/**
 * The clean-up of an upload that failed or was cancelled: no orphans in storage (issue 16).
 * Object keys are content addresses (`uploads/<sha[0:2]>/<sha>/<name>`), shared by every
 * upload of the same content, so an object the run stored is deleted only when no data unit
 * points at it (in any collection: an earlier upload may have registered the same file) and
 * no other upload's plan lists it as stored (it may register it soon). Then the run's plan
 * parts go. A run re-started under another name reuses nothing of it; a retried batch of a
 * live run reuses what its earlier attempt stored (upload-files.ts).
 *
 * Not covered: an object stored by an attempt whose worker died before recording it, in a run
 * that then fails for good without another attempt of that batch (Temporal retries the batch
 * first, and that attempt records it); and a concurrent upload of the same content that
 * skipped storing it because this run's copy existed and has not recorded it yet.
 */
import type { Db } from '../platform/repositories/common.js';
import { otherRunsStoredParts, referencedKeys } from '../platform/repositories/upload-plans.js';
import type { StorageProvider } from '../storage/storage.js';
import type { BatchResult, Plan, UploadPlanStore } from './upload-plan.js';

export interface UploadDiscardOutput {
  /** Objects deleted from storage. */
  deleted: number;
  /** Objects the run stored that stay: a data unit or another upload points at them. */
  kept: number;
}

function keysOf(results: Iterable<BatchResult>, into = new Set<string>()): Set<string> {
  for (const r of results) for (const files of Object.values(r.stored)) for (const f of Object.values(files)) into.add(f.key);
  return into;
}

/** Deletes the run's unreferenced objects, then its plan; `beat` is called per object (heartbeats). */
export async function discardStored(
  db: Db,
  store: UploadPlanStore,
  storageFor: (id: number) => Promise<StorageProvider>,
  beat: () => void,
): Promise<UploadDiscardOutput> {
  let plan: Plan;
  try {
    plan = await store.plan();
  } catch {
    // Never planned (discover failed) or finalized already: nothing was stored by a plan.
    await store.clear();
    return { deleted: 0, kept: 0 };
  }
  const stored = keysOf(await store.allStored());
  const keep = await referencedKeys(db, plan.storageId, stored);
  for await (const other of otherRunsStoredParts<BatchResult>(db, store.runId)) {
    for (const key of keysOf([other])) if (stored.has(key)) keep.add(key);
  }
  const storage = await storageFor(plan.storageId);
  let deleted = 0;
  for (const key of stored) {
    if (keep.has(key)) continue;
    beat();
    await storage.delete(key);
    deleted++;
  }
  await store.clear();
  return { deleted, kept: keep.size };
}

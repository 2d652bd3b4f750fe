/**
 * An upload's plan, in the platform database (table upload_plan_parts) and not on the disk
 * of the worker that planned it, so that its batches may run on any worker, on any machine
 * (issue 16): what discover decided (`plan`), the units of each batch (`batch-NNNNNN`), what
 * each batch stored (`stored-NNNNNN`) and, once finalized, the run's summary (`summary`).
 * Workflow history carries only batch numbers and counts, never file lists. Each part is
 * written whole in one statement, so a retried step reads either the old or the new.
 */
import { NonRetriableError } from '../contracts/errors.js';
import type { Db } from '../platform/repositories/common.js';
import { deletePlanParts, getPlanPart, listPlanParts, putPlanPart } from '../platform/repositories/upload-plans.js';

export interface UploadPlanSummary {
  batches: number;
  units: number;
  files: number;
  bytes: number;
  rejected: number;
}

/** A unit as planned: only what the batch steps need. */
export interface PlannedUnit {
  key: string;
  meta: Record<string, unknown>;
  files: Record<string, PlannedFile>;
}

/** A file as found on disk: its path, its name in the unit, its size then (bytes). */
export interface PlannedFile {
  path: string;
  name: string;
  size: number;
}

export interface Plan {
  storageId: number;
  storageName: string;
  collectionId: number;
  collectionName: string;
  summary: UploadPlanSummary;
  report: {
    rejected: { key: string; reason: string }[];
    skipped: { path: string; reason: string }[];
    systemSkipped: number;
    duplicatesReplaced: number;
    metadataFile: string | null;
    metadataMatched: number;
    metadataUnmatched: number;
  };
}

/** A file in storage: its object key, size (bytes) and sha256 (hex). */
export interface StoredFile {
  key: string;
  size: number;
  checksum: string;
}

/** What a batch stored: per unit (by index in the batch) per specification, and what failed. */
export interface BatchResult {
  stored: Record<string, Record<string, StoredFile>>;
  failed: { unit: number; spec: string; file: string; reason: string }[];
}

/**
 * One upload run's plan in the platform database (platform/repositories/upload-plans.ts):
 * every worker reads the same parts, whichever planned the run. A part a step needs and does
 * not find is a NonRetriableError naming it (the run was finalized or discarded already).
 */
export class UploadPlanStore {
  constructor(
    private readonly db: Db,
    readonly runId: string,
  ) {}

  static batchPart(n: number): string {
    return `batch-${String(n).padStart(6, '0')}`;
  }

  static storedPart(n: number): string {
    return `stored-${String(n).padStart(6, '0')}`;
  }

  /** Removes what an earlier attempt of the plan step wrote. */
  clear(): Promise<void> {
    return deletePlanParts(this.db, this.runId);
  }

  putPlan(plan: Plan): Promise<void> {
    return putPlanPart(this.db, this.runId, 'plan', plan);
  }

  plan(): Promise<Plan> {
    return this.need<Plan>('plan', 'plan');
  }

  putBatch(n: number, units: PlannedUnit[]): Promise<void> {
    return putPlanPart(this.db, this.runId, UploadPlanStore.batchPart(n), units);
  }

  batch(n: number): Promise<PlannedUnit[]> {
    return this.need<PlannedUnit[]>(UploadPlanStore.batchPart(n), `batch ${n}`);
  }

  putStored(n: number, result: BatchResult): Promise<void> {
    return putPlanPart(this.db, this.runId, UploadPlanStore.storedPart(n), result);
  }

  stored(n: number): Promise<BatchResult> {
    return this.need<BatchResult>(UploadPlanStore.storedPart(n), `stored files of batch ${n}`);
  }

  /** What batch `n` stored so far (a failed attempt records what it stored too); undefined when nothing. */
  storedSoFar(n: number): Promise<BatchResult | undefined> {
    return getPlanPart<BatchResult>(this.db, this.runId, UploadPlanStore.storedPart(n));
  }

  /** Every stored part of the run: what it put in storage. */
  async allStored(): Promise<BatchResult[]> {
    const out: BatchResult[] = [];
    for (const part of await listPlanParts(this.db, this.runId, 'stored-')) {
      const r = await getPlanPart<BatchResult>(this.db, this.runId, part);
      if (r) out.push(r);
    }
    return out;
  }

  summary<T>(): Promise<T | undefined> {
    return getPlanPart<T>(this.db, this.runId, 'summary');
  }

  /** Writes the summary and drops the rest: the plan has done its job. */
  async finish(summary: unknown): Promise<void> {
    await putPlanPart(this.db, this.runId, 'summary', summary);
    await deletePlanParts(this.db, this.runId, ['summary']);
  }

  private async need<T>(part: string, what: string): Promise<T> {
    const value = await getPlanPart<T>(this.db, this.runId, part);
    if (value === undefined) {
      throw new NonRetriableError(
        `the upload's ${what} is not in the platform database (run ${this.runId}): it was never planned, or the run was finalized or discarded`,
      );
    }
    return value;
  }
}

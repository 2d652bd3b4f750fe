/**
 * The upload run's activities (DESIGN.md section 6, upload/upload):
 *
 * - `uploadDiscover`: params, collection, discovery (single or multi-path, recursive or flat),
 *   Excel metadata, the plugin's hooks (setupDirectories -> organizeFiles -> beforeProcess
 *   -> processFiles -> afterProcess -> validateFiles), a check that no unit key is taken,
 *   then the plan: one part per batch of units in the platform database (upload-plan.ts), so
 *   the batches may run on any worker. Workflow history carries only batch numbers and counts,
 *   never file lists. The hooks run in the uploader's plugin host (issue 18: plugin code never
 *   runs in the worker), as the host runner `upload-organize` (plugin-host-run-upload.ts);
 *   discovery and the Excel file stay here (the host may not read the upload's folders) and
 *   are the runner's calls back. What the hooks hand back is parsed here with zod: a unit may
 *   name only files this step's discovery found.
 * - `uploadBatch`: stores the files of one batch, a few at a time, heartbeating per file.
 *   Object keys derive from the content's sha256 (`uploads/<sha[0:2]>/<sha>/<name>`), so a
 *   retried batch overwrites the same objects instead of adding copies; a retry skips objects
 *   already stored whole. Files above `max_file_size_mb` go up in parts.
 * - `uploadRegister`: registers one batch's data units, `creating_data_unit_batch_size` per
 *   call, only those whose every file was stored; addDataUnits is idempotent by unique key.
 * - `uploadFinalize`: the report (counts, failures, rejected units), logged as run events.
 * - `uploadDiscard`: a failed or cancelled upload's clean-up: deletes the objects it stored
 *   that no data unit (and no other upload's plan) points at, then its plan: no orphans.
 *
 * No step keeps anything on its worker's disk: the plan is in the platform database, the
 * files in storage. The files to upload are read by path, so every worker must see the
 * upload's source folder at the same path (a shared mount), as it sees the plugin's code.
 * Files are stored by upload-files.ts. Discover and finalize run in the step harness (step.ts);
 * batch and register steps run no plugin code and load none (planStep): they start no host.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { addDataUnits, existingUniqueKeys, getDataCollection, type NewDataUnit } from '../platform/repositories/collections.js';
import type { Db } from '../platform/repositories/common.js';
import { getStorage } from '../platform/repositories/storages.js';
import { ExcelConfigSchema } from '../sdk/config.js';
import { z } from 'zod';
import { InvalidInputError, NonRetriableError, type Problem } from '../contracts/errors.js';
import { zodProblems } from '../contracts/problems.js';
import { DEFAULT_EXCEL_NAME, matchMetadata, readExcelMetadata } from '../engine/excel-metadata.js';
import {
  assetRoots,
  discoverFiles,
  isInside,
  resolveInside,
  type AssetRoot,
  type DiscoveredFile,
  type Discovery,
  type UploadUnit,
} from '../engine/upload-discovery.js';
import { BaseUploader, parseUploadParams, type UploadFileSpec, type UploadParams } from '../sdk/uploader.js';
import { UPLOADER, type UploaderClass } from './action-kinds.js';
import { asFailure } from './failures.js';
import { organizeUpload, UPLOAD_ORGANIZE, type UploadFilesTarget, type UploadOrganizeArgs, type UploadWorkerTarget } from './plugin-host-run-upload.js';
import type { StepDeps, StepInput, StepSpec } from './step.js';
import { storeBatchFiles } from './upload-files.js';
import { UploadPlanStore, type BatchResult, type Plan, type PlannedFile, type PlannedUnit, type UploadPlanSummary } from './upload-plan.js';
import { discardStored, type UploadDiscardOutput } from './upload-discard.js';

export { contentKey, FILES_IN_FLIGHT } from './upload-files.js';
export type { UploadPlanSummary } from './upload-plan.js';
export type { UploadDiscardOutput } from './upload-discard.js';

export type UploadActivityInput = StepInput;

export interface UploadDiscoverInput extends UploadActivityInput {
  unitsPerBatch: number;
}

export interface UploadBatchInput extends UploadActivityInput {
  batch: number;
}

export interface UploadBatchOutput {
  files: number;
  bytes: number;
  failed: number;
}

export interface UploadRegisterOutput {
  registered: number;
  /** Units not registered because one of their files was not stored. */
  skipped: number;
}

export interface UploadSummary {
  name: string;
  data_collection: string;
  storage: string;
  planned_units: number;
  planned_files: number;
  uploaded_files: number;
  uploaded_bytes: number;
  failed_files: number;
  data_units_registered: number;
  data_units_skipped: number;
  rejected_units: number;
  skipped_files: number;
  duplicates_replaced: number;
  metadata_file: string | null;
  metadata_rows_matched: number;
  metadata_rows_unmatched: number;
  /** The first failures and rejections; every one is also a run event. */
  failures: { file: string; reason: string }[];
  rejected: { key: string; reason: string }[];
}

/** How many failures and rejections the run's result lists (all of them are run events). */
const REPORT_LIMIT = 20;

/**
 * An upload run's action: a BaseUploader, loaded in a plugin host, its params parsed there by
 * the `upload` parser (parseUploadParams with the class's `extraParams`: what the worker parsed
 * before hosts, so bad `extra_params` fail the step before any work). The hooks get that parse;
 * the worker never uses it: it reads the params' upload fields itself (workerParams).
 */
const UPLOAD: StepSpec<UploaderClass, UploadParams> = {
  kind: UPLOADER,
  host: 'upload',
  params: (raw, { cls, subject }) => parseUploadParams(cls, raw, subject),
};

/**
 * The params' upload fields as the worker reads them: the SDK's schema and path checks
 * (parseUploadParams with BaseUploader's open `extra_params`), no plugin code. The plugin's
 * host parses `extra_params` with the uploader's own schema; a host's output never decides
 * which folders the worker reads.
 */
function workerParams(input: StepInput): UploadParams {
  return parseUploadParams(BaseUploader, input.params, `invalid params for ${input.plugin.code} ${input.action}`);
}

/**
 * A step that needs the plan and the params, never the plugin's code (uploadBatch,
 * uploadRegister): it loads no action and starts no host. Our errors become failures as in
 * the step harness.
 */
function planStep<T>(input: StepInput, fn: (params: UploadParams) => Promise<T>): Promise<T> {
  return asFailure(() => fn(workerParams(input)));
}

export function createUploadActivities({ platform, steps }: StepDeps) {
  const { db, storageFor } = platform;

  return {
    async uploadDiscover(input: UploadDiscoverInput): Promise<UploadPlanSummary> {
      return steps.step(input, UPLOAD, { marksRunning: true, progressCategories: 'none' }, async ({ action, cls, params: ownParams, host, ctx }) => {
        const activity = Context.current();
        const params = workerParams(input);
        const excel = ExcelConfigSchema.parse(action.config.excel_config ?? {});
        const collection = await getDataCollection(db, params.data_collection);
        const storageRecord = await getStorage(db, params.storage);
        // Opens it and checks the bucket: a bad config or a missing bucket fails here, before any work.
        await (await storageFor(storageRecord.id)).ready?.();
        const specs: UploadFileSpec[] = collection.files.map((f) => ({ name: f.name, required: f.required, extensions: [...f.extensions] }));
        const beat = () => activity.heartbeat();

        // What the uploader's hooks (in the plugin host) ask of the worker: the parts that read the server's files.
        let roots: AssetRoot[] = [];
        let discovery: Discovery | undefined;
        let discovering = false;
        let metaPath: string | undefined;
        let matched = 0;
        let unmatched = 0;
        const worker: UploadWorkerTarget = {
          discover: async (extensions) => {
            if (discovering) throw new NonRetriableError("the upload's files are discovered once per step");
            discovering = true;
            const allowed = hostOutput(HostExtensions, extensions, 'allowedExtensions returned');
            roots = await assetRoots(params, specs);
            const own = (spec: string) => specs.find((s) => s.name === spec)?.extensions ?? [];
            discovery = await discoverFiles(roots, {
              allowedExtensions: (spec) => (Object.hasOwn(allowed, spec) ? allowed[spec]! : own(spec)),
              onProgress: beat,
            });
            ctx.logMessage(`found ${discovery.files.length} files in ${roots.length} folders (${discovery.skipped.length} skipped)`, 'INFO');
            return discovery.files;
          },
          withMetadata: async (raw) => {
            // The hooks' own data, shape-checked: matchMetadata reads key, stem and the files' names.
            const units = hostOutput(HostUnits, raw, 'organizeFiles returned') as unknown as UploadUnit[];
            metaPath = await excelPath(params);
            if (metaPath) {
              const metadata = await readExcelMetadata(metaPath, excel);
              const used = new Set<number>();
              for (const unit of units) {
                const row = matchMetadata(metadata, unit);
                if (!row) continue;
                used.add(row.row);
                unit.meta = { ...row.meta, ...unit.meta };
              }
              matched = used.size;
              unmatched = metadata.rows.size - used.size;
              ctx.logMessage(`metadata ${metaPath}: ${metadata.rows.size} rows, ${matched} matched a data unit`, 'INFO');
            }
            return units;
          },
        };
        // A worker call that failed fails the step, whatever the host made of its error.
        let workerFailure: { error: unknown } | undefined;
        const failing =
          <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
          (...a: A): Promise<R> =>
            fn(...a).catch((error: unknown) => {
              workerFailure ??= { error };
              throw error;
            });
        const target: UploadWorkerTarget = { discover: failing(worker.discover), withMetadata: failing(worker.withMetadata) };
        // BaseUploader.readFile: the first bytes of a discovered file, read here (the host may not).
        let byPath: Map<string, DiscoveredFile> | undefined;
        const files: UploadFilesTarget = {
          read: async (file, maxBytes) => {
            const asked = hostOutput(ReadArgs, { file, maxBytes }, 'readFile asked for');
            if (discovery && !byPath) byPath = new Map(discovery.files.map((f) => [f.path, f]));
            const found = byPath?.get(asked.file);
            if (!found) throw new NonRetriableError(`readFile: ${asked.file} is not one of the files the upload found`);
            const handle = await open(found.path, 'r');
            try {
              const buffer = Buffer.alloc(Math.min(asked.maxBytes, found.size));
              const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
              return buffer.subarray(0, bytesRead);
            } finally {
              await handle.close();
            }
          },
        };
        const args: UploadOrganizeArgs = { specs };
        // TypeScript uploaders run in their plugin host; an action that loaded without one runs here.
        const result = host
          ? await host.run<unknown>(UPLOAD_ORGANIZE, [args], { ctx, targets: { upload: target, files } })
          : await organizeUpload(cls, ownParams, args, ctx, target, files);
        if (workerFailure) throw workerFailure.error;
        const validated = hostOutput(HostValidated, result, 'validateFiles returned');
        const units = plannedUnits(validated.units, roots, discovery?.files ?? [], params.name);
        await checkKeysFree(
          db,
          collection.id,
          collection.name,
          units.map((u) => uniqueKey(params.name, u.key)),
          beat,
        );

        const store = new UploadPlanStore(db, input.runId);
        await store.clear();
        const perBatch = Math.max(1, Math.floor(input.unitsPerBatch));
        let fileCount = 0;
        let bytes = 0;
        let batches = 0;
        for (let i = 0; i < units.length; i += perBatch) {
          const planned = units.slice(i, i + perBatch);
          for (const f of planned.flatMap((u) => Object.values(u.files))) {
            fileCount++;
            bytes += f.size;
          }
          await store.putBatch(batches++, planned);
          beat();
        }
        const plan: Plan = {
          storageId: storageRecord.id,
          storageName: storageRecord.name,
          collectionId: collection.id,
          collectionName: collection.name,
          summary: { batches, units: units.length, files: fileCount, bytes, rejected: validated.rejected.length },
          report: {
            rejected: validated.rejected,
            skipped: discovery?.skipped ?? [],
            systemSkipped: discovery?.systemSkipped ?? 0,
            duplicatesReplaced: validated.units.reduce((n, u) => n + (u.replaced?.length ?? 0), 0),
            metadataFile: metaPath ?? null,
            metadataMatched: matched,
            metadataUnmatched: unmatched,
          },
        };
        await store.putPlan(plan);
        return plan.summary;
      });
    },

    async uploadBatch(input: UploadBatchInput): Promise<UploadBatchOutput> {
      return planStep(input, async (params) => {
        const activity = Context.current();
        const store = new UploadPlanStore(db, input.runId);
        const plan = await store.plan();
        const units = await store.batch(input.batch);
        const storage = await storageFor(plan.storageId);
        const soFar: BatchResult = { stored: {}, failed: [] };
        let result: BatchResult;
        try {
          result = await storeBatchFiles(storage, units, {
            multipartThresholdBytes: Math.floor(params.max_file_size_mb * 1024 * 1024),
            retry: activity.info.attempt > 1,
            signal: activity.cancellationSignal,
            onProgress: (done) => activity.heartbeat({ batch: input.batch, done }),
            into: soFar,
          });
        } catch (err) {
          // What this attempt stored is recorded (with what earlier ones did), so a run that
          // fails for good can delete it (uploadDiscard); a later attempt replaces the record.
          await recordPartial(store, input.batch, soFar).catch(() => {});
          // A put cut short by the run's cancel fails with the storage's abort error: the step
          // was cancelled, and says so (else the run would end failed, not cancelled).
          throw activity.cancellationSignal.aborted ? (activity.cancellationSignal.reason as unknown) : err;
        }
        await store.putStored(input.batch, result);
        let stored = 0;
        let bytes = 0;
        for (const s of Object.values(result.stored).flatMap((perUnit) => Object.values(perUnit))) {
          stored++;
          bytes += s.size;
        }
        return { files: stored, bytes, failed: result.failed.length };
      });
    },

    async uploadRegister(input: UploadBatchInput): Promise<UploadRegisterOutput> {
      return planStep(input, async (params) => {
        const activity = Context.current();
        const store = new UploadPlanStore(db, input.runId);
        const plan = await store.plan();
        const units = await store.batch(input.batch);
        const result = await store.stored(input.batch);
        const ready: NewDataUnit[] = [];
        let skipped = 0;
        units.forEach((u, i) => {
          const stored = result.stored[String(i)] ?? {};
          // A unit is registered only when every one of its files is stored.
          if (Object.keys(u.files).some((spec) => !stored[spec])) {
            skipped++;
            return;
          }
          ready.push({
            uniqueKey: uniqueKey(params.name, u.key),
            meta: u.meta,
            files: Object.fromEntries(
              Object.entries(stored).map(([spec, s]) => [spec, { storage: plan.storageId, key: s.key, size: s.size, checksum: s.checksum }]),
            ),
          });
        });
        const size = params.creating_data_unit_batch_size;
        for (let i = 0; i < ready.length; i += size) {
          activity.heartbeat({ batch: input.batch, registered: i });
          await addDataUnits(db, plan.collectionId, ready.slice(i, i + size));
        }
        return { registered: ready.length, skipped };
      });
    },

    async uploadFinalize(input: UploadActivityInput): Promise<UploadSummary> {
      return steps.step(input, UPLOAD, { progressCategories: 'none' }, async ({ ctx }) => {
        const activity = Context.current();
        const params = workerParams(input);
        const store = new UploadPlanStore(db, input.runId);
        const done = await store.summary<UploadSummary>();
        if (done) return done; // finalized already: a retried finalize
        const plan = await store.plan();
        const failures: UploadSummary['failures'] = [];
        let uploadedFiles = 0;
        let uploadedBytes = 0;
        let registered = 0;
        let skippedUnits = 0;
        for (let b = 0; b < plan.summary.batches; b++) {
          activity.heartbeat();
          const units = await store.batch(b);
          const result = await store.stored(b);
          for (const s of Object.values(result.stored)) {
            for (const f of Object.values(s)) {
              uploadedFiles++;
              uploadedBytes += f.size;
            }
          }
          const failedUnits = new Set(result.failed.map((f) => f.unit));
          skippedUnits += failedUnits.size;
          registered += units.length - failedUnits.size;
          for (const f of result.failed) {
            ctx.log('upload_file_failed', { file: f.file, spec: f.spec, unit: units[f.unit]?.key, reason: f.reason });
            if (failures.length < REPORT_LIMIT) failures.push({ file: f.file, reason: f.reason });
          }
        }
        for (const r of plan.report.rejected) ctx.log('upload_unit_rejected', { key: r.key, reason: r.reason });
        for (const s of plan.report.skipped) ctx.log('upload_file_skipped', { file: s.path, reason: s.reason });
        const summary: UploadSummary = {
          name: params.name,
          data_collection: plan.collectionName,
          storage: plan.storageName,
          planned_units: plan.summary.units,
          planned_files: plan.summary.files,
          uploaded_files: uploadedFiles,
          uploaded_bytes: uploadedBytes,
          failed_files: plan.summary.files - uploadedFiles,
          data_units_registered: registered,
          data_units_skipped: skippedUnits,
          rejected_units: plan.report.rejected.length,
          skipped_files: plan.report.skipped.length,
          duplicates_replaced: plan.report.duplicatesReplaced,
          metadata_file: plan.report.metadataFile,
          metadata_rows_matched: plan.report.metadataMatched,
          metadata_rows_unmatched: plan.report.metadataUnmatched,
          failures,
          rejected: plan.report.rejected.slice(0, REPORT_LIMIT),
        };
        ctx.logMessage(
          `uploaded ${uploadedFiles} of ${plan.summary.files} files, registered ${registered} data units in "${plan.collectionName}"` +
            (plan.report.rejected.length ? `; ${plan.report.rejected.length} units rejected (incomplete or invalid)` : ''),
          failures.length || plan.report.rejected.length ? 'WARNING' : 'INFO',
        );
        // The plan has done its job: only the summary stays, for a retried finalize.
        await store.finish(summary);
        return summary;
      });
    },

    /**
     * A failed or cancelled upload's clean-up (no plugin code: it runs even when the plugin
     * cannot load): deletes what the run stored that nothing points at, then its plan.
     */
    async uploadDiscard(input: { runId: string }): Promise<UploadDiscardOutput> {
      const activity = Context.current();
      return discardStored(db, new UploadPlanStore(db, input.runId), storageFor, () => activity.heartbeat());
    },
  };
}

/** Adds what a failed batch attempt stored to the batch's record (earlier attempts' included). */
async function recordPartial(store: UploadPlanStore, batch: number, partial: BatchResult): Promise<void> {
  const earlier = await store.storedSoFar(batch);
  const merged: BatchResult = { stored: { ...(earlier?.stored ?? {}) }, failed: partial.failed };
  for (const [unit, files] of Object.entries(partial.stored)) merged.stored[unit] = { ...(merged.stored[unit] ?? {}), ...files };
  if (Object.keys(merged.stored).length) await store.putStored(batch, merged);
}

/** `<name>/<unit key>` in Unicode NFC: the same file from macOS (NFD names) or Linux is one data unit. */
function uniqueKey(name: string, unitKey: string): string {
  return `${name}/${unitKey}`.normalize('NFC');
}

/** The Excel file: the given path (inside the upload root when relative), else meta.xlsx in the root when present. */
async function excelPath(params: UploadParams): Promise<string | undefined> {
  if (params.excel_metadata_path !== undefined) {
    if (params.path && !path.isAbsolute(params.excel_metadata_path)) return resolveInside(params.path, params.excel_metadata_path, 'excel_metadata_path');
    return params.excel_metadata_path;
  }
  if (!params.path) return undefined;
  const candidate = path.join(params.path, DEFAULT_EXCEL_NAME);
  try {
    await stat(candidate);
  } catch {
    return undefined;
  }
  return resolveInside(params.path, DEFAULT_EXCEL_NAME, 'excel_metadata_path');
}

/** Most units (and rejections) a plugin host may hand back for one upload. */
const MAX_HOST_UNITS = 5_000_000;

/** A readFile call's arguments: a path and a byte count (at most 64 MiB). */
const ReadArgs = z.strictObject({
  file: z.string().min(1).max(4096),
  maxBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024),
});

/** `allowedExtensions` per specification, as the host computed them. */
const HostExtensions = z.record(z.string().max(200), z.array(z.string().max(200)).max(10_000));

/** A unit's file as a hook returned it: its `name` is kept, the rest is taken from the worker's own discovery by `path`. */
const HostFile = z.looseObject({ path: z.string().min(1).max(4096), name: z.string().min(1).max(1000), relativePath: z.string().max(4096).default('') });

/** A unit as a hook returned it (sdk/upload-units.ts UploadUnit; other fields pass through to the next hook). */
const HostUnit = z.looseObject({
  key: z.string().min(1).max(1000),
  stem: z.string().max(1000).default(''),
  files: z.record(z.string().max(200), HostFile),
  meta: z.record(z.string(), z.unknown()).default({}),
  replaced: z.array(z.string().max(8192)).max(100_000).optional(),
});
type HostUnit = z.output<typeof HostUnit>;

const HostUnits = z.array(HostUnit).max(MAX_HOST_UNITS);

/** What `validateFiles` returned (sdk/uploader.ts ValidatedUnits): the runner's result. */
const HostValidated = z.looseObject({
  units: HostUnits,
  rejected: z.array(z.looseObject({ key: z.string().max(1000), reason: z.string().max(10_000) })).max(MAX_HOST_UNITS),
});

/**
 * What the plugin's hooks handed back (from its host: untrusted), checked once at the edge:
 * InvalidInputError (not retried) naming each wrong field, `what` saying which hook it was.
 */
function hostOutput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(`the uploader's ${what} something the upload cannot use`, zodProblems(parsed.error).slice(0, 20));
}

/**
 * The units the hooks chose, as the plan stores them. Hooks may regroup and rename, not add
 * files: every file must lie inside its specification's folder and be one the worker's
 * discovery found (its path and size are the discovery's). Keys are unique and at most 1000
 * characters. Throws InvalidInputError listing the first 20 problems, each naming the file.
 */
function plannedUnits(units: readonly HostUnit[], roots: readonly AssetRoot[], discovered: readonly DiscoveredFile[], name: string): PlannedUnit[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const found = new Map(discovered.map((f) => [path.resolve(f.path), f]));
  const planned: PlannedUnit[] = [];
  for (const unit of units) {
    if (seen.has(uniqueKey(name, unit.key))) problems.push({ path: unit.key, message: 'two data units have this key' });
    seen.add(uniqueKey(name, unit.key));
    if (uniqueKey(name, unit.key).length > 1000) problems.push({ path: unit.key, message: 'the data unit key is longer than 1000 characters' });
    const files: Record<string, PlannedFile> = {};
    for (const [spec, f] of Object.entries(unit.files)) {
      const root = roots.find((r) => r.spec === spec);
      const file = found.get(path.resolve(f.path));
      if (!root || !isInside(root.dir, path.resolve(f.path)))
        problems.push({ path: `${unit.key}.${spec}`, message: `${f.path} is outside the folder of "${spec}"` });
      else if (!file)
        problems.push({
          path: `${unit.key}.${spec}`,
          message: `${f.path} is not one of the files the upload found (a hook may only use the files it was given)`,
        });
      else files[spec] = { path: file.path, name: f.name, size: file.size };
    }
    planned.push({ key: unit.key, meta: unit.meta, files });
    if (problems.length >= 20) break;
  }
  if (problems.length) throw new InvalidInputError('cannot upload these data units', problems);
  return planned;
}

/**
 * Runs before anything is stored or registered: a unit key already in the collection means
 * another upload used this name, and registering would fail half way.
 */
async function checkKeysFree(db: Db, collectionId: number, collectionName: string, keys: string[], beat: () => void): Promise<void> {
  const taken: string[] = [];
  for (let i = 0; i < keys.length && taken.length < 10; i += 500) {
    beat();
    taken.push(...(await existingUniqueKeys(db, collectionId, keys.slice(i, i + 500))));
  }
  if (taken.length) {
    throw new InvalidInputError(`cannot upload into data collection "${collectionName}"`, [
      {
        path: 'name',
        message: `data units ${taken
          .slice(0, 5)
          .map((k) => JSON.stringify(k))
          .join(', ')}${taken.length > 5 ? ', ...' : ''} exist already: use another upload name`,
      },
    ]);
  }
}

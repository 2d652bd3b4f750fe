/**
 * The upload run's activities (DESIGN.md section 6, upload/upload):
 *
 * - `uploadDiscover`: params, collection, discovery (single or multi-path, recursive or flat),
 *   Excel metadata, the plugin's hooks (setupDirectories -> organizeFiles -> beforeProcess
 *   -> processFiles -> afterProcess -> validateFiles), a check that no unit key is taken,
 *   then the plan: one small JSON file per batch of units in `<data dir>/uploads/<run id>/`.
 *   Workflow history carries only batch numbers and counts, never file lists.
 * - `uploadBatch`: stores the files of one batch, a few at a time, heartbeating per file.
 *   Object keys derive from the content's sha256 (`uploads/<sha[0:2]>/<sha>/<name>`), so a
 *   retried batch overwrites the same objects instead of adding copies; a retry skips objects
 *   already stored whole. Files above `max_file_size_mb` go up in parts.
 * - `uploadRegister`: registers one batch's data units, `creating_data_unit_batch_size` per
 *   call, only those whose every file was stored; addDataUnits is idempotent by unique key.
 * - `uploadFinalize`: the report (counts, failures, rejected units), logged as run events.
 *
 * The plan lives on the worker's disk next to the files it names: an upload reads local
 * files, so its workers share that machine (or the data dir).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { addDataUnits, getDataCollection, type NewDataUnit } from '../platform/repositories/collections.js';
import type { Db } from '../platform/repositories/common.js';
import { getStorage } from '../platform/repositories/storages.js';
import type { RunStore } from '../platform/run-store.js';
import { ExcelConfigSchema } from '../sdk/config.js';
import { InvalidInputError, NonRetriableError, type Problem } from '../contracts/errors.js';
import { DEFAULT_EXCEL_NAME, matchMetadata, readExcelMetadata } from '../engine/excel-metadata.js';
import { loadRunAction } from '../engine/plugin-loader.js';
import { assetRoots, discoverFiles, isInside, resolveInside, type UploadUnit } from '../engine/upload-discovery.js';
import { isUploaderClass, parseUploadParams, type BaseUploader, type UploadFileSpec, type UploadParams } from '../sdk/uploader.js';
import { keyProblems } from '../storage/safe-key.js';
import type { StorageProvider } from '../storage/index.js';
import type { RunActionInput } from '../contracts/run-input.js';
import { ActivityRunContext } from './activity-run-context.js';
import { platformAccess } from './platform-access.js';
import { rethrowAsFailure } from './failures.js';

export interface UploadActivityInput extends Pick<RunActionInput, 'plugin' | 'action' | 'params'> {
  runId: string;
}

export interface UploadDiscoverInput extends UploadActivityInput {
  unitsPerBatch: number;
}

export interface UploadPlanSummary {
  batches: number;
  units: number;
  files: number;
  bytes: number;
  rejected: number;
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

/** A unit as planned: only what the batch activities need. */
interface PlannedUnit {
  key: string;
  meta: Record<string, unknown>;
  files: Record<string, { path: string; name: string; size: number }>;
}

interface Plan {
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

interface StoredFile {
  key: string;
  size: number;
  checksum: string;
}

/** What a batch stored: per unit (by index in the batch) per specification, and what failed. */
interface BatchResult {
  stored: Record<string, Record<string, StoredFile>>;
  failed: { unit: number; spec: string; file: string; reason: string }[];
}

/** Files stored at once inside one batch. */
export const FILES_IN_FLIGHT = 8;
/** How many failures and rejections the run's result lists (all of them are run events). */
const REPORT_LIMIT = 20;

export interface UploadActivityDeps {
  store: RunStore;
  dataDir: string;
}

/** The object key of a file: from its content, so a retry writes the same key. */
export function contentKey(sha256: string, name: string): string {
  const base = keyProblems(name).length === 0 && !name.includes('/') ? name : `file${path.extname(name).replace(/[^A-Za-z0-9.]/g, '')}`;
  return `uploads/${sha256.slice(0, 2)}/${sha256}/${base}`;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NonRetriableError(`the upload's ${what} (${file}) is not on this worker: an upload's workers must share the data dir with the machine that planned it`);
    }
    throw err;
  }
}

async function sha256File(file: string, onChunk: () => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    onChunk();
  }
  return hash.digest('hex');
}

const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EPERM', 'ELOOP']);

export function createUploadActivities({ store, dataDir }: UploadActivityDeps) {
  const { db, storageFor } = platformAccess(dataDir);
  const workDir = (runId: string) => path.join(dataDir, 'uploads', runId);
  const batchFile = (runId: string, batch: number) => path.join(workDir(runId), `batch-${String(batch).padStart(6, '0')}.json`);
  const storedFile = (runId: string, batch: number) => path.join(workDir(runId), `stored-${String(batch).padStart(6, '0')}.json`);

  async function setup(input: UploadActivityInput) {
    const action = await loadRunAction(input.plugin, input.action);
    if (!isUploaderClass(action.cls)) {
      throw new NonRetriableError(`${input.plugin.code} ${input.action}: ${action.cls.name} is not a BaseUploader (an upload run needs one)`);
    }
    const cls = action.cls as unknown as Omit<typeof BaseUploader, 'prototype'> & (new () => BaseUploader);
    const params = parseUploadParams(cls, input.params, `invalid params for ${input.plugin.code} ${input.action}`);
    const excel = ExcelConfigSchema.parse(action.config.excel_config ?? {});
    return { cls, params, excel };
  }

  return {
    async uploadDiscover(input: UploadDiscoverInput): Promise<UploadPlanSummary> {
      const activity = Context.current();
      const { cls, params, excel } = await guard(() => setup(input));
      const ctx = await ActivityRunContext.create({ runId: input.runId, params, activity, store, progressCategories: {} });
      try {
        await store.updateRun(input.runId, { status: 'running' });
        const database = await db();
        const collection = await getDataCollection(database, params.data_collection);
        const storageRecord = await getStorage(database, params.storage);
        await storageFor(storageRecord.id); // opens it: a bad storage config fails here, before any work
        const uploader = new cls();
        uploader.params = params;
        uploader.ctx = ctx;
        uploader.specs = collection.files.map((f) => ({ name: f.name, required: f.required, extensions: [...f.extensions] }));
        const specByName = new Map<string, UploadFileSpec>(uploader.specs.map((s) => [s.name, s]));
        await uploader.setupDirectories();
        const roots = await assetRoots(params, uploader.specs);
        const beat = () => activity.heartbeat();
        const discovery = await discoverFiles(roots, {
          allowedExtensions: (spec) => uploader.allowedExtensions(specByName.get(spec)!).map((e) => e.toLowerCase()),
          onProgress: beat,
        });
        ctx.logMessage(`found ${discovery.files.length} files in ${roots.length} folders (${discovery.skipped.length} skipped)`, 'INFO');
        let units = await uploader.organizeFiles(discovery.files);

        // Excel metadata: before the process hooks, so they can see and change it.
        const metaPath = await excelPath(params);
        let matched = 0;
        let unmatched = 0;
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
        units = await uploader.beforeProcess(units);
        units = await uploader.processFiles(units);
        units = await uploader.afterProcess(units);
        const validated = await uploader.validateFiles(units);
        units = validated.units;

        checkPlannedUnits(units, roots, params.name);
        await checkKeysFree(database, collection.id, collection.name, units.map((u) => uniqueKey(params.name, u.key)), beat);

        const dir = workDir(input.runId);
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        const perBatch = Math.max(1, Math.floor(input.unitsPerBatch));
        let files = 0;
        let bytes = 0;
        let batches = 0;
        for (let i = 0; i < units.length; i += perBatch) {
          const planned: PlannedUnit[] = units.slice(i, i + perBatch).map((u) => ({
            key: u.key,
            meta: u.meta,
            files: Object.fromEntries(Object.entries(u.files).map(([spec, f]) => [spec, { path: f.path, name: f.name, size: f.size }])),
          }));
          for (const u of planned) for (const f of Object.values(u.files)) (files++, (bytes += f.size));
          await writeJsonAtomic(batchFile(input.runId, batches++), planned);
          beat();
        }
        const plan: Plan = {
          storageId: storageRecord.id,
          storageName: storageRecord.name,
          collectionId: collection.id,
          collectionName: collection.name,
          summary: { batches, units: units.length, files, bytes, rejected: validated.rejected.length },
          report: {
            rejected: validated.rejected,
            skipped: discovery.skipped,
            systemSkipped: discovery.systemSkipped,
            duplicatesReplaced: units.reduce((n, u) => n + (u.replaced?.length ?? 0), 0),
            metadataFile: metaPath ?? null,
            metadataMatched: matched,
            metadataUnmatched: unmatched,
          },
        };
        await writeJsonAtomic(path.join(dir, 'plan.json'), plan);
        return plan.summary;
      } catch (err) {
        if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
        return rethrowAsFailure(err);
      } finally {
        await ctx.close();
      }
    },

    async uploadBatch(input: UploadBatchInput): Promise<UploadBatchOutput> {
      const activity = Context.current();
      return guard(async () => {
        const { params } = await setup(input);
        const plan = await readJson<Plan>(path.join(workDir(input.runId), 'plan.json'), 'plan');
        const units = await readJson<PlannedUnit[]>(batchFile(input.runId, input.batch), `batch ${input.batch}`);
        const storage = await storageFor(plan.storageId);
        const threshold = Math.floor(params.max_file_size_mb * 1024 * 1024);
        const retry = activity.info.attempt > 1;
        const result: BatchResult = { stored: {}, failed: [] };
        const jobs = units.flatMap((u, unit) => Object.entries(u.files).map(([spec, f]) => ({ unit, spec, f })));
        let next = 0;
        let done = 0;
        const beat = () => activity.heartbeat({ batch: input.batch, done });
        const lane = async (): Promise<void> => {
          while (next < jobs.length) {
            const { unit, spec, f } = jobs[next++]!;
            activity.cancellationSignal.throwIfAborted();
            beat();
            try {
              const stored = await storeFile(storage, f, threshold, retry, beat, activity.cancellationSignal);
              (result.stored[String(unit)] ??= {})[spec] = stored;
            } catch (err) {
              const code = (err as NodeJS.ErrnoException).code;
              // A file gone or unreadable is this file's failure; anything else (storage down) fails the batch, which retries.
              if (!(code && FILE_ERRORS.has(code)) && !(err instanceof FileChangedError)) throw err;
              result.failed.push({ unit, spec, file: f.path, reason: err instanceof FileChangedError ? err.message : `cannot read (${code})` });
            }
            done++;
          }
        };
        await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, jobs.length) }, lane));
        await writeJsonAtomic(storedFile(input.runId, input.batch), result);
        let bytes = 0;
        for (const perUnit of Object.values(result.stored)) for (const s of Object.values(perUnit)) bytes += s.size;
        return { files: jobs.length - result.failed.length, bytes, failed: result.failed.length };
      });
    },

    async uploadRegister(input: UploadBatchInput): Promise<UploadRegisterOutput> {
      const activity = Context.current();
      return guard(async () => {
        const { params } = await setup(input);
        const plan = await readJson<Plan>(path.join(workDir(input.runId), 'plan.json'), 'plan');
        const units = await readJson<PlannedUnit[]>(batchFile(input.runId, input.batch), `batch ${input.batch}`);
        const result = await readJson<BatchResult>(storedFile(input.runId, input.batch), `stored files of batch ${input.batch}`);
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
            files: Object.fromEntries(Object.entries(stored).map(([spec, s]) => [spec, { storage: plan.storageId, key: s.key, size: s.size, checksum: s.checksum }])),
          });
        });
        const database = await db();
        const size = params.creating_data_unit_batch_size;
        for (let i = 0; i < ready.length; i += size) {
          activity.heartbeat({ batch: input.batch, registered: i });
          await addDataUnits(database, plan.collectionId, ready.slice(i, i + size));
        }
        return { registered: ready.length, skipped };
      });
    },

    async uploadFinalize(input: UploadActivityInput): Promise<UploadSummary> {
      const activity = Context.current();
      const { params } = await guard(() => setup(input));
      const dir = workDir(input.runId);
      const summaryFile = path.join(dir, 'summary.json');
      try {
        return JSON.parse(await readFile(summaryFile, 'utf8')) as UploadSummary;
      } catch {
        // not finalized yet
      }
      const ctx = await ActivityRunContext.create({ runId: input.runId, params, activity, store, progressCategories: {} });
      try {
        const plan = await readJson<Plan>(path.join(dir, 'plan.json'), 'plan');
        const failures: UploadSummary['failures'] = [];
        let uploadedFiles = 0;
        let uploadedBytes = 0;
        let registered = 0;
        let skippedUnits = 0;
        for (let b = 0; b < plan.summary.batches; b++) {
          activity.heartbeat();
          const units = await readJson<PlannedUnit[]>(batchFile(input.runId, b), `batch ${b}`);
          const result = await readJson<BatchResult>(storedFile(input.runId, b), `stored files of batch ${b}`);
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
        await writeJsonAtomic(summaryFile, summary);
        // The plan has done its job: keep only the summary, for a retried finalize.
        for (let b = 0; b < plan.summary.batches; b++) {
          await rm(batchFile(input.runId, b), { force: true });
          await rm(storedFile(input.runId, b), { force: true });
        }
        await rm(path.join(dir, 'plan.json'), { force: true });
        return summary;
      } catch (err) {
        if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
        return rethrowAsFailure(err);
      } finally {
        await ctx.close();
      }
    },
  };
}

class FileChangedError extends Error {}

/** Stores one file under its content key; on a retried batch an object already stored whole is kept. */
async function storeFile(
  storage: StorageProvider,
  f: PlannedUnit['files'][string],
  threshold: number,
  retry: boolean,
  beat: () => void,
  signal: AbortSignal,
): Promise<StoredFile> {
  const small = f.size <= threshold;
  // Small files are read once (hash and body); big ones are hashed, then streamed in parts.
  const body = small ? await readFile(f.path) : undefined;
  const checksum = body ? createHash('sha256').update(body).digest('hex') : await sha256File(f.path, beat);
  const size = body ? body.length : (await stat(f.path)).size;
  if (size !== f.size) throw new FileChangedError(`changed since it was found (${f.size} bytes then, ${size} now)`);
  const key = contentKey(checksum, f.name);
  if (retry) {
    for await (const o of storage.list(key)) if (o.key === key && o.size === size) return { key, size, checksum };
  }
  await storage.put(key, body ?? createReadStream(f.path), { multipartThresholdBytes: threshold, onProgress: beat, signal });
  return { key, size, checksum };
}

function uniqueKey(name: string, unitKey: string): string {
  return `${name}/${unitKey}`;
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

/** Hooks may rewrite units: every file must still lie inside its specification's root. */
function checkPlannedUnits(units: readonly UploadUnit[], roots: readonly { spec: string; dir: string }[], name: string): void {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const unit of units) {
    if (seen.has(unit.key)) problems.push({ path: unit.key, message: 'two data units have this key' });
    seen.add(unit.key);
    if (uniqueKey(name, unit.key).length > 1000) problems.push({ path: unit.key, message: 'the data unit key is longer than 1000 characters' });
    for (const [spec, f] of Object.entries(unit.files)) {
      const root = roots.find((r) => r.spec === spec);
      if (!root || !isInside(root.dir, path.resolve(f.path))) problems.push({ path: `${unit.key}.${spec}`, message: `${f.path} is outside the folder of "${spec}"` });
    }
    if (problems.length >= 20) break;
  }
  if (problems.length) throw new InvalidInputError('cannot upload these data units', problems);
}

/**
 * Runs before anything is stored or registered: a unit key already in the collection means
 * another upload used this name, and registering would fail half way.
 */
async function checkKeysFree(db: Db, collectionId: number, collectionName: string, keys: string[], beat: () => void): Promise<void> {
  const taken: string[] = [];
  for (let i = 0; i < keys.length && taken.length < 10; i += 500) {
    beat();
    const rows = await db.selectFrom('data_units').select('unique_key').where('collection_id', '=', collectionId).where('unique_key', 'in', keys.slice(i, i + 500)).execute();
    taken.push(...rows.map((r) => r.unique_key));
  }
  if (taken.length) {
    throw new InvalidInputError(`cannot upload into data collection "${collectionName}"`, [
      { path: 'name', message: `data units ${taken.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${taken.length > 5 ? ', ...' : ''} exist already: use another upload name` },
    ]);
  }
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rethrowAsFailure(err);
  }
}

/**
 * The export run's activities: prepare (validate params, count the items, choose the unique
 * export path once), plan (the id cursors of the next pages), page (fetch a page of items,
 * convert and save each; a failing item is recorded, the page goes on) and finalize
 * (error_file_list.json, manifest.json and the exporter's aggregate files).
 *
 * Every activity is idempotent: pages write deterministic keys (a retried page overwrites the
 * same files and the same part file), and finalize derives everything from the part files.
 * Each runs in the step harness (step.ts); the items come from the platform repositories.
 */
import { Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { parseExportParams, uniqueExportPath, type ErrorFileEntry, type ExportItem, type ExportOutput, type ExportParams } from '../sdk/exporter.js';
import type { StorageProvider } from '../storage/index.js';
import { exportImageSize } from '../sdk/export-boxes.js';
import { imageHeaderSize } from '../engine/image-header.js';
import { EXPORTER, type ExporterClass } from './action-kinds.js';
import { checkFilter, countItems, fetchItems, itemIds, projectClasses } from './export-items.js';
import type { StepDeps, StepInput, StepSpec } from './step.js';

export type ExportActivityInput = StepInput;

export interface ExportPrepareOutput {
  exportPath: string;
  total: number;
  pageSize: number;
}

export interface ExportPlanInput extends ExportActivityInput {
  afterId: number;
  pageSize: number;
  pages: number;
}

export interface ExportPlanOutput {
  /** The `afterId` of each planned page, in order. */
  cursors: number[];
  /** The id of the last planned item (the next plan starts after it). */
  nextAfterId: number;
  /** Whether items may remain after the planned pages. */
  more: boolean;
}

export interface ExportPageInput extends ExportActivityInput {
  exportPath: string;
  afterId: number;
  pageSize: number;
}

export interface ExportPageOutput {
  count: number;
  success: number;
  failed: number;
  skipped: number;
}

export interface ExportFinalizeInput extends ExportActivityInput {
  exportPath: string;
}

export interface ExportSummary {
  export_path: string;
  total: number;
  success: number;
  failed: number;
  skipped: number;
  [key: string]: unknown;
}

/** What became of one item of a page. */
type ItemOutcome = { kind: 'success'; collected: unknown } | { kind: 'skipped' } | { kind: 'failed'; entry: ErrorFileEntry };

/** A page's record of what it did, read back by finalize. */
interface PagePart {
  afterId: number;
  success: number;
  failed: number;
  skipped: number;
  errors: ErrorFileEntry[];
  collected: unknown[];
}

export const PARTS_DIR = '_parts';
const FINAL_PART = '~final.json';

/** An export run's action: a BaseExporter, params with its own `extraParams`. */
const EXPORT: StepSpec<ExporterClass, ExportParams> = { kind: EXPORTER, params: (raw, { cls, subject }) => parseExportParams(cls, raw, subject) };

export function createExportActivities({ platform, steps }: StepDeps) {
  const { db, storageFor } = platform;

  /**
   * The exporter's writes. They are not synced one by one: the page (or finalize) flushes them
   * all at once before it records that it is done, so a completed page's files are durable.
   */
  function makeOutput(storage: StorageProvider, exportPath: string, paths: Record<string, string>): ExportOutput {
    return {
      exportPath,
      paths,
      write: async (key, body) => {
        await storage.put(key, body, { sync: false });
      },
      writeStream: async (key, chunks) => {
        await storage.put(key, Readable.from(chunks), { sync: false });
      },
      read: (key) => storage.get(key),
    };
  }

  return {
    async exportPrepare(input: ExportActivityInput): Promise<ExportPrepareOutput> {
      return steps.bareStep(input, EXPORT, { marksRunning: true }, async ({ cls, params }) => {
        await checkFilter(db, params);
        const storage = await storageFor(params.storage);
        const total = await countItems(db, params);
        const exportPath = await uniqueExportPath(params.path, params.name, async (candidate) => {
          for await (const _ of storage.list(`${candidate}/`)) return true;
          return false;
        });
        return { exportPath, total, pageSize: Math.max(1, Math.floor(cls.pageSize)) };
      });
    },

    async exportPlan(input: ExportPlanInput): Promise<ExportPlanOutput> {
      return steps.bareStep(input, EXPORT, {}, async ({ params }) => {
        const ids = await itemIds(db, params, input.afterId, input.pageSize * input.pages);
        const cursors: number[] = [];
        for (let i = 0; i < ids.length; i += input.pageSize) cursors.push(i === 0 ? input.afterId : (ids[i - 1] as number));
        return { cursors, nextAfterId: ids.length ? (ids[ids.length - 1] as number) : input.afterId, more: ids.length === input.pageSize * input.pages };
      });
    },

    async exportPage(input: ExportPageInput): Promise<ExportPageOutput> {
      return steps.step(input, EXPORT, { progressCategories: 'none' }, async ({ cls, params, ctx }) => {
        const activity = Context.current();
        const storage = await storageFor(params.storage);
        const exporter = new cls();
        exporter.params = params;
        exporter.ctx = ctx;
        const paths = exporter.setupOutputDirectories(input.exportPath, params.save_original_file);
        const output = makeOutput(storage, input.exportPath, paths);
        const items = await fetchItems(db, params, input.afterId, input.pageSize);
        const part: PagePart = { afterId: input.afterId, success: 0, failed: 0, skipped: 0, errors: [], collected: [] };

        /** One item, whole or not at all: every key it wrote is removed when any of its steps fails. */
        const exportItem = async (item: ExportItem): Promise<ItemOutcome> => {
          let fileName = `${exporter.itemStem(item)}.json`;
          const written: string[] = [];
          const itemOutput: ExportOutput = {
            ...output,
            write: async (key, body) => {
              written.push(key);
              await output.write(key, body);
            },
            writeStream: async (key, chunks) => {
              written.push(key);
              await output.writeStream(key, chunks);
            },
          };
          const errors: ErrorFileEntry[] = [];
          try {
            await addHeaderSize(item, storageFor);
            const before = await exporter.beforeConvert(item);
            if (!before) return { kind: 'skipped' };
            const result = { id: before.id, files: before.files, data: await exporter.afterConvert(await exporter.convertData(before)) };
            fileName = `${exporter.itemStem(result)}.json`;
            const status = await exporter.saveAsJson(result, itemOutput, errors);
            if (status !== 'success') throw new Error(errors.at(-1)?.[1] ?? 'save failed');
            const folder = params.save_original_file ? exporter.originalFilesFolder(before, output) : undefined;
            if (folder) {
              for (const copy of exporter.originalCopies(result)) {
                const source = await storageFor(copy.file.storage);
                await itemOutput.write(`${folder}/${copy.copyName}`, await source.get(copy.file.key));
              }
            }
            return { kind: 'success', collected: exporter.collect(result, before) };
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            for (const key of written) await storage.delete(key);
            ctx.log('export_item_failed', { id: item.id, file: fileName, error: message });
            ctx.logMessage(`item ${item.id} (${fileName}) failed: ${message}`, 'ERROR');
            // One entry per failed item (what saveAsJson listed is in the message already).
            return { kind: 'failed', entry: [fileName, message] };
          }
        };

        // Items run `itemConcurrency` at a time (their writes overlap); outcomes are recorded
        // in item order, so the part is the same however the items interleaved.
        const outcomes: ItemOutcome[] = new Array(items.length);
        const limit = Math.max(1, Math.floor(cls.itemConcurrency));
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < items.length) {
            if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
            const i = next++;
            // Every item: a slow exporter must not outlast the heartbeat timeout (the SDK throttles the calls).
            activity.heartbeat();
            outcomes[i] = await exportItem(items[i] as ExportItem);
          }
        };
        await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
        for (const outcome of outcomes) {
          if (outcome.kind === 'skipped') part.skipped++;
          else if (outcome.kind === 'failed') {
            part.failed++;
            part.errors.push(outcome.entry);
          } else {
            part.success++;
            if (outcome.collected !== undefined) part.collected.push(outcome.collected);
          }
        }
        // The page's files first, then its part: a part on record means its files are on disk.
        await storage.flush?.();
        await storage.put(partKey(input.exportPath, input.afterId), JSON.stringify(part));
        return { count: items.length, success: part.success, failed: part.failed, skipped: part.skipped };
      });
    },

    async exportFinalize(input: ExportFinalizeInput): Promise<ExportSummary> {
      return steps.bareStep(input, EXPORT, {}, async ({ cls, params }) => {
        const storage = await storageFor(params.storage);
        const partsPrefix = `${input.exportPath}/${PARTS_DIR}/`;
        const finalKey = `${partsPrefix}${FINAL_PART}`;
        const manifestKey = `${input.exportPath}/manifest.json`;
        const partKeys: string[] = [];
        for await (const o of storage.list(partsPrefix)) if (o.key !== finalKey) partKeys.push(o.key);
        const beat = () => Context.current().heartbeat();
        let summary: ExportSummary;
        if (await storage.exists(finalKey)) {
          summary = JSON.parse((await storage.get(finalKey)).toString('utf8')) as ExportSummary;
        } else if (partKeys.length === 0 && (await storage.exists(manifestKey))) {
          // A retry after the parts were cleaned up: the manifest is the summary.
          summary = manifestSummary(input.exportPath, JSON.parse((await storage.get(manifestKey)).toString('utf8')));
        } else {
          // Parts in page order (their keys sort by cursor), read one at a time: memory stays
          // flat however many pages there are.
          partKeys.sort();
          const readPart = async (key: string): Promise<PagePart> => {
            beat();
            return JSON.parse((await storage.get(key)).toString('utf8')) as PagePart;
          };
          const counts = { success: 0, failed: 0, skipped: 0 };
          let errorCount = 0;
          // error_file_list.json, streamed as JSON.stringify(errors, null, 4) would write it,
          // summing the counts on the way.
          async function* errorList(): AsyncGenerator<string> {
            yield '[';
            for (const key of partKeys) {
              const part = await readPart(key);
              counts.success += part.success;
              counts.failed += part.failed;
              counts.skipped += part.skipped;
              for (const entry of part.errors) {
                const json = JSON.stringify(entry, null, 4).replaceAll('\n', '\n    ');
                yield `${errorCount++ === 0 ? '' : ','}\n    ${json}`;
              }
            }
            yield errorCount === 0 ? ']' : '\n]';
          }
          await storage.put(`${input.exportPath}/error_file_list.json`, Readable.from(errorList()), { sync: false });
          const total = counts.success + counts.failed + counts.skipped;
          const exporter = new cls();
          exporter.params = params;
          const paths = exporter.setupOutputDirectories(input.exportPath, params.save_original_file);
          const output = makeOutput(storage, input.exportPath, paths);
          async function* collected(): AsyncGenerator<unknown> {
            for (const key of partKeys) yield* (await readPart(key)).collected;
          }
          const extra = await exporter.finalize({ collected, classes: await projectClasses(db, params) }, output);
          const manifest = {
            name: params.name,
            ...(params.description !== undefined ? { description: params.description } : {}),
            target: params.target,
            filter: params.filter,
            plugin: { code: input.plugin.code, version: input.plugin.version },
            total,
            ...counts,
            files: {
              json: 'json/',
              error_file_list: 'error_file_list.json',
              ...(params.save_original_file ? { origin_files: 'origin_files/' } : {}),
              ...extra,
            },
          };
          await storage.put(manifestKey, JSON.stringify(manifest, null, 4), { sync: false });
          // Everything finalize wrote is durable before its summary is on record.
          await storage.flush?.();
          summary = { export_path: input.exportPath, total, ...counts, error_count: errorCount };
          await storage.put(finalKey, JSON.stringify(summary));
        }
        for (const key of partKeys) {
          beat();
          await storage.delete(key);
        }
        await storage.delete(finalKey);
        return summary;
      });
    },
  };
}

/**
 * Sets `item.imageSize` from its first file's PNG/JPEG header when neither the annotations'
 * `size` nor the data unit meta gives the size (sdk/export-boxes.ts reads them in that order).
 */
async function addHeaderSize(item: ExportItem, storageFor: (ref: number | string) => Promise<StorageProvider>): Promise<void> {
  if (exportImageSize(item)) return;
  const first = Object.keys(item.files).sort()[0];
  if (first === undefined) return;
  const file = item.files[first] as ExportItem['files'][string];
  const size = imageHeaderSize(await (await storageFor(file.storage)).get(file.key));
  if (size) item.imageSize = size;
}

function manifestSummary(exportPath: string, manifest: { total: number; success: number; failed: number; skipped: number }): ExportSummary {
  return {
    export_path: exportPath,
    total: manifest.total,
    success: manifest.success,
    failed: manifest.failed,
    skipped: manifest.skipped,
    error_count: manifest.failed,
  };
}

function partKey(exportPath: string, afterId: number): string {
  return `${exportPath}/${PARTS_DIR}/${String(afterId).padStart(15, '0')}.json`;
}

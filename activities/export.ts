/**
 * The export run's activities: prepare (validate params, count the items, choose the unique
 * export path once), plan (the id cursors of the next pages), page (fetch a page of items,
 * convert and save each; a failing item is recorded, the page goes on) and finalize
 * (error_file_list.json, manifest.json and the exporter's aggregate files).
 *
 * Every activity is idempotent: pages write deterministic keys (a retried page overwrites the
 * same files and the same part file), and finalize derives everything from the part files.
 * Each runs in the step harness (step.ts); the items come from the platform repositories.
 *
 * The exporter's code never runs here (issue 18): the steps load it in a plugin host
 * (`host: 'action'`; the host parses the params with the class's `static params`, which for an
 * exporter is `exportParamsSchema(extraParams)`, as parseExportParams reads them), and a page's
 * hooks and finalize run there through the host runners of plugin-host-run-export.ts. The
 * worker keeps the database, the storages and their credentials: it fetches the items, reads
 * their image headers, and answers the host's writes, streams, copies and reads (only under
 * the export folder; copies only of the item's own files) through the `output` target, and
 * finalize's `collected()` through `parts`. Class statics (`pageSize`, `itemConcurrency`) come
 * with the host's description. What the host answers is checked with zod here.
 */
import { Context } from '@temporalio/activity';
import { PassThrough, Readable } from 'node:stream';
import { z } from 'zod';
import { parseExportParams, uniqueExportPath, type ErrorFileEntry, type ExportItem, type ExportParams } from '../sdk/exporter.js';
import type { StorageProvider } from '../storage/index.js';
import { exportImageSize } from '../sdk/export-boxes.js';
import { imageHeaderSize } from '../engine/image-header.js';
import { NonRetriableError } from '../contracts/errors.js';
import { EXPORTER, type ExporterClass } from './action-kinds.js';
import { checkFilter, countItems, fetchItems, itemIds, projectClasses } from './export-items.js';
import type { HostRun } from './plugin-host-step.js';
import type { ExportFinalizeArgs, ExportOutputTarget, ExportPageArgs, ExportPartsTarget } from './plugin-host-run-export.js';
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

/** What became of one item of a page, as the host's `export-page` runner answers it. */
const ItemOutcome = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('success'), collected: z.unknown() }),
  z.strictObject({ kind: z.literal('skipped') }),
  z.strictObject({ kind: z.literal('failed'), entry: z.tuple([z.string().max(100_000), z.string().max(100_000)]) }),
]);

/** A host's `commit` (ExportCommit[]): finished items' files and original-file copies. */
const CommitEntries = z
  .array(
    z.strictObject({
      item: z.number().int().min(0),
      files: z.array(z.strictObject({ key: z.string().max(4096), body: z.union([z.string(), z.instanceof(Uint8Array)]) })),
      copies: z.array(z.strictObject({ storage: z.number().int(), key: z.string().max(4096), to: z.string().max(4096) })),
    }),
  )
  .max(10_000);

/** Items of a commit stored at once (as many as the built-in exporters' `itemConcurrency`). */
const COMMIT_LANES = 16;

/** What the exporter's finalize adds to the manifest's `files`. */
const FinalizeFiles = z.record(z.string().max(1000), z.unknown());

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

/**
 * An export run's action: a BaseExporter, params with its own `extraParams`, its code in a
 * plugin host. The host's parser is `parseParams(action, raw)`, the class's `static params`:
 * for an exporter that is `exportParamsSchema(extraParams)` (sdk/exporter.ts), what
 * parseExportParams reads, with the same subject.
 */
const EXPORT: StepSpec<ExporterClass, ExportParams> = {
  kind: EXPORTER,
  params: (raw, { cls, subject }) => parseExportParams(cls, raw, subject),
  host: 'action',
};

/** The step's plugin host: an exporter's hooks run nowhere else. */
function hostOf(host: HostRun | undefined, input: StepInput): HostRun {
  if (!host)
    throw new NonRetriableError(
      `${input.plugin.code} ${input.action}: an exporter's code runs in a plugin host, and this action has none (only TypeScript exporters run)`,
    );
  return host;
}

/**
 * Where a host may write and read: under the export folder, nowhere else in the storage, and
 * not the pages' part files (the counts finalize sums are the worker's alone).
 */
function checkExportKey(exportPath: string, key: unknown): string {
  if (typeof key !== 'string' || !key.startsWith(`${exportPath}/`)) {
    throw new NonRetriableError(`an exporter may only write and read under its export folder "${exportPath}/", not ${JSON.stringify(key)}`);
  }
  if (key.startsWith(`${exportPath}/${PARTS_DIR}/`))
    throw new NonRetriableError(`an exporter may not write or read the export's part files (${JSON.stringify(key)})`);
  return key;
}

/** A host's bytes as a Buffer (a Buffer may arrive as a plain Uint8Array). */
function bytesOf(body: unknown, what: string): string | Buffer {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new NonRetriableError(`${what}: expected a string or bytes, got ${body === null ? 'null' : typeof body}`);
}

export function createExportActivities({ platform, steps }: StepDeps) {
  const { db, storageFor } = platform;

  /**
   * The export's output as the host's runners call it (ExportOutputTarget). Writes are not
   * synced one by one: the page (or finalize) flushes them all at once before it records that
   * it is done, so a completed page's files are durable. Each item's keys are remembered, so a
   * failed item's files are deleted (`discard`); `items` are the page's, whose files alone may
   * be copied (finalize has none).
   */
  function outputTarget(storage: StorageProvider, exportPath: string, items: readonly ExportItem[]): { output: ExportOutputTarget; close(): void } {
    const activity = Context.current();
    const written = new Map<number, string[]>();
    const streams = new Map<number, { pass: PassThrough; done: Promise<void> }>();
    let nextStream = 1;
    const record = (item: number, key: string) => {
      activity.heartbeat();
      const keys = written.get(item);
      if (keys) keys.push(key);
      else written.set(item, [key]);
    };
    const streamOf = (id: number) => {
      const stream = streams.get(id);
      if (!stream) throw new NonRetriableError(`no open export stream ${id}`);
      return stream;
    };
    const output: ExportOutputTarget = {
      write: async (item, key, body) => {
        record(item, checkExportKey(exportPath, key));
        await storage.put(key, bytesOf(body, `write ${key}`), { sync: false });
      },
      open: async (item, key) => {
        record(item, checkExportKey(exportPath, key));
        const pass = new PassThrough();
        const done = storage.put(key, pass, { sync: false }).then(() => undefined);
        // Seen by `chunk` and `end`; never an unhandled rejection while the host is between calls.
        done.catch(() => undefined);
        const id = nextStream++;
        streams.set(id, { pass, done });
        return id;
      },
      chunk: async (id, data) => {
        const { pass, done } = streamOf(id);
        activity.heartbeat();
        // Back-pressure: the host's next chunk waits until the storage took this one (or failed).
        if (!pass.write(bytesOf(data, 'stream chunk'))) await Promise.race([new Promise((resolve) => pass.once('drain', resolve)), done]);
      },
      end: async (id, error) => {
        const { pass, done } = streamOf(id);
        streams.delete(id);
        if (error === undefined) {
          pass.end();
          await done;
        } else {
          pass.destroy(new Error(`the exporter's stream failed: ${error}`));
          await done.catch(() => undefined);
        }
      },
      read: async (key) => storage.get(checkExportKey(exportPath, key)),
      commit: async (raw) => {
        const entries = CommitEntries.parse(raw);
        const failures: (string | null)[] = entries.map(() => null);
        // One entry after another per lane, `COMMIT_LANES` entries at once (the items' writes overlap).
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < entries.length) {
            const i = next++;
            const { item, files, copies } = entries[i] as (typeof entries)[number];
            try {
              for (const file of files) {
                record(item, checkExportKey(exportPath, file.key));
                await storage.put(file.key, bytesOf(file.body, `write ${file.key}`), { sync: false });
              }
              for (const copy of copies) {
                const own = items[item];
                const source = own && Object.values(own.files).find((f) => f.storage === copy.storage && f.key === copy.key);
                if (!source) throw new Error(`an exporter may only copy its item's own files, not ${JSON.stringify(copy.key)} of storage ${copy.storage}`);
                record(item, checkExportKey(exportPath, copy.to));
                await storage.put(copy.to, await (await storageFor(source.storage)).get(source.key), { sync: false });
              }
            } catch (err) {
              failures[i] = err instanceof Error ? err.message : String(err);
              // The item whole or not at all: what it wrote (streamed files too) goes.
              for (const key of written.get(item) ?? []) await storage.delete(key);
              written.delete(item);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(COMMIT_LANES, entries.length) }, lane));
        return failures;
      },
      discard: async (item) => {
        for (const key of written.get(item) ?? []) await storage.delete(key);
        written.delete(item);
      },
    };
    /** Abandons the streams the host left open (a host that failed mid-stream). */
    const close = () => {
      for (const { pass } of streams.values()) pass.destroy(new Error('the plugin host ended before the stream'));
      streams.clear();
    };
    return { output, close };
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
      return steps.step(input, EXPORT, { progressCategories: 'none' }, async ({ cls, params, ctx, host }) => {
        const hosted = hostOf(host, input);
        const storage = await storageFor(params.storage);
        const items = await fetchItems(db, params, input.afterId, input.pageSize);
        // The statics came with the host's description (the stand-in class has them).
        const limit = Math.max(1, Math.floor(cls.itemConcurrency));
        const headerErrors = await headerSizes(items, storageFor, limit);
        const { output, close } = outputTarget(storage, input.exportPath, items);
        const args: ExportPageArgs = { exportPath: input.exportPath, items, headerErrors };
        let answer: unknown;
        try {
          answer = await hosted.run('export-page', [args], { ctx, targets: { output } });
        } finally {
          close();
        }
        const outcomes = z.array(ItemOutcome).length(items.length).safeParse(answer);
        if (!outcomes.success) {
          throw new NonRetriableError(
            `${input.plugin.code} ${input.action}: the export-page runner answered ${outcomes.error.issues[0]?.path.join('.') || 'its value'}: ${outcomes.error.issues[0]?.message}`,
          );
        }
        const part: PagePart = { afterId: input.afterId, success: 0, failed: 0, skipped: 0, errors: [], collected: [] };
        for (const outcome of outcomes.data) {
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
      return steps.bareStep(input, EXPORT, {}, async ({ params, host }) => {
        const hosted = hostOf(host, input);
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
          // The exporter's finalize runs in the host; its collected() reads the parts here, one per call.
          const { output, close } = outputTarget(storage, input.exportPath, []);
          const parts: ExportPartsTarget = {
            collected: async (index) => {
              const key = Number.isSafeInteger(index) && index >= 0 ? partKeys[index] : undefined;
              return key === undefined ? null : (await readPart(key)).collected;
            },
          };
          const args: ExportFinalizeArgs = { exportPath: input.exportPath, classes: await projectClasses(db, params) };
          let answer: unknown;
          try {
            answer = await hosted.run('export-finalize', [args], { targets: { output, parts }, signal: Context.current().cancellationSignal });
          } finally {
            close();
          }
          const files = FinalizeFiles.safeParse(answer);
          if (!files.success)
            throw new NonRetriableError(
              `${input.plugin.code} ${input.action}: finalize must resolve with an object of manifest files, not ${JSON.stringify(answer)?.slice(0, 200)}`,
            );
          const extra = files.data;
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
 * Every item's header size (addHeaderSize), `limit` items at once, before the items go to the
 * host: per item, null or why its header could not be read (that item fails in the host).
 */
async function headerSizes(items: ExportItem[], storageFor: (ref: number | string) => Promise<StorageProvider>, limit: number): Promise<(string | null)[]> {
  const activity = Context.current();
  const errors: (string | null)[] = items.map(() => null);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
      const i = next++;
      activity.heartbeat();
      try {
        await addHeaderSize(items[i] as ExportItem, storageFor);
      } catch (err) {
        errors[i] = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return errors;
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

/**
 * The export shape's host runners (see plugin-host-runner.ts): run inside a plugin host, so an
 * exporter's hooks (beforeConvert, convertData, afterConvert, itemStem, saveAsJson,
 * originalFilesFolder, originalCopies, collect, setupOutputDirectories, finalize), built-in
 * exporters' too, never run in the worker (issue 18).
 *
 * - `export-page`: one page's items (fetched by the worker, header sizes already read) through
 *   the per-item pipeline, `itemConcurrency` items at once; answers each item's outcome in
 *   item order. Files go to the worker's output (`remote('output')`, ExportOutputTarget): an
 *   item's written files are held until its hooks all succeeded, then sent with its original
 *   files to copy (the worker copies them, storage to storage; the host only names them) in
 *   one `commit` per 64 items or 1 MiB; streamed files go at once, in chunks of about 256 KiB.
 *   A failed item's held files are dropped and what it streamed is deleted (`discard`); an
 *   item the worker could not store is deleted whole there and answered as failed: an item is
 *   exported whole or not at all.
 * - `export-finalize`: the exporter's `finalize`, its `collected()` paged from the worker's
 *   part files (`remote('parts')`, ExportPartsTarget), one page's values per call.
 *
 * What crosses to the worker is structured-clone data; the worker checks the outcomes with zod
 * (activities/export.ts). This file is bundled into every host: SDK imports only.
 */
import {
  isExporterClass,
  type BaseExporter,
  type ErrorFileEntry,
  type ExportItem,
  type ExportOutput,
  type ExportParams,
  type ExportResultItem,
} from '../sdk/exporter.js';
import type { AnnotationClass } from '../sdk/annotations.js';
import type { HostRunner, HostRunnerCall, Remote } from './plugin-host-runner.js';
import { refusalMessage } from './plugin-host-errors.js';

/** The item index the finalize step's writes carry (they belong to no item). */
export const FINALIZE_ITEM = -1;

/** An original file to copy: from `storage`/`key` (one of the item's own files) to `to` in the export. */
export interface ExportCopy {
  storage: number;
  key: string;
  to: string;
}

/**
 * The worker's side of an export step's output (`targets.output`). `item` is the item's index
 * in the page (FINALIZE_ITEM in finalize); every key is under the export folder.
 */
export interface ExportOutputTarget {
  /** Writes one file of `item`. */
  write(item: number, key: string, body: string | Uint8Array): Promise<void>;
  /** Starts a streamed file of `item`; resolves with the stream's id for `chunk` and `end`. */
  open(item: number, key: string): Promise<number>;
  /** The next bytes of stream `stream`; resolves when the storage took them (back-pressure). */
  chunk(stream: number, data: string | Uint8Array): Promise<void>;
  /** Ends stream `stream`: stored when it resolves; with `error`, abandoned (nothing stored). */
  end(stream: number, error?: string): Promise<void>;
  /** A file the export wrote. */
  read(key: string): Promise<Uint8Array>;
  /**
   * Stores finished items: each entry's files, then its original-file copies (each one of the
   * item's own files, storage to storage). Resolves with one value per entry: null, or why
   * that item failed (then everything it wrote is deleted, streamed files too).
   */
  commit(entries: ExportCommit[]): Promise<(string | null)[]>;
  /** Deletes every key `item` wrote (the item failed). */
  discard(item: number): Promise<void>;
}

/** A finished item's files and copies, as `commit` stores them. */
export interface ExportCommit {
  item: number;
  files: { key: string; body: string | Uint8Array }[];
  copies: ExportCopy[];
}

/** The worker's side of finalize's `collected()` (`targets.parts`). */
export interface ExportPartsTarget {
  /** What the items of page part `index` (in page order) collected, or null past the last part. */
  collected(index: number): Promise<unknown[] | null>;
}

/** `export-page`'s argument. */
export interface ExportPageArgs {
  exportPath: string;
  items: ExportItem[];
  /** Per item, why reading its image header failed, or null. */
  headerErrors: (string | null)[];
}

/** What became of one item of a page (`export-page` answers one per item, in item order). */
export type ExportItemOutcome = { kind: 'success'; collected: unknown } | { kind: 'skipped' } | { kind: 'failed'; entry: ErrorFileEntry };

/** `export-finalize`'s argument. */
export interface ExportFinalizeArgs {
  exportPath: string;
  classes: AnnotationClass[];
}

/** Strings are joined, anything else sent as bytes, about this much per `chunk` call. */
const CHUNK_BYTES = 256 * 1024;
/** Finished items go to the worker in one `commit` per this many items or bytes, whichever comes first. */
const COMMIT_ITEMS = 64;
const COMMIT_BYTES = 1024 * 1024;
/** Commits in flight at once: an item waits for an older one beyond this (back-pressure). */
const COMMITS_IN_FLIGHT = 2;

type Exporter = BaseExporter;

/** The plugin's exporter, its params and ctx set as the engine sets them before any hook runs. */
function exporterOf(call: HostRunnerCall): Exporter {
  const cls = call.action.cls;
  if (!isExporterClass(cls)) throw new Error(`${call.action.name}: ${String((cls as { name?: unknown }).name)} is not a BaseExporter subclass`);
  const exporter = new (cls as unknown as new () => Exporter)();
  exporter.params = call.params as ExportParams;
  exporter.ctx = call.ctx as Exporter['ctx'];
  return exporter;
}

function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Sends `chunks` to a stream of the worker, batched to about CHUNK_BYTES per message. */
async function streamTo(out: Remote<ExportOutputTarget>, item: number, key: string, chunks: AsyncIterable<string | Buffer>): Promise<void> {
  const stream = await out.open(item, key);
  let parts: (string | Buffer)[] = [];
  let size = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    const data = parts.every((p) => typeof p === 'string') ? parts.join('') : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    parts = [];
    size = 0;
    await out.chunk(stream, data);
  };
  try {
    for await (const chunk of chunks) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= CHUNK_BYTES) await flush();
    }
    await flush();
  } catch (err) {
    await out.end(stream, err instanceof Error ? err.message : String(err)).catch(() => undefined);
    throw err;
  }
  await out.end(stream);
}

/**
 * The ExportOutput plugin code writes to, as `item`. With `held`, `write` keeps the file until
 * the item is committed (an item's files reach the worker with its commit); without it, each
 * write is a message. `writeStream` streams to the worker at once either way (`onStream`).
 */
function outputFor(
  out: Remote<ExportOutputTarget>,
  item: number,
  exportPath: string,
  paths: Record<string, string>,
  held?: ExportCommit['files'],
  onStream: () => void = () => undefined,
): ExportOutput {
  return {
    exportPath,
    paths,
    write: async (key, body) => {
      if (held) held.push({ key, body });
      else await out.write(item, key, body);
    },
    writeStream: async (key, chunks) => {
      onStream();
      await streamTo(out, item, key, chunks);
    },
    read: async (key) => {
      const kept = held?.findLast((f) => f.key === key);
      if (kept) return typeof kept.body === 'string' ? Buffer.from(kept.body) : toBuffer(kept.body);
      return toBuffer(await out.read(key));
    },
  };
}

// A permission refusal names what was refused and the rule (plugin-host-errors.ts), per item too.
const messageOf = (err: unknown): string => refusalMessage(err) ?? (err instanceof Error ? err.message : String(err));

/** One page's items through the exporter's hooks (the seed's per-item pipeline). */
const exportPage: HostRunner = async (call) => {
  const { exportPath, items, headerErrors } = call.args[0] as ExportPageArgs;
  const { ctx } = call;
  const exporter = exporterOf(call);
  const params = exporter.params;
  const out = call.remote<ExportOutputTarget>('output');
  const paths = exporter.setupOutputDirectories(exportPath, params.save_original_file);
  const outcomes: ExportItemOutcome[] = new Array<ExportItemOutcome>(items.length);
  const fileNames: string[] = items.map((item) => `${item.target}_${item.id}.json`);

  const failed = (index: number, message: string): ExportItemOutcome => {
    const item = items[index] as ExportItem;
    const fileName = fileNames[index] as string;
    ctx.log('export_item_failed', { id: item.id, file: fileName, error: message });
    ctx.logMessage(`item ${item.id} (${fileName}) failed: ${message}`, 'ERROR');
    // One entry per failed item (what saveAsJson listed is in the message already).
    return { kind: 'failed', entry: [fileName, message] };
  };

  // Finished items go to the worker in batches (one message per COMMIT_ITEMS items, not one
  // per file); an item whose files the worker could not store becomes failed afterwards.
  let batch: ExportCommit[] = [];
  let batchBytes = 0;
  const inFlight: Promise<unknown>[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const entries = batch;
    batch = [];
    batchBytes = 0;
    const sent = out.commit(entries).then((failures) => {
      entries.forEach((entry, i) => {
        const failure = failures[i];
        if (typeof failure === 'string') outcomes[entry.item] = failed(entry.item, failure);
      });
    });
    // Seen when the page awaits it: never an unhandled rejection (that ends the host).
    inFlight.push(
      sent.then(
        () => null,
        (err: unknown) => ({ err }),
      ),
    );
  };
  const commit = async (entry: ExportCommit): Promise<void> => {
    batch.push(entry);
    for (const f of entry.files) batchBytes += typeof f.body === 'string' ? f.body.length : f.body.byteLength;
    if (batch.length >= COMMIT_ITEMS || batchBytes >= COMMIT_BYTES) flush();
    while (inFlight.length > COMMITS_IN_FLIGHT) {
      const settled = (await inFlight.shift()) as { err: unknown } | null;
      if (settled) throw settled.err;
    }
  };

  /** One item, whole or not at all: its files are committed only when every hook succeeded. */
  const exportItem = async (item: ExportItem, index: number): Promise<ExportItemOutcome> => {
    let streamed = false;
    const files: ExportCommit['files'] = [];
    const itemOutput = outputFor(out, index, exportPath, paths, files, () => {
      streamed = true;
    });
    const errors: ErrorFileEntry[] = [];
    let outcome: ExportItemOutcome;
    let copies: ExportCopy[] = [];
    try {
      fileNames[index] = `${exporter.itemStem(item)}.json`;
      const headerError = headerErrors[index];
      if (headerError) throw new Error(headerError);
      const before = await exporter.beforeConvert(item);
      if (!before) return { kind: 'skipped' };
      const result: ExportResultItem = { id: before.id, files: before.files, data: await exporter.afterConvert(await exporter.convertData(before)) };
      fileNames[index] = `${exporter.itemStem(result)}.json`;
      const status = await exporter.saveAsJson(result, itemOutput, errors);
      if (status !== 'success') throw new Error(errors.at(-1)?.[1] ?? 'save failed');
      const folder = params.save_original_file ? exporter.originalFilesFolder(before, itemOutput) : undefined;
      if (folder)
        copies = exporter.originalCopies(result).map((c): ExportCopy => ({ storage: c.file.storage, key: c.file.key, to: `${folder}/${c.copyName}` }));
      outcome = { kind: 'success', collected: exporter.collect(result, before) };
    } catch (err) {
      // Its held files are dropped; what it streamed is deleted.
      if (streamed) await out.discard(index);
      return failed(index, messageOf(err));
    }
    if (files.length > 0 || copies.length > 0) await commit({ item: index, files, copies });
    return outcome;
  };

  // Items run `itemConcurrency` at a time; outcomes are answered in item order, so the page's
  // part is the same however the items interleaved.
  const cls = call.action.cls as unknown as { itemConcurrency: number };
  const limit = Math.max(1, Math.floor(Number(cls.itemConcurrency) || 1));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const i = next++;
      // A commit's failure may have marked the item already (it never has before it returns).
      const outcome = await exportItem(items[i] as ExportItem, i);
      outcomes[i] ??= outcome;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  flush();
  for (const settled of (await Promise.all(inFlight)) as ({ err: unknown } | null)[]) if (settled) throw settled.err;
  return outcomes;
};

/** The exporter's aggregate files; resolves with what it adds to the manifest's `files`. */
const exportFinalize: HostRunner = async (call) => {
  const { exportPath, classes } = call.args[0] as ExportFinalizeArgs;
  const exporter = exporterOf(call);
  const out = call.remote<ExportOutputTarget>('output');
  const parts = call.remote<ExportPartsTarget>('parts');
  const paths = exporter.setupOutputDirectories(exportPath, exporter.params.save_original_file);
  const output = outputFor(out, FINALIZE_ITEM, exportPath, paths);
  async function* collected(): AsyncGenerator<unknown> {
    for (let index = 0; ; index++) {
      const values = await parts.collected(index);
      if (values === null) return;
      yield* values;
    }
  }
  const extra: unknown = await exporter.finalize({ collected, classes }, output);
  return extra ?? {};
};

export const EXPORT_RUNNERS: Record<string, HostRunner> = { 'export-page': exportPage, 'export-finalize': exportFinalize };

/**
 * BaseExporter: the seed's export plugin base (`synapse_sdk ... export.templates.plugin.BaseExporter`).
 * A plugin subclasses it and overrides the hooks it needs; the engine (the export workflow
 * and its activities) fetches items a page at a time and calls, per item,
 * `beforeConvert` -> `convertData` -> `afterConvert` -> `saveAsJson`. No Temporal here: the
 * exporter sees items, an output to write to, and a RunContext.
 */
import { z } from 'zod';
import { PathSegmentName, RecordRef } from './params.js';
import type { AnnotationClass } from './annotations.js';
import { ExportAction } from './category-actions.js';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError } from '../contracts/errors.js';
import type { RunContext } from './run-context.js';
import { fileExtension, itemOutputStem } from './export-names.js';

export const EXPORT_TARGETS = ['assignment', 'ground_truth', 'task'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/** The filter key each target needs (the seed's filter examples). */
export const REQUIRED_FILTER_KEYS: Record<ExportTarget, string> = {
  assignment: 'project',
  ground_truth: 'ground_truth_dataset_version',
  task: 'project',
};

/**
 * Every filter key a target takes (the seed's filter examples): ids are positive whole
 * numbers, `status` one of the target's statuses, `expand` a list of related records. Any
 * other key is a params error: a filter that is not applied is never accepted.
 */
export const FILTER_KEYS: Record<ExportTarget, readonly string[]> = {
  assignment: ['project', 'status', 'task', 'expand'],
  ground_truth: ['ground_truth_dataset_version', 'expand'],
  task: ['project', 'status', 'assignment', 'expand'],
};

/**
 * What `expand` may name per target. `data` (the annotations of an assignment or ground-truth
 * event) and `data_unit` (a task's data unit) are always in an export item, so naming them
 * changes nothing; a task's `assignment` adds its assignments (`extra.assignments`).
 */
export const EXPAND_VALUES: Record<ExportTarget, readonly string[]> = {
  assignment: ['data', 'data_unit'],
  ground_truth: ['data', 'data_unit'],
  task: ['data_unit', 'assignment'],
};

const STATUSES: Record<ExportTarget, readonly string[]> = {
  assignment: ['pending', 'in_progress', 'submitted', 'completed', 'rejected'],
  ground_truth: [],
  task: ['pending', 'in_progress', 'completed', 'rejected'],
};

const Ref = RecordRef;

/** The seed's ExportParams, with `extra_params` validated by `extra` (the exporter's own schema). */
export function exportParamsSchema<E extends z.ZodType>(extra: E) {
  return z
    .strictObject({
      name: PathSegmentName,
      description: z.string().optional(),
      /** Storage id or name (the platform's storages). */
      storage: Ref,
      save_original_file: z.boolean().default(false),
      /** Folder in the storage under which the export folder is made; '' is the root. */
      path: z.string().default(''),
      target: z.enum(EXPORT_TARGETS),
      filter: z.record(z.string(), z.unknown()),
      extra_params: extra.prefault({} as never),
    })
    .superRefine((p, ctx) => {
      const key = REQUIRED_FILTER_KEYS[p.target];
      const value = p.filter[key];
      if (value === undefined || value === null || value === '') {
        ctx.addIssue({ code: 'custom', path: ['filter', key], message: `required for target "${p.target}"` });
      } else if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0) && !(typeof value === 'string' && /^\d+$/.test(value))) {
        ctx.addIssue({ code: 'custom', path: ['filter', key], message: 'must be a positive whole number (an id)' });
      }
      for (const [k, v] of Object.entries(p.filter)) {
        if (!FILTER_KEYS[p.target].includes(k)) {
          ctx.addIssue({
            code: 'custom',
            path: ['filter', k],
            message: `unknown filter key for target "${p.target}" (known: ${FILTER_KEYS[p.target].join(', ')})`,
          });
        } else if (k === 'status') {
          if (typeof v !== 'string' || !STATUSES[p.target].includes(v))
            ctx.addIssue({ code: 'custom', path: ['filter', 'status'], message: `must be one of ${STATUSES[p.target].join(', ')}` });
        } else if (k === 'expand') {
          const allowed = EXPAND_VALUES[p.target];
          if (!Array.isArray(v) || v.some((e) => typeof e !== 'string' || !allowed.includes(e))) {
            ctx.addIssue({ code: 'custom', path: ['filter', 'expand'], message: `must be a list of ${allowed.map((e) => `"${e}"`).join(', ')}` });
          }
        } else if (k !== key && !(typeof v === 'number' && Number.isSafeInteger(v) && v > 0) && !(typeof v === 'string' && /^\d+$/.test(v))) {
          ctx.addIssue({ code: 'custom', path: ['filter', k], message: 'must be a positive whole number (an id)' });
        }
      }
    });
}

export const ExportParams = exportParamsSchema(z.looseObject({}));
export type ExportParams<E = Record<string, unknown>> = Omit<z.infer<typeof ExportParams>, 'extra_params'> & { extra_params: E };

/** A data unit's file: the storage id and the key in it. */
export interface ExportFile {
  storage: number;
  key: string;
  size?: number;
  checksum?: string;
}

/** One item to export: an assignment, a ground-truth event or a task, with its data unit. */
export interface ExportItem {
  /** The id of the row of the target (assignment, ground-truth event or task id). */
  id: number;
  target: ExportTarget;
  /** The annotations (assignment and ground_truth targets; a task has none). */
  data: unknown;
  /** The data unit's files by name: `{ image: { storage, key } }`. */
  files: Record<string, ExportFile>;
  dataUnit: { id: number; uniqueKey: string; meta: Record<string, unknown> };
  /** Target-specific fields (status, annotator, task id, ...). */
  extra: Record<string, unknown>;
  /**
   * The image size read from the item's first file's PNG or JPEG header, set by the engine
   * only when neither the annotations' `size` nor the data unit meta has one.
   */
  imageSize?: { width: number; height: number };
}

/** What `beforeConvert`/`convertData` produce and `saveAsJson` writes. */
export interface ExportResultItem {
  id: number;
  files: ExportItem['files'];
  data: unknown;
}

/** `[file name, reason]`, as the seed's error_file_list. */
export type ErrorFileEntry = [string, string];
export type ExportStatus = 'success' | 'failed';

/** Where an exporter writes: keys relative to the storage root, under the export path. */
export interface ExportOutput {
  /** The unique export folder (`<path>/<name>` or `<path>/<name>(n)`). */
  readonly exportPath: string;
  /** What `setupOutputDirectories` returned. */
  readonly paths: Record<string, string>;
  write(key: string, body: string | Buffer): Promise<void>;
  /**
   * Writes one object from chunks made one at a time, so an aggregate file (COCO's
   * instances.json at a million items) never has to be held whole in memory.
   */
  writeStream(key: string, chunks: AsyncIterable<string | Buffer>): Promise<void>;
  read(key: string): Promise<Buffer>;
}

/** What `finalize` gets: every item's collected value, streamed, and the project's classes. */
export interface ExportFinalizeInput {
  /**
   * Every value `collect` returned, in item order, read back one page at a time (memory
   * stays flat however many items there are). Each call starts a fresh pass, so a format
   * that needs two (images, then annotations) calls it twice.
   */
  collected(): AsyncIterable<unknown>;
  classes: readonly AnnotationClass[];
}

function baseName(key: string): string {
  const last = key.split('/').pop() ?? key;
  return last;
}

/** The file name without its extension (`a/b/c.tar.png` -> `c.tar`). */
export function fileStem(name: string): string {
  const base = baseName(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

export abstract class BaseExporter<E = Record<string, unknown>> extends ExportAction<ExportParams<E>, unknown> {
  /** Schema of `extra_params` (the seed's ExportParams subclass fields). */
  static extraParams: z.ZodType = z.looseObject({});

  /**
   * A base whose `static extraParams` is `extra` and whose `this.params.extra_params` is its
   * output type: the extra params declared once.
   * `export class MyExporter extends BaseExporter.withExtraParams(Extra) { ... }`
   */
  static withExtraParams<S extends z.ZodType>(extra: S) {
    // At run time the new class extends the class it was called on (BaseExporter or a subclass).
    const Base = this as unknown as typeof BaseExporter;
    abstract class WithExtraParams extends Base<z.output<S>> {
      static override extraParams = extra;
      static override params: z.ZodType = exportParamsSchema(extra);
    }
    return WithExtraParams;
  }
  /** Items per page activity. */
  static pageSize = 1000;
  /**
   * Items of a page converted and written at once. 1 (the default) calls the hooks one item
   * at a time, as the seed does; an exporter whose hooks keep no state between items may
   * raise it so the items' writes overlap (the built-in exporters use 16). The page records
   * its items in order either way.
   */
  static itemConcurrency = 1;
  // `static params` is an accessor defined below the class: the export params with this class's
  // own `extraParams` (so parseParams and parseExportParams read params alike, in a host too).

  /** Set by the engine before any hook runs. */
  params!: ExportParams<E>;
  /** The run's context (logs, events); set by the engine. */
  ctx!: RunContext<ExportParams<E>>;

  /** seed: `convert_data(data)`. Converts one item to the export format; default: its annotations. */
  convertData(item: ExportItem): unknown | Promise<unknown> {
    return item.data;
  }

  /** seed: `before_convert(export_item)`. Preprocesses an item; returning null skips it. */
  beforeConvert(item: ExportItem): ExportItem | null | Promise<ExportItem | null> {
    return item;
  }

  /** seed: `after_convert(converted_data)`. Post-processes what convertData returned. */
  afterConvert(converted: unknown): unknown | Promise<unknown> {
    return converted;
  }

  /** seed: `get_original_file_name(files)`. The name of the item's first file (by file name), or none. */
  getOriginalFileName(files: ExportItem['files']): string | undefined {
    const first = Object.keys(files).sort()[0];
    return first === undefined ? undefined : baseName(files[first]!.key);
  }

  /**
   * seed: `setup_output_directories(unique_export_path, save_original_file_flag)`. The
   * folders of the export; object storage has no folders, so this only names them.
   */
  setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/origin_files`;
    return paths;
  }

  /**
   * The stem of an item's output files, unique in the export: `<original file's stem>_<item
   * id>`, else `<target>_<id>`; shortened with a hash past 200 bytes (sdk/export-names.ts).
   */
  itemStem(result: Pick<ExportResultItem, 'id' | 'files'>): string {
    const original = this.getOriginalFileName(result.files);
    return itemOutputStem(original ? fileStem(original) : undefined, this.params.target, result.id);
  }

  /**
   * Where each of an item's files is copied with `save_original_file`: the first file (by
   * file name) as `<stem><ext>`, any other as `<stem>.<file name><ext>`, so the image and the
   * item's label files share a stem and two items never write one copy.
   */
  originalCopies(result: Pick<ExportResultItem, 'id' | 'files'>): { name: string; file: ExportFile; copyName: string }[] {
    const stem = this.itemStem(result);
    return Object.keys(result.files)
      .sort()
      .map((name, i) => {
        const file = result.files[name] as ExportFile;
        const ext = fileExtension(file.key);
        return { name, file, copyName: i === 0 ? `${stem}${ext}` : `${stem}.${name.replace(/[^\w.-]/g, '_')}${ext}` };
      });
  }

  /**
   * The dataset subset an item goes to (the folder under images/ and labels/, COCO's
   * `instances_<subset>.json`, VOC's `ImageSets/Main/<subset>.txt`): `default`. The detection
   * exporters take `extra_params.subsets: "split"` to use the data unit's `meta.split` instead
   * (subsetOfSplit).
   */
  subset(_item: ExportItem): string {
    return 'default';
  }

  /** The folder an item's original files are copied to; default `paths.origin_files_output_path`. */
  originalFilesFolder(_item: ExportItem, output: ExportOutput): string | undefined {
    return output.paths.origin_files_output_path;
  }

  /** seed: `save_as_json(result, base_path, error_file_list)`. Writes `json/<stem>.json`. */
  async saveAsJson(result: ExportResultItem, output: ExportOutput, errorFileList: ErrorFileEntry[]): Promise<ExportStatus> {
    const fileName = `${this.itemStem(result)}.json`;
    try {
      await output.write(`${output.paths.json_output_path}/${fileName}`, JSON.stringify(result.data, null, 4));
      return 'success';
    } catch (err) {
      errorFileList.push([fileName, err instanceof Error ? err.message : String(err)]);
      return 'failed';
    }
  }

  /** Per item, what the page keeps for `finalize` (e.g. COCO images and annotations); default nothing. */
  collect(_result: ExportResultItem, _item: ExportItem): unknown {
    return undefined;
  }

  /** Writes aggregate files from what every page collected (`input.collected()`, in item order). Default: nothing. */
  async finalize(_input: ExportFinalizeInput, _output: ExportOutput): Promise<Record<string, unknown>> {
    return {};
  }

  /** Exports run as the export workflow (count, pages, finalize), not through `start`. */
  async start(_ctx: RunContext<ExportParams<E>>): Promise<unknown> {
    throw new NonRetriableError(
      'an exporter runs as the export workflow: start it with a worker (`synapse plugin run export <params> --plugin <plugin>`), not --debug',
    );
  }
}

/** Each exporter class's params schema, made once per class and `extraParams` schema. */
const PARAMS_OF = new WeakMap<object, { extra: z.ZodType; schema: z.ZodType }>();

/**
 * `BaseExporter.params` (and a subclass's, unless it sets its own): `exportParamsSchema` of the
 * class's `extraParams`, so an exporter that sets only `static extraParams` is read alike by
 * `parseParams(action, raw)` (plugin hosts, the loader, secret redaction) and by
 * `parseExportParams(cls, raw)`. Assigning `Cls.params = schema` gives that class its own.
 */
Object.defineProperty(BaseExporter, 'params', {
  configurable: true,
  enumerable: true,
  get(this: { extraParams: z.ZodType }): z.ZodType {
    const known = PARAMS_OF.get(this);
    if (known?.extra === this.extraParams) return known.schema;
    const schema: z.ZodType = exportParamsSchema(this.extraParams);
    PARAMS_OF.set(this, { extra: this.extraParams, schema });
    return schema;
  },
  set(this: object, value: z.ZodType) {
    Object.defineProperty(this, 'params', { value, writable: true, configurable: true, enumerable: true });
  },
});

/** The split subsets: `train`, `val`, `test`. */
export const SPLIT_SUBSETS = ['train', 'val', 'test'] as const;

/**
 * An item's subset by the platform's split convention: the data unit's `meta.split` when it
 * is `train`, `val` or `test`, else `train` (as the train shape reads splits).
 */
export function subsetOfSplit(item: ExportItem): string {
  const split = item.dataUnit.meta.split;
  return typeof split === 'string' && (SPLIT_SUBSETS as readonly string[]).includes(split) ? split : 'train';
}

/** `extra_params.subsets` of the detection exporters: one `default` subset, or the units' splits. */
export const SubsetsParam = z.enum(['default', 'split']).default('default');

export function isExporterClass(value: unknown): value is typeof BaseExporter {
  return typeof value === 'function' && value.prototype instanceof BaseExporter;
}

/**
 * The export folder: `<path>/<name>`, or `<path>/<name>(1)`, `(2)`, ... when taken. The
 * seed's `_create_unique_export_path`.
 */
export async function uniqueExportPath(base: string, name: string, taken: (candidate: string) => Promise<boolean>, maxTries = 10_000): Promise<string> {
  const prefix = base
    .split('/')
    .filter((s) => s !== '')
    .join('/');
  const at = (n: string) => (prefix ? `${prefix}/${n}` : n);
  for (let i = 0; i < maxTries; i++) {
    const candidate = at(i === 0 ? name : `${name}(${i})`);
    if (!(await taken(candidate))) return candidate;
  }
  throw new NonRetriableError(`no free export path for "${name}" under "${prefix}" after ${maxTries} tries`);
}

/** Validates export params with the exporter's own `extraParams` schema; ParamsError lists every problem. */
export function parseExportParams(cls: { extraParams: z.ZodType }, raw: unknown, subject = 'invalid export params'): ExportParams {
  const parsed = exportParamsSchema(cls.extraParams).safeParse(raw ?? {});
  if (parsed.success) return parsed.data as ExportParams;
  throw new ParamsError(subject, zodProblems(parsed.error));
}

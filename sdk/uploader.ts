/**
 * BaseUploader: the seed's upload plugin base (`BaseUploader` of the upload templates). A
 * plugin subclasses it and overrides the hooks it needs; the engine (the upload workflow and
 * its activities) discovers the files, groups them into data units, reads the Excel
 * metadata, then calls `setupDirectories` -> `organizeFiles` -> `beforeProcess` ->
 * `processFiles` -> `afterProcess` -> `validateFiles` once, before anything is uploaded.
 * Uploading files, registering data units, retries and resume are the engine's job. No
 * Temporal here.
 */
import path from 'node:path';
import { z } from 'zod';
import { PathSegmentName, RecordRef } from './params.js';
import { UploadAction } from './category-actions.js';
import { zodProblems } from '../contracts/problems.js';
import { NonRetriableError, ParamsError, type Problem } from '../contracts/errors.js';
import type { RunContext } from './run-context.js';
import { groupIntoUnits, type DiscoveredFile, type UploadUnit } from './upload-units.js';

export type { DiscoveredFile, UploadUnit } from './upload-units.js';

const Ref = RecordRef;
/** A file specification name, as the platform stores them. */
const SPEC_NAME = z.string().regex(/^[a-z0-9_]{1,64}$/, 'a file specification name: 1-64 lowercase letters, digits or "_"');

const AssetSchema = z.strictObject({
  /** The folder of this specification's files (absolute, or relative to `path`). */
  path: z.string().min(1),
  is_recursive: z.boolean().default(true),
});

/** The seed's UploadParams, with `extra_params` validated by `extra` (the uploader's own schema). */
export function uploadParamsSchema<E extends z.ZodType>(extra: E) {
  return z
    .strictObject({
      name: PathSegmentName,
      description: z.string().optional(),
      /** true: every specification's files are in `<path>/<spec name>/`; false: `assets` names a folder per specification. */
      use_single_path: z.boolean().default(true),
      /** The upload root (single-path mode: required; multi-path mode: the base of relative asset paths). */
      path: z.string().min(1).optional(),
      /** Single-path mode: whether sub-folders of each specification folder are searched. */
      is_recursive: z.boolean().default(true),
      /** Multi-path mode: `{spec_name: {path, is_recursive}}`. */
      assets: z.record(SPEC_NAME, AssetSchema).optional(),
      /** Storage id or name (the platform's storages) the files are uploaded to. */
      storage: Ref,
      /** Data collection id or name the data units are registered in. */
      data_collection: Ref,
      project: Ref.optional(),
      /** The Excel metadata file; default `meta.xlsx` in the upload root when it exists. */
      excel_metadata_path: z.string().min(1).optional(),
      /** Files larger than this many MiB are uploaded in parts (S3 multipart). */
      max_file_size_mb: z
        .number()
        .positive()
        .max(5 * 1024)
        .default(50),
      /** Data units registered per database call. */
      creating_data_unit_batch_size: z.number().int().min(1).max(1000).default(100),
      extra_params: extra.prefault({} as never),
    })
    .superRefine((p, ctx) => {
      if (p.use_single_path) {
        if (!p.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'required when use_single_path is true' });
        if (p.assets !== undefined) ctx.addIssue({ code: 'custom', path: ['assets'], message: 'only used when use_single_path is false (multi-path mode)' });
      } else if (!p.assets || Object.keys(p.assets).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['assets'],
          message: 'required when use_single_path is false: {"<spec name>": {"path": "...", "is_recursive": true}}',
        });
      }
    });
}

export const UploadParams = uploadParamsSchema(z.looseObject({}));
export type UploadParams<E = Record<string, unknown>> = Omit<z.infer<typeof UploadParams>, 'extra_params'> & { extra_params: E };

/**
 * Validates upload params with the uploader's own `extraParams` schema; ParamsError lists
 * every problem. Relative paths are resolved against `baseDir` (the directory of the command
 * that starts the run), so the worker gets absolute ones.
 */
export function parseUploadParams(cls: { extraParams: z.ZodType }, raw: unknown, subject = 'invalid upload params', baseDir?: string): UploadParams {
  const parsed = uploadParamsSchema(cls.extraParams).safeParse(raw ?? {});
  if (!parsed.success) throw new ParamsError(subject, zodProblems(parsed.error));
  const p = parsed.data as UploadParams;
  if (baseDir !== undefined && p.path !== undefined) p.path = path.resolve(baseDir, p.path);
  const problems: Problem[] = [];
  if (!p.path) {
    for (const [spec, asset] of Object.entries(p.assets ?? {})) {
      if (!path.isAbsolute(asset.path) && baseDir === undefined)
        problems.push({ path: `assets.${spec}.path`, message: 'a relative asset path needs "path" (the upload root it is taken from)' });
    }
    if (p.excel_metadata_path !== undefined && !path.isAbsolute(p.excel_metadata_path) && baseDir === undefined) {
      problems.push({ path: 'excel_metadata_path', message: 'a relative path needs "path" (the upload root it is taken from)' });
    }
  }
  if (problems.length) throw new ParamsError(subject, problems);
  if (!p.path && baseDir !== undefined) {
    // Without an upload root, relative asset and Excel paths are the caller's.
    for (const asset of Object.values(p.assets ?? {})) asset.path = path.resolve(baseDir, asset.path);
    if (p.excel_metadata_path !== undefined) p.excel_metadata_path = path.resolve(baseDir, p.excel_metadata_path);
  }
  return p;
}

/** A file specification of the target data collection, as the uploader sees it. */
export interface UploadFileSpec {
  name: string;
  required: boolean;
  /** Lower-case with their dot; empty allows any. */
  extensions: string[];
}

/** What `validateFiles` returns: the units to upload, and why others were dropped. */
export interface ValidatedUnits {
  units: UploadUnit[];
  rejected: { key: string; reason: string }[];
}

export abstract class BaseUploader<E = Record<string, unknown>> extends UploadAction<UploadParams<E>, unknown> {
  /** Schema of `extra_params` (the seed's UploadParams subclass fields). */
  static extraParams: z.ZodType = z.looseObject({});

  /**
   * A base whose `static extraParams` is `extra` and whose `this.params.extra_params` is its
   * output type: the extra params declared once.
   * `export class MyUploader extends BaseUploader.withExtraParams(Extra) { ... }`
   */
  static withExtraParams<S extends z.ZodType>(extra: S) {
    // At run time the new class extends the class it was called on (BaseUploader or a subclass).
    const Base = this as unknown as typeof BaseUploader;
    abstract class WithExtraParams extends Base<z.output<S>> {
      static override extraParams = extra;
      static override params: z.ZodType = uploadParamsSchema(extra);
    }
    return WithExtraParams;
  }
  static override params: z.ZodType = UploadParams;

  /** Set by the engine before any hook runs. */
  params!: UploadParams<E>;
  /** The run's context (logs, events); set by the engine. */
  ctx!: RunContext<UploadParams<E>>;
  /** The target collection's file specifications; set by the engine. */
  specs: UploadFileSpec[] = [];
  /** Reads a discovered file's first bytes for `readFile`; set by the engine (the worker reads it, not plugin code). */
  fileReader?: (path: string, maxBytes: number) => Promise<Uint8Array>;

  /**
   * The first `maxBytes` bytes (default 1 MiB, at most 64 MiB) of a file the upload's discovery
   * found, for a hook that needs its content (a hook's plugin host may not read the upload's
   * folders: the worker reads it). Rejects for a file discovery did not find, or before discovery.
   */
  async readFile(file: DiscoveredFile | string, maxBytes = 1024 * 1024): Promise<Uint8Array> {
    if (!this.fileReader) throw new NonRetriableError('readFile() works only while an upload runs, from organizeFiles on');
    return this.fileReader(typeof file === 'string' ? file : file.path, maxBytes);
  }

  /**
   * seed: `get_file_extensions_config()`. The extensions (lower-case, with the dot) accepted
   * for a specification; files with others are skipped and reported. Default: the
   * collection's own list (empty accepts any).
   */
  allowedExtensions(spec: UploadFileSpec): string[] {
    return spec.extensions;
  }

  /** seed: `setup_directories()`. Called first; object storage has no folders, so by default nothing. */
  async setupDirectories(): Promise<void> {}

  /**
   * seed: `organize_files(files)`. Groups the discovered files into data units. Default: by
   * relative parent folder and file stem, the newest file winning a duplicate.
   */
  organizeFiles(files: DiscoveredFile[]): UploadUnit[] | Promise<UploadUnit[]> {
    return groupIntoUnits(files).units;
  }

  /** seed: `before_process(organized_files)`. */
  beforeProcess(units: UploadUnit[]): UploadUnit[] | Promise<UploadUnit[]> {
    return units;
  }

  /** seed: `process_files(organized_files)`. Transforms units (e.g. adds meta); default none. */
  processFiles(units: UploadUnit[]): UploadUnit[] | Promise<UploadUnit[]> {
    return units;
  }

  /** seed: `after_process(processed_files)`. */
  afterProcess(units: UploadUnit[]): UploadUnit[] | Promise<UploadUnit[]> {
    return units;
  }

  /**
   * seed: `validate_files(files)`. The last check before uploading: returns the units to
   * upload and the rejected ones with a reason. Default: every unit must carry each required
   * specification with an allowed extension.
   */
  validateFiles(units: UploadUnit[]): ValidatedUnits | Promise<ValidatedUnits> {
    const rejected: ValidatedUnits['rejected'] = [];
    const ok: UploadUnit[] = [];
    for (const unit of units) {
      const reason = this.unitProblem(unit);
      if (reason) rejected.push({ key: unit.key, reason });
      else ok.push(unit);
    }
    return { units: ok, rejected };
  }

  /** Why a unit cannot be registered in the collection, or undefined. */
  unitProblem(unit: UploadUnit): string | undefined {
    for (const spec of this.specs) {
      const file = unit.files[spec.name];
      if (!file) {
        if (spec.required) return `required file "${spec.name}" is missing`;
        continue;
      }
      const allowed = this.allowedExtensions(spec);
      const ext = path.extname(file.name).toLowerCase();
      if (allowed.length > 0 && !allowed.includes(ext))
        return `extension "${ext || '(none)'}" of ${file.name} is not allowed for "${spec.name}" (allowed: ${allowed.join(', ')})`;
    }
    const unknown = Object.keys(unit.files).filter((n) => !this.specs.some((s) => s.name === n));
    if (unknown.length) return `the collection has no file specification ${unknown.map((n) => `"${n}"`).join(', ')}`;
    return undefined;
  }

  /** Uploads run as the upload workflow (discover, batches, data units), not through `start`. */
  async start(_ctx: RunContext<UploadParams<E>>): Promise<unknown> {
    throw new NonRetriableError(
      'an uploader runs as the upload workflow: start it with a worker (`synapse plugin run upload <params> --plugin <plugin>`), not --debug',
    );
  }
}

export function isUploaderClass(value: unknown): value is typeof BaseUploader {
  return typeof value === 'function' && value.prototype instanceof BaseUploader;
}

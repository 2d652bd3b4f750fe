/**
 * The upload shape's host runners (see plugin-host-runner.ts): an uploader's hooks run here,
 * inside the plugin host, never in the worker (issue 18).
 *
 * `upload-organize` is the whole plugin part of an upload's discover step, in one call, so the
 * hooks share one instance as they did in the worker: the step's params (the host parser
 * `upload`: parseUploadParams with the uploader's own `extraParams`, the worker's parse
 * before hosts), then `setupDirectories` -> `allowedExtensions` (per specification) -> the
 * worker's discovery -> `organizeFiles` -> the worker's Excel metadata -> `beforeProcess` ->
 * `processFiles` -> `afterProcess` -> `validateFiles`, whose result is the runner's.
 *
 * What needs the server's folders stays in the worker (the host may read only its bundle and
 * its plugin folder): walking the asset roots and reading the Excel file are calls to the
 * worker object the step offers as target `upload` (UploadWorkerTarget); a hook that needs a
 * file's bytes calls `this.readFile(file)`, a bounded read by the worker (target `files`,
 * discovered files only). What the runner returns is untrusted in the worker:
 * activities/upload.ts parses it with zod and refuses a unit naming a file its discovery did
 * not find.
 *
 * Bundled into every plugin host: imports the SDK only.
 */
import type { BaseUploader, DiscoveredFile, UploadFileSpec, UploadParams, UploadUnit, ValidatedUnits } from '../sdk/uploader.js';
import type { RunContext } from '../sdk/run-context.js';
import type { HostRunner, Remote } from './plugin-host-runner.js';

/** The runner's name (`host.run(UPLOAD_ORGANIZE, [args], { targets: { upload } })`). */
export const UPLOAD_ORGANIZE = 'upload-organize';

/** What the discover step offers the runner as target `upload`: the parts that read the server's files. */
export interface UploadWorkerTarget {
  /**
   * Walks the upload's asset folders, keeping per specification the files whose extension is
   * in `extensions[spec]` (lower-case with the dot; empty keeps any). Once per step.
   * Resolves with the files found (sorted as discovery sorts them).
   */
  discover(extensions: Record<string, string[]>): Promise<DiscoveredFile[]>;
  /**
   * The units with their Excel row's values merged under each unit's own `meta` (the upload's
   * Excel file: `excel_metadata_path`, or `meta.xlsx` in the root); the units as given without
   * one. Rejects with the Excel file's problem (InvalidInputError) or a unit's shape.
   */
  withMetadata(units: UploadUnit[]): Promise<UploadUnit[]>;
}

/** What the discover step offers the runner as target `files`: bounded reads for BaseUploader.readFile. */
export interface UploadFilesTarget {
  /**
   * The first `maxBytes` bytes (at most 64 MiB) of `path`, a file this step's discovery found.
   * Rejects (NonRetriableError) for any other path, or before discovery.
   */
  read(path: string, maxBytes: number): Promise<Uint8Array>;
}

/** The runner's one argument. */
export interface UploadOrganizeArgs {
  /** The target data collection's file specifications. */
  specs: UploadFileSpec[];
}

type UploaderConstructor = new () => BaseUploader;

/**
 * The plugin part of a discover step: the uploader's hooks around the worker's discovery and
 * metadata (see the header), on one instance whose `params` are `params` (the step's, parsed
 * by the `upload` parser: parseUploadParams with the uploader's `extraParams`). Resolves with
 * what `validateFiles` returned; throws whatever a hook or a worker call throws. Also what a
 * worker runs for an uploader that loaded without a host (not TypeScript).
 */
export async function organizeUpload(
  cls: unknown,
  params: unknown,
  args: UploadOrganizeArgs,
  ctx: RunContext,
  worker: Remote<UploadWorkerTarget> | UploadWorkerTarget,
  reader: Remote<UploadFilesTarget> | UploadFilesTarget,
): Promise<ValidatedUnits> {
  const uploader = new (cls as UploaderConstructor)();
  uploader.params = params as UploadParams;
  uploader.ctx = ctx as BaseUploader['ctx'];
  uploader.specs = args.specs.map((s) => ({ name: s.name, required: s.required, extensions: [...s.extensions] }));
  uploader.fileReader = (path, maxBytes) => reader.read(path, maxBytes);
  await uploader.setupDirectories();
  const extensions: Record<string, string[]> = {};
  for (const spec of uploader.specs) extensions[spec.name] = uploader.allowedExtensions(spec).map((e) => String(e).toLowerCase());
  const files = await worker.discover(extensions);
  let units = await uploader.organizeFiles(files);
  // Excel metadata: before the process hooks, so they can see and change it.
  units = await worker.withMetadata(units);
  units = await uploader.beforeProcess(units);
  units = await uploader.processFiles(units);
  units = await uploader.afterProcess(units);
  return uploader.validateFiles(units);
}

const organize: HostRunner = async ({ action, params, ctx, args, remote }) =>
  organizeUpload(action.cls, params, args[0] as UploadOrganizeArgs, ctx, remote<UploadWorkerTarget>('upload'), remote<UploadFilesTarget>('files'));

export const UPLOAD_RUNNERS: Record<string, HostRunner> = { [UPLOAD_ORGANIZE]: organize };

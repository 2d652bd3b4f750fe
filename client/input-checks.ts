/**
 * Checks of paths in params that both edges (the CLI and the gateway) run before a run
 * exists, so that a bad path is a params error (exit 2, HTTP 400) naming its field, never a
 * run that fails later, and so that an HTTP caller cannot make a worker read server files.
 *
 * - Export `path`: a folder in the storage; the storage-key rules (storage/safe-key.ts)
 *   apply: no `..` or `.` segments, NUL, control characters or backslashes. A leading `/`
 *   means the storage root, as it always has.
 * - Upload sources (`path`, `assets.<spec>.path`, `excel_metadata_path`): never NUL or control
 *   characters. A local caller (the CLI) may name any folder of their own machine. A caller
 *   over HTTP may name only absolute folders under the upload roots the gateway declares
 *   (SYNAPSE_UPLOAD_ROOTS, folders separated by the platform's path delimiter, `:` on Linux);
 *   with none declared, no local folder at all. The answer does not depend on whether the path
 *   exists (no existence oracle); a symlink under a root that leads out of it is refused the
 *   same way.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Problem } from '../contracts/errors.js';
import { localPathProblems } from '../contracts/input-limits.js';
import { keyProblems } from '../storage/safe-key.js';

/** The environment variable naming the folders uploads over HTTP may read from. */
export const UPLOAD_ROOTS_ENV = 'SYNAPSE_UPLOAD_ROOTS';

/** The declared upload roots (absolute, resolved); empty when none are declared. */
export function uploadRootsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[UPLOAD_ROOTS_ENV] ?? '')
    .split(path.delimiter)
    .filter((d) => d.trim() !== '')
    .map((d) => path.resolve(d));
}

/** Problems of an export's `path` (a folder in the storage), each at path `path`. */
export function checkExportPath(value: string): Problem[] {
  const key = value.replace(/^\/+/, '').replace(/\/+$/, '');
  return keyProblems(key, { prefix: true }).map((message) => ({ path: 'path', message }));
}

/** The source fields of upload params this check reads. */
export interface UploadSources {
  path?: string | undefined;
  assets?: Readonly<Record<string, { path: string }>> | undefined;
  excel_metadata_path?: string | undefined;
}

/**
 * Problems of upload sources, each naming its field. `roots` undefined: a local caller, any
 * folder; otherwise (HTTP) every source must be absolute, or relative to an absolute `path`,
 * and lie under one of `roots`.
 */
export function checkUploadSources(params: UploadSources, roots: readonly string[] | undefined): Problem[] {
  const sources: { field: string; value: string; relativeTo?: string }[] = [];
  if (params.path !== undefined) sources.push({ field: 'path', value: params.path });
  for (const [spec, asset] of Object.entries(params.assets ?? {})) {
    sources.push({ field: `assets.${spec}.path`, value: asset.path, ...(params.path !== undefined ? { relativeTo: params.path } : {}) });
  }
  if (params.excel_metadata_path !== undefined) {
    sources.push({ field: 'excel_metadata_path', value: params.excel_metadata_path, ...(params.path !== undefined ? { relativeTo: params.path } : {}) });
  }
  const problems: Problem[] = [];
  const clean: typeof sources = [];
  for (const s of sources) {
    const bad = localPathProblems(s.value);
    problems.push(...bad.map((message) => ({ path: s.field, message })));
    if (bad.length === 0) clean.push(s);
  }
  if (roots === undefined) return problems;
  const realRoots = roots.map((r) => realOrSelf(path.resolve(r)));
  for (const s of clean) {
    if (roots.length === 0) {
      problems.push({
        path: s.field,
        message: `uploads over HTTP read only from declared upload roots, and none are declared (set ${UPLOAD_ROOTS_ENV} on the gateway to the folders it may read)`,
      });
      continue;
    }
    const base = s.relativeTo !== undefined && path.isAbsolute(s.relativeTo) ? s.relativeTo : undefined;
    if (!path.isAbsolute(s.value) && base === undefined) {
      problems.push({ path: s.field, message: `must be an absolute folder under a declared upload root (${roots.join(', ')}); over HTTP nothing is relative` });
      continue;
    }
    const resolved = path.resolve(base ?? '/', s.value);
    // Lexically inside, and, where it exists, still inside once symlinks are followed. Both
    // failures read the same, so the answer tells nothing about what exists outside the roots.
    const inside = roots.some((r) => isInside(path.resolve(r), resolved)) && realRoots.some((r) => isInside(r, realOrSelf(resolved)));
    if (!inside) problems.push({ path: s.field, message: `${JSON.stringify(s.value)} is not under a declared upload root (${roots.join(', ')})` });
  }
  return problems;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** The path with symlinks followed; the nearest existing ancestor's for a path that does not exist yet. */
function realOrSelf(p: string): string {
  let rest = '';
  let at = p;
  for (;;) {
    try {
      return path.join(realpathSync(at), rest);
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return p;
      rest = path.join(path.basename(at), rest);
      at = parent;
    }
  }
}

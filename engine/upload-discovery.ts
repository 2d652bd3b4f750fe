/**
 * Finding an upload's files and grouping them into data units (the seed's multi-path mode,
 * per-asset recursive discovery and file organisation). Pure file-system reads, no Temporal.
 *
 * - Single-path mode: each specification's files are in `<root>/<spec name>/`.
 *   Multi-path mode: each specification names its own folder (`assets`).
 * - Recursive or flat per folder; system folders and files (`@eaDir`, `#recycle`,
 *   `.DS_Store`, `Thumbs.db`, anything hidden) are skipped.
 * - Every folder and file is resolved (symlinks included) and must stay inside its root:
 *   a path that escapes is an InvalidInputError naming it, before anything is uploaded.
 * - Files group into a data unit by relative parent folder and stem (`a/b/x.jpg` and
 *   `a/b/x.json` are unit `a/b/x`); of two files of one specification in one unit the
 *   newest wins.
 * - Names (relative path, file name, so unit keys) are given in Unicode NFC, whatever form
 *   the file system holds (macOS writes NFD); the absolute `path` stays as on disk.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidInputError, type Problem } from '../contracts/errors.js';
import type { DiscoveredFile } from '../sdk/upload-units.js';

export { groupIntoUnits, stemOf, type DiscoveredFile, type UploadUnit } from '../sdk/upload-units.js';

/** Folders and files that NAS boxes and desktops leave behind; never uploaded. */
export const SYSTEM_NAMES = new Set(['@eaDir', '#recycle', '#snapshot', '.DS_Store', 'Thumbs.db', 'desktop.ini', '$RECYCLE.BIN', 'System Volume Information']);

export function isSystemName(name: string): boolean {
  return name.startsWith('.') || SYSTEM_NAMES.has(name);
}

/** One folder to search: a specification's files. */
export interface AssetRoot {
  spec: string;
  /** Absolute folder. */
  dir: string;
  recursive: boolean;
  /** The params field that named it, for errors (`path`, `assets.image.path`). */
  field: string;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface DiscoverOptions {
  /** Allowed extensions (lower-case, with the dot) of a specification; empty allows any. */
  allowedExtensions(spec: string): string[];
  /** Called every few hundred entries (heartbeats). */
  onProgress?(seen: number): void;
}

export interface Discovery {
  files: DiscoveredFile[];
  /** Files not taken, with why (extension not allowed, not a regular file). */
  skipped: SkippedFile[];
  /** System and hidden entries passed over. */
  systemSkipped: number;
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

async function real(p: string, field: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidInputError('cannot read the upload files', [
      { path: field, message: code === 'ENOENT' ? `${p} does not exist` : `cannot open ${p} (${code ?? 'error'})` },
    ]);
  }
}

/**
 * Resolves `target` (absolute, or relative to `root`) with symlinks and checks that it stays
 * inside the resolved `root`; InvalidInputError naming `field` otherwise.
 */
export async function resolveInside(root: string, target: string, field: string): Promise<string> {
  const realRoot = await real(root, field);
  const joined = path.resolve(root, target);
  if (!isInside(path.resolve(root), joined)) {
    throw new InvalidInputError('unsafe upload path', [{ path: field, message: `${JSON.stringify(target)} escapes the upload root ${root}` }]);
  }
  const resolved = await real(joined, field);
  if (!isInside(realRoot, resolved)) {
    throw new InvalidInputError('unsafe upload path', [
      { path: field, message: `${JSON.stringify(target)} resolves to ${resolved}, outside the upload root ${realRoot} (a symlink?)` },
    ]);
  }
  return resolved;
}

/** Every file of every root, in a stable order (root order, then path). */
export async function discoverFiles(roots: readonly AssetRoot[], options: DiscoverOptions): Promise<Discovery> {
  const files: DiscoveredFile[] = [];
  const skipped: SkippedFile[] = [];
  let systemSkipped = 0;
  let seen = 0;
  for (const root of roots) {
    const realRoot = await real(root.dir, root.field);
    const rootStat = await stat(realRoot);
    if (!rootStat.isDirectory()) {
      throw new InvalidInputError('cannot read the upload files', [{ path: root.field, message: `${root.dir} is not a folder` }]);
    }
    const allowed = options.allowedExtensions(root.spec);
    // Real paths of folders walked, so that a symlink loop is walked once.
    const visited = new Set<string>([realRoot]);
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (++seen % 500 === 0) options.onProgress?.(seen);
        if (isSystemName(entry.name)) {
          systemSkipped++;
          continue;
        }
        const full = path.join(dir, entry.name);
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        let target = full;
        let isDir = entry.isDirectory();
        let isFile = entry.isFile();
        if (entry.isSymbolicLink()) {
          // A link is followed only when it stays inside the root: anything else is an error,
          // not a silent skip, so nobody uploads /etc by a stray link.
          try {
            target = await realpath(full);
          } catch {
            skipped.push({ path: full, reason: 'a broken symlink' });
            continue;
          }
          if (!isInside(realRoot, target)) {
            throw new InvalidInputError('unsafe upload path', [
              { path: root.field, message: `${full} is a symlink to ${target}, outside the upload root ${realRoot}` },
            ]);
          }
          const s = await stat(target);
          isDir = s.isDirectory();
          isFile = s.isFile();
        }
        if (isDir) {
          if (!root.recursive || visited.has(target)) continue;
          visited.add(target);
          await walk(target, relPath);
          continue;
        }
        if (!isFile) {
          skipped.push({ path: full, reason: 'not a regular file' });
          continue;
        }
        const ext = path.extname(entry.name).toLowerCase();
        if (allowed.length > 0 && !allowed.includes(ext)) {
          skipped.push({ path: full, reason: `extension "${ext || '(none)'}" is not allowed for "${root.spec}" (allowed: ${allowed.join(', ')})` });
          continue;
        }
        const s = await lstat(target);
        // `target` reads the file as the disk spells it; the names compare in one form (NFC).
        files.push({
          spec: root.spec,
          path: target,
          relativePath: relPath.normalize('NFC'),
          name: entry.name.normalize('NFC'),
          size: s.size,
          mtimeMs: Math.floor(s.mtimeMs),
        });
      }
    };
    await walk(realRoot, '');
  }
  return { files, skipped, systemSkipped };
}

/** The folders to search, from the params, each checked to stay inside its root. */
export async function assetRoots(
  params: {
    use_single_path: boolean;
    path?: string | undefined;
    is_recursive: boolean;
    assets?: Record<string, { path: string; is_recursive: boolean }> | undefined;
  },
  specs: readonly { name: string; required: boolean }[],
): Promise<AssetRoot[]> {
  const problems: Problem[] = [];
  const roots: AssetRoot[] = [];
  if (params.use_single_path) {
    const root = params.path as string;
    const realRoot = await real(root, 'path');
    for (const spec of specs) {
      const dir = path.join(root, spec.name);
      let exists = true;
      try {
        await lstat(dir);
      } catch {
        exists = false;
      }
      if (!exists) {
        if (spec.required) problems.push({ path: 'path', message: `no folder "${spec.name}" in ${root} for the required file specification "${spec.name}"` });
        continue;
      }
      roots.push({ spec: spec.name, dir: await resolveInside(realRoot, spec.name, 'path'), recursive: params.is_recursive, field: 'path' });
    }
  } else {
    const assets = params.assets ?? {};
    for (const name of Object.keys(assets)) {
      if (!specs.some((s) => s.name === name)) {
        problems.push({
          path: `assets.${name}`,
          message: `the data collection has no file specification "${name}" (it has ${specs.map((s) => s.name).join(', ')})`,
        });
      }
    }
    for (const spec of specs) {
      const asset = assets[spec.name];
      if (!asset) {
        if (spec.required) problems.push({ path: `assets.${spec.name}`, message: `required file specification "${spec.name}" has no asset path` });
        continue;
      }
      const field = `assets.${spec.name}.path`;
      const dir = params.path && !path.isAbsolute(asset.path) ? await resolveInside(params.path, asset.path, field) : await real(asset.path, field);
      roots.push({ spec: spec.name, dir, recursive: asset.is_recursive, field });
    }
  }
  if (problems.length) throw new InvalidInputError('cannot upload', problems);
  return roots;
}

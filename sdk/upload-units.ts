/**
 * Upload units as a plugin author sees them: the files found for one data unit, and the
 * default grouping (relative parent folder + stem) that `BaseUploader.organizeFiles` uses.
 * Pure data and functions: finding the files on disk is the engine's (engine/upload-discovery.ts).
 *
 * Names are Unicode NFC everywhere but in `path`: macOS writes `café.png` decomposed (NFD),
 * Linux and Windows usually composed (NFC), and the same file from any OS must be one data
 * unit under one key, matching one Excel row. `path` stays as the file system spells it, to
 * read the file.
 */
import path from 'node:path';

export interface DiscoveredFile {
  /** The file specification it belongs to. */
  spec: string;
  /** Absolute path, symlinks resolved, exactly as on disk (what reads the file). */
  path: string;
  /** Path relative to its specification's folder, with "/" separators, in Unicode NFC. */
  relativePath: string;
  /** File name with extension, in Unicode NFC. */
  name: string;
  size: number;
  mtimeMs: number;
}

export interface UploadUnit {
  /** Relative parent folder and stem: `a/b/x`, in Unicode NFC. */
  key: string;
  stem: string;
  /** One file per specification name. */
  files: Record<string, DiscoveredFile>;
  /** Metadata: the Excel row's strings, filled by the engine before the plugin's process hooks (which may add any JSON). */
  meta: Record<string, unknown>;
  /** Relative paths of older duplicates this unit's files replaced. */
  replaced?: string[];
}

/** `name` without its last extension (`x.tar.gz` -> `x.tar`; `.env` stays `.env`). */
export function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * Groups files into units by relative parent + stem, compared and keyed in Unicode NFC (two
 * files whose names differ only in normalisation are one unit); of duplicates (same unit,
 * same spec) the newest wins.
 */
export function groupIntoUnits(files: readonly DiscoveredFile[]): { units: UploadUnit[] } {
  const units = new Map<string, UploadUnit>();
  for (const file of files) {
    const parent = path.posix.dirname(file.relativePath.normalize('NFC'));
    const stem = stemOf(file.name.normalize('NFC'));
    const key = parent === '.' ? stem : `${parent}/${stem}`;
    let unit = units.get(key);
    if (!unit) {
      unit = { key, stem, files: {}, meta: {} };
      units.set(key, unit);
    }
    const current = unit.files[file.spec];
    if (!current) {
      unit.files[file.spec] = file;
      continue;
    }
    // Newest wins; on equal times the name that sorts last, so the choice is stable.
    const newer = file.mtimeMs > current.mtimeMs || (file.mtimeMs === current.mtimeMs && file.relativePath > current.relativePath);
    const [keep, drop] = newer ? [file, current] : [current, file];
    unit.files[file.spec] = keep;
    (unit.replaced ??= []).push(`${drop.spec}/${drop.relativePath}`);
  }
  return { units: [...units.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
}

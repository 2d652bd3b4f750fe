/**
 * Plugin release archives: a small, strict ustar + gzip writer and reader (node:zlib only).
 *
 * Writing is deterministic so that a checksum names the content: the same files give the
 * same bytes (entries sorted by path, mtime/uid/gid fixed, owner names empty, modes reduced
 * to 0644/0755, gzip header with mtime 0 and a fixed OS byte).
 *
 * Reading assumes a hostile archive. Everything is validated before anything is written:
 * only regular files and directories; no absolute paths, `..`/`.` or empty segments,
 * backslashes, NUL or control characters; no links, devices or extended headers; no
 * duplicate entries (also not ones differing only by case or Unicode form, which collide on
 * some file systems); at most `maxEntries`, `maxEntryBytes` each and `maxTotalBytes` in all;
 * and the gzip stream is inflated with a hard output cap (bytes are counted while inflating,
 * declared sizes are never trusted) that also bounds the compression ratio.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzipSync } from 'node:zlib';
import ignore, { type Ignore } from 'ignore';
import { keyProblems } from '../storage/safe-key.js';
import { InvalidInputError } from '../contracts/errors.js';

const gunzip = promisify(gunzipCb);

export interface ArchiveLimits {
  /** Entries (files and directories) in one archive. */
  maxEntries: number;
  /** Uncompressed bytes of one file. */
  maxEntryBytes: number;
  /** Uncompressed bytes of all files together (also caps the compressed archive). */
  maxTotalBytes: number;
  /** Most uncompressed bytes per compressed byte, once past `ratioFloorBytes`. */
  maxRatio: number;
  /** Inflating up to this many bytes is always allowed, whatever the ratio (tiny archives of text compress well). */
  ratioFloorBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxEntries: 10_000,
  maxEntryBytes: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxRatio: 200,
  ratioFloorBytes: 1024 * 1024,
});

/** Folders and files never published: installed dependencies, VCS data, caches. */
export const EXCLUDED_NAMES: ReadonlySet<string> = new Set(['node_modules', '.git', '__pycache__', '.venv', '.DS_Store']);

/**
 * Names that hold secrets, never published at any depth, whatever `.synapseignore` says:
 * `.env` and `.env.*`, package-registry credentials, SSH keys, and key or certificate-bundle files.
 */
export function isSecretName(name: string): boolean {
  return (
    name === '.env' ||
    name.startsWith('.env.') ||
    ['.npmrc', '.pypirc', '.netrc', '.git-credentials', 'credentials.json', 'secrets.json'].includes(name) ||
    /^id_(rsa|dsa|ecdsa|ed25519)(_sk)?(\..*)?$/.test(name) ||
    /\.(pem|key|p12|pfx|jks|keystore)$/i.test(name)
  );
}

/** The plugin author's own exclusions, in gitignore syntax, read from the plugin folder. */
export const IGNORE_FILE = '.synapseignore';

/** The cache marker written into an extracted release; never published. */
export const RELEASE_MARKER = '.synapse-release.json';

export interface ArchiveEntry {
  /** `/`-separated path relative to the plugin folder (no trailing `/` for directories). */
  path: string;
  type: 'file' | 'dir';
  /** 0o644 or 0o755. */
  mode: number;
  data: Buffer;
}

/** An archive that is unsafe or malformed; names the archive and the entry. Exit 2. */
export class ArchiveError extends InvalidInputError {
  constructor(archive: string, entry: string, message: string) {
    super(`unsafe or malformed plugin archive ${archive}`, [{ path: entry, message }]);
  }
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const BLOCK = 512;
/** A fixed modification time for every entry (2000-01-01T00:00:00Z): tools warn about 0. */
const FIXED_MTIME = 946_684_800;
/** gzip's OS byte: 3 (Unix) everywhere, so macOS zlib (19) gives the same bytes. */
const GZIP_OS_UNIX = 3;

// ----- writing ----------------------------------------------------------------------------

/** What a plugin folder publishes: the entries, and what was left out (folders as one path). */
export interface CollectedFiles {
  entries: ArchiveEntry[];
  /** `/`-separated paths left out by the secret rules, EXCLUDED_NAMES or `.synapseignore`, sorted. */
  excluded: string[];
}

/**
 * The files of a plugin folder, sorted by path, as archive entries. Skips, at any depth,
 * EXCLUDED_NAMES, secrets (isSecretName) and what `.synapseignore` in the folder names
 * (gitignore syntax), and the release marker; refuses links and special files (an archive may
 * hold only what extraction accepts) and anything over the limits.
 */
export async function collectPluginFiles(dir: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<CollectedFiles> {
  const root = path.resolve(dir);
  const entries: ArchiveEntry[] = [];
  const excluded: string[] = [];
  let total = 0;
  const refuse = (rel: string, message: string): never => {
    throw new InvalidInputError(`cannot archive ${root}`, [{ path: rel, message }]);
  };
  const ignored = await readIgnoreFile(root);
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      if (rel === '' && name === RELEASE_MARKER) continue;
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = path.join(abs, name);
      const st = await lstat(childAbs);
      if (EXCLUDED_NAMES.has(name) || isSecretName(name) || ignored.ignores(st.isDirectory() ? `${childRel}/` : childRel)) {
        excluded.push(childRel);
        continue;
      }
      if (st.isSymbolicLink()) refuse(childRel, 'is a symbolic link; archives hold regular files only (copy the file in)');
      if (st.isDirectory()) {
        await walk(childAbs, childRel);
        continue;
      }
      if (!st.isFile()) refuse(childRel, 'is not a regular file');
      const problems = keyProblems(childRel);
      if (problems.length) refuse(childRel, problems.join('; '));
      if (entries.length + 1 > limits.maxEntries) refuse(childRel, `more than ${limits.maxEntries} files`);
      if (st.size > limits.maxEntryBytes) refuse(childRel, `${st.size} bytes, over the ${limits.maxEntryBytes}-byte limit per file`);
      total += st.size;
      if (total > limits.maxTotalBytes) refuse(childRel, `the files add up to more than ${limits.maxTotalBytes} bytes`);
      entries.push({ path: childRel, type: 'file', mode: st.mode & 0o100 ? 0o755 : 0o644, data: await readFile(childAbs) });
    }
  };
  await walk(root, '');
  return { entries: entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), excluded: excluded.sort() };
}

/** `.synapseignore` of a plugin folder as a matcher; one that matches nothing when there is none. */
async function readIgnoreFile(root: string): Promise<Ignore> {
  const matcher = ignore();
  const file = path.join(root, IGNORE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return matcher;
    throw new InvalidInputError(`cannot read ${file}`, [{ path: IGNORE_FILE, message: (err as Error).message }]);
  }
  return matcher.add(text);
}

/** A deterministic ustar + gzip archive of `entries` (sorted here again, so order never matters). */
export function packTarGz(entries: readonly ArchiveEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    const size = e.type === 'file' ? e.data.length : 0;
    parts.push(tarHeader(e.type === 'dir' ? `${e.path}/` : e.path, e.type === 'dir' ? '5' : '0', e.type === 'dir' ? 0o755 : e.mode, size));
    if (size > 0) {
      parts.push(e.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  const gz = gzipSync(Buffer.concat(parts), { level: 9 });
  gz[9] = GZIP_OS_UNIX;
  return gz;
}

/** Archives a plugin folder; returns the bytes, their sha256, the paths inside and the paths left out (collectPluginFiles). */
export async function packPluginDir(
  dir: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<{ archive: Buffer; sha256: string; files: string[]; excluded: string[] }> {
  const { entries, excluded } = await collectPluginFiles(dir, limits);
  const archive = packTarGz(entries);
  return { archive, sha256: sha256(archive), files: entries.map((e) => e.path), excluded };
}

function tarHeader(name: string, type: '0' | '5', mode: number, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { prefix, base } = splitName(name);
  h.write(base, 0, 100, 'utf8');
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, FIXED_MTIME);
  h.write('        ', 148, 8, 'latin1');
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

/** ustar keeps names up to 100 bytes, or a prefix (155) + `/` + name (100). */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  const trailing = name.endsWith('/') ? '/' : '';
  const body = trailing ? name.slice(0, -1) : name;
  for (let i = body.indexOf('/'); i !== -1; i = body.indexOf('/', i + 1)) {
    const prefix = body.slice(0, i);
    const base = body.slice(i + 1) + trailing;
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new InvalidInputError('cannot archive the plugin', [
    { path: name, message: 'path too long for a ustar archive (at most 155 + 100 bytes, split at a "/")' },
  ]);
}

function writeOctal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

// ----- reading ----------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Inflates and validates a release archive completely, in memory, and returns its entries.
 * Throws ArchiveError naming the archive (`name`) and the first offending entry.
 */
export async function readTarGz(archive: Buffer, name: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ArchiveEntry[]> {
  const fail = (entry: string, message: string): never => {
    throw new ArchiveError(name, entry, message);
  };
  if (archive.length > limits.maxTotalBytes) fail('', `the archive is ${archive.length} bytes, over the ${limits.maxTotalBytes}-byte limit`);
  // The tar stream may hold the files plus one header (and up to one block of padding) per
  // entry and the end marker; the ratio cap bounds what a small archive may expand into.
  const sizeCap = limits.maxTotalBytes + (limits.maxEntries + 2) * BLOCK * 2;
  const ratioCap = Math.max(limits.ratioFloorBytes, archive.length * limits.maxRatio);
  const cap = Math.min(sizeCap, ratioCap);
  let tar: Buffer;
  try {
    tar = await gunzip(archive, { maxOutputLength: cap });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      fail(
        '',
        ratioCap < sizeCap
          ? `inflates to more than ${cap} bytes from ${archive.length} (over ${limits.maxRatio}:1): refusing a likely decompression bomb`
          : `inflates to more than ${cap} bytes`,
      );
    }
    fail('', `not a valid gzip stream: ${(err as Error).message}`);
  }

  const entries: ArchiveEntry[] = [];
  const seen = new Map<string, string>(); // folded path -> path as written
  let total = 0;
  let offset = 0;
  let ended = false;
  while (offset + BLOCK <= tar!.length) {
    const h = tar!.subarray(offset, offset + BLOCK);
    if (isZero(h)) {
      const next = tar!.subarray(offset + BLOCK, offset + 2 * BLOCK);
      if (next.length !== BLOCK || !isZero(next)) fail(`block ${offset / BLOCK}`, 'a lone zero block: the end-of-archive marker is two zero blocks');
      if (!isZero(tar!.subarray(offset + 2 * BLOCK))) fail(`block ${offset / BLOCK + 2}`, 'data after the end-of-archive marker');
      ended = true;
      break;
    }
    const where = `entry ${entries.length + 1}`;
    const rawName = field(h, 0, 100, where, 'name', fail);
    const rawPrefix = field(h, 345, 155, where, 'prefix', fail);
    const entryName = rawPrefix ? `${rawPrefix}/${rawName}` : rawName;
    const label = entryName ? JSON.stringify(entryName) : where;
    if (readOctal(h, 148, 8, label, 'checksum', fail) !== headerSum(h)) fail(label, 'header checksum mismatch (corrupt or forged header)');
    const magic = h.subarray(257, 265).toString('latin1');
    if (magic !== 'ustar\u000000' && magic !== 'ustar  \u0000') fail(label, 'not a ustar header');
    const type = String.fromCharCode(h[156] ?? 0);
    const kind: ArchiveEntry['type'] =
      type === '0' || type === '\0'
        ? 'file'
        : type === '5'
          ? 'dir'
          : fail(label, `${TYPE_NAMES[type] ?? `entry type ${JSON.stringify(type)}`} not allowed: only regular files and directories`);
    const size = readOctal(h, 124, 12, label, 'size', fail);
    let entryPath = entryName;
    if (kind === 'dir') {
      if (size !== 0) fail(label, 'a directory entry with data');
      if (entryPath.endsWith('/')) entryPath = entryPath.slice(0, -1);
    }
    const problems = keyProblems(entryPath);
    if (problems.length) fail(label, problems.join('; '));
    if (entries.length + 1 > limits.maxEntries) fail(label, `more than ${limits.maxEntries} entries`);
    if (size > limits.maxEntryBytes) fail(label, `${size} bytes, over the ${limits.maxEntryBytes}-byte limit per file`);
    total += size;
    if (total > limits.maxTotalBytes) fail(label, `the files add up to more than ${limits.maxTotalBytes} bytes`);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar!.length) fail(label, 'truncated: the archive ends inside this entry');
    const folded = entryPath.normalize('NFC').toLowerCase();
    const clash = seen.get(folded);
    if (clash !== undefined)
      fail(label, clash === entryPath ? 'duplicate entry' : `duplicate entry: collides with ${JSON.stringify(clash)} (case or Unicode form)`);
    seen.set(folded, entryPath);
    const mode = readOctal(h, 100, 8, label, 'mode', fail);
    entries.push({
      path: entryPath,
      type: kind,
      mode: kind === 'dir' || mode & 0o100 ? 0o755 : 0o644,
      data: kind === 'file' ? Buffer.from(tar!.subarray(dataStart, dataEnd)) : Buffer.alloc(0),
    });
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (!ended) fail('', 'truncated: no end-of-archive marker');
  // A file may not also be a folder of another entry ("a" and "a/b"): one would overwrite the other.
  const kinds = new Map(entries.map((e) => [e.path.normalize('NFC').toLowerCase(), e.type]));
  for (const e of entries) {
    const segments = e.path.normalize('NFC').toLowerCase().split('/');
    for (let i = 1; i < segments.length; i++) {
      if (kinds.get(segments.slice(0, i).join('/')) === 'file')
        fail(JSON.stringify(e.path), `its parent ${JSON.stringify(segments.slice(0, i).join('/'))} is a file in the archive`);
    }
  }
  return entries;
}

/**
 * Writes validated entries into `dest`, which must not exist yet (its parent must): the
 * caller extracts into a fresh temp folder and renames it into place. Files are created
 * exclusively (`wx`), so nothing already there is followed or overwritten.
 */
export async function writeEntries(entries: readonly ArchiveEntry[], dest: string): Promise<void> {
  const root = path.resolve(dest);
  await mkdir(root, { mode: 0o755 });
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const target = path.resolve(root, ...e.path.split('/'));
    if (!target.startsWith(root + path.sep)) throw new ArchiveError(root, e.path, 'resolves outside the extraction folder');
    if (e.type === 'dir') {
      await mkdir(target, { recursive: true, mode: 0o755 });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    const handle = await open(target, 'wx', e.mode);
    try {
      await handle.writeFile(e.data);
    } finally {
      await handle.close();
    }
  }
}

/** readTarGz then writeEntries: validates everything first, so a bad archive writes nothing. */
export async function extractTarGz(archive: Buffer, name: string, dest: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ArchiveEntry[]> {
  const entries = await readTarGz(archive, name, limits);
  await writeEntries(entries, dest);
  return entries;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  x: 'a pax extended header',
  g: 'a pax global header',
  L: 'a GNU long name',
  K: 'a GNU long link name',
};

function isZero(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0) return false;
  return true;
}

function headerSum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
  return sum;
}

type Fail = (entry: string, message: string) => never;

/** A NUL-terminated text field; a NUL followed by more text, or invalid UTF-8, is refused. */
function field(h: Buffer, offset: number, length: number, where: string, what: string, fail: Fail): string {
  const raw = h.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  const text = nul === -1 ? raw : raw.subarray(0, nul);
  if (nul !== -1 && !isZero(raw.subarray(nul))) fail(where, `the ${what} field has a NUL byte inside it`);
  try {
    return utf8.decode(text);
  } catch {
    return fail(where, `the ${what} field is not valid UTF-8`);
  }
}

/** An octal number field; base-256 (high bit) and anything but digits 0-7 are refused. */
function readOctal(h: Buffer, offset: number, length: number, where: string, what: string, fail: Fail): number {
  const raw = h.subarray(offset, offset + length);
  if (((raw[0] ?? 0) & 0x80) !== 0) fail(where, `the ${what} field uses base-256 encoding (not ustar)`);
  const text = raw
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (!/^[0-7]+$/.test(text)) fail(where, `the ${what} field is not an octal number`);
  return parseInt(text, 8);
}

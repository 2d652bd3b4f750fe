/**
 * Release archives: deterministic writing (same files, same bytes), interop with the system
 * `tar`, and a hostile-archive suite: every unsafe archive is refused with an error naming
 * the entry, and nothing at all is written (not in the destination, not beside it).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../contracts/errors.js';
import {
  ArchiveError,
  DEFAULT_ARCHIVE_LIMITS,
  extractTarGz,
  packPluginDir,
  packTarGz,
  readTarGz,
  sha256,
  type ArchiveLimits,
} from '../../engine/plugin-archive.js';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-archive-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
}

/** Every path under `dir`, for "nothing was written" checks. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

// ----- a raw ustar writer that can write anything (the real writer refuses unsafe input) -----

interface RawEntry {
  name: string | Buffer;
  type?: string;
  data?: Buffer | string;
  /** Declared size when it should differ from the data. */
  size?: number;
  prefix?: string;
  badChecksum?: boolean;
  base256Size?: boolean;
}

function rawHeader(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  (typeof e.name === 'string' ? Buffer.from(e.name) : e.name).copy(h, 0, 0, 100);
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  if (e.base256Size) {
    h[124] = 0x80;
    h.writeUInt32BE(size, 132);
  } else h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function rawTar(entries: RawEntry[], opts: { end?: boolean; trailing?: Buffer } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    parts.push(rawHeader(e, e.size ?? data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  if (opts.trailing) parts.push(opts.trailing);
  return Buffer.concat(parts);
}

const rawTarGz = (entries: RawEntry[], opts?: { end?: boolean; trailing?: Buffer }) => gzipSync(rawTar(entries, opts));

describe('writing archives', () => {
  it('the same files give the same bytes, whatever their mtimes, order on disk or location', async () => {
    const a = tmpDir();
    writeTree(a, {
      'config.yaml': 'code: x\n',
      'plugin/main.ts': 'export {};\n',
      'plugin/lib/util.ts': 'export const u = 1;\n',
      'README.md': '# x\n',
      'node_modules/dep/index.js': 'junk',
      '.git/HEAD': 'ref',
      'plugin/__pycache__/m.pyc': 'junk',
      '.venv/bin/python': 'junk',
      '.env': 'SECRET=1',
    });
    const b = path.join(tmpDir(), 'elsewhere');
    cpSync(a, b, { recursive: true });
    utimesSync(path.join(b, 'README.md'), new Date('2001-02-03'), new Date('2001-02-03'));
    utimesSync(path.join(b, 'plugin/main.ts'), new Date(), new Date());

    const first = await packPluginDir(a);
    const second = await packPluginDir(b);
    expect(second.archive.equals(first.archive)).toBe(true);
    expect(second.sha256).toBe(first.sha256);
    expect(first.sha256).toBe(sha256(first.archive));
    expect(first.files).toEqual(['README.md', 'config.yaml', 'plugin/lib/util.ts', 'plugin/main.ts']);

    writeFileSync(path.join(b, 'README.md'), '# x!\n');
    expect((await packPluginDir(b)).sha256).not.toBe(first.sha256);
  });

  it('keeps the executable bit and nothing else of the mode', async () => {
    const dir = tmpDir();
    writeTree(dir, { 'run.sh': '#!/bin/sh\n', 'data.txt': 'x' });
    chmodSync(path.join(dir, 'run.sh'), 0o4775);
    chmodSync(path.join(dir, 'data.txt'), 0o666);
    const entries = await readTarGz((await packPluginDir(dir)).archive, 'test');
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ['data.txt', '644'],
      ['run.sh', '755'],
    ]);
  });

  it('refuses to archive a symbolic link, naming it', async () => {
    const dir = tmpDir();
    writeTree(dir, { 'config.yaml': 'x' });
    symlinkSync('/etc/passwd', path.join(dir, 'link'));
    const err = await packPluginDir(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/link: is a symbolic link/);
  });

  it('the system tar reads what we write, and we read what the system tar writes (ustar)', async () => {
    const dir = tmpDir();
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}.txt`;
    writeTree(dir, { 'config.yaml': 'code: x\n', 'plugin/a.ts': 'a', [deep]: 'deep' });
    const { archive } = await packPluginDir(dir);
    const file = path.join(tmpDir(), 'ours.tar.gz');
    writeFileSync(file, archive);
    const listed = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listed).toEqual(['config.yaml', deep, 'plugin/a.ts'].sort());

    const out = tmpDir();
    execFileSync('tar', ['-xzf', file, '-C', out]);
    expect(readFileSync(path.join(out, deep), 'utf8')).toBe('deep');

    const theirs = path.join(tmpDir(), 'theirs.tar.gz');
    execFileSync('tar', ['--format=ustar', '-czf', theirs, '-C', dir, 'config.yaml', 'plugin']);
    const entries = await readTarGz(readFileSync(theirs), 'theirs');
    expect(entries.map((e) => `${e.type}:${e.path}`).sort()).toEqual(['dir:plugin', 'file:config.yaml', 'file:plugin/a.ts']);
  });

  it('extracts what it wrote', async () => {
    const dir = tmpDir();
    writeTree(dir, { 'config.yaml': 'code: x\n', 'plugin/a.ts': 'export const a = 1;\n' });
    const dest = path.join(tmpDir(), 'out');
    await extractTarGz((await packPluginDir(dir)).archive, 'test', dest);
    expect(tree(dest)).toEqual(['config.yaml', 'plugin', 'plugin/a.ts']);
    expect(readFileSync(path.join(dest, 'plugin/a.ts'), 'utf8')).toBe('export const a = 1;\n');
  });
});

describe('hostile archives: refused with the entry named, nothing written', () => {
  const small: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 3, maxEntryBytes: 1000, maxTotalBytes: 4000 };
  const zeros = Buffer.alloc(50 * 1024 * 1024);

  const cases: { name: string; archive: () => Buffer; error: RegExp; limits?: ArchiveLimits }[] = [
    { name: 'absolute path', archive: () => rawTarGz([{ name: '/etc/evil', data: 'x' }]), error: /"\/etc\/evil".*absolute paths are not allowed/ },
    { name: '.. segment', archive: () => rawTarGz([{ name: '../evil', data: 'x' }]), error: /"\.\.\/evil".*"\.\." segments are not allowed/ },
    { name: '.. inside', archive: () => rawTarGz([{ name: 'plugin/../../evil', data: 'x' }]), error: /"plugin\/\.\.\/\.\.\/evil".*"\.\." segments/ },
    { name: '.. in the prefix field', archive: () => rawTarGz([{ name: 'evil', prefix: '..', data: 'x' }]), error: /"\.\.\/evil".*"\.\." segments/ },
    { name: 'backslash', archive: () => rawTarGz([{ name: '..\\evil', data: 'x' }]), error: /backslashes are not allowed/ },
    { name: 'NUL inside the name', archive: () => rawTarGz([{ name: Buffer.from('ok.txt\0../../evil'), data: 'x' }]), error: /entry 1.*NUL byte inside/ },
    { name: 'control character', archive: () => rawTarGz([{ name: 'a\u0007b', data: 'x' }]), error: /control characters are not allowed/ },
    { name: 'symbolic link', archive: () => rawTarGz([{ name: 'link', type: '2' }]), error: /"link": a symbolic link not allowed/ },
    { name: 'hard link', archive: () => rawTarGz([{ name: 'hard', type: '1' }]), error: /"hard": a hard link not allowed/ },
    { name: 'character device', archive: () => rawTarGz([{ name: 'null', type: '3' }]), error: /"null": a character device not allowed/ },
    { name: 'block device', archive: () => rawTarGz([{ name: 'sda', type: '4' }]), error: /"sda": a block device not allowed/ },
    { name: 'FIFO', archive: () => rawTarGz([{ name: 'pipe', type: '6' }]), error: /"pipe": a FIFO not allowed/ },
    {
      name: 'pax header',
      archive: () => rawTarGz([{ name: 'pax', type: 'x', data: '30 path=../../../../etc/evil\n' }]),
      error: /"pax": a pax extended header not allowed/,
    },
    { name: 'GNU long name', archive: () => rawTarGz([{ name: '././@LongLink', type: 'L', data: '../evil' }]), error: /a GNU long name not allowed/ },
    {
      name: 'duplicate entry',
      archive: () =>
        rawTarGz([
          { name: 'a.txt', data: '1' },
          { name: 'a.txt', data: '2' },
        ]),
      error: /"a\.txt": duplicate entry/,
    },
    {
      name: 'duplicate by case',
      archive: () =>
        rawTarGz([
          { name: 'A.txt', data: '1' },
          { name: 'a.txt', data: '2' },
        ]),
      error: /"a\.txt": duplicate entry: collides with "A\.txt"/,
    },
    {
      name: 'duplicate by Unicode form',
      archive: () =>
        rawTarGz([
          { name: 'caf\u00e9', data: '1' },
          { name: 'cafe\u0301', data: '2' },
        ]),
      error: /duplicate entry: collides/,
    },
    {
      name: 'a file that is also a folder',
      archive: () =>
        rawTarGz([
          { name: 'a', data: '1' },
          { name: 'a/b', data: '2' },
        ]),
      error: /"a\/b": its parent "a" is a file/,
    },
    {
      name: 'too many entries',
      limits: small,
      archive: () => rawTarGz(['a', 'b', 'c', 'd'].map((n) => ({ name: n, data: n }))),
      error: /"d": more than 3 entries/,
    },
    {
      name: 'an entry over the cap',
      limits: small,
      archive: () => rawTarGz([{ name: 'big.bin', data: Buffer.alloc(1001) }]),
      error: /"big\.bin": 1001 bytes, over the 1000-byte limit/,
    },
    {
      name: 'a declared size over the cap (data absent)',
      limits: small,
      archive: () => rawTarGz([{ name: 'liar.bin', size: 10 ** 9 }]),
      error: /"liar\.bin": 1000000000 bytes, over the 1000-byte limit/,
    },
    { name: 'decompression bomb', archive: () => rawTarGz([{ name: 'zeros.bin', data: zeros }]), error: /over 200:1\): refusing a likely decompression bomb/ },
    {
      name: 'declared size beyond the data',
      archive: () => rawTarGz([{ name: 'short.txt', size: 4096, data: 'x' }], { end: false }),
      error: /"short\.txt": truncated/,
    },
    { name: 'no end marker', archive: () => rawTarGz([{ name: 'a.txt', data: 'x' }], { end: false }), error: /truncated: no end-of-archive marker/ },
    {
      name: 'data after the end marker',
      archive: () => rawTarGz([{ name: 'a.txt', data: 'x' }], { trailing: rawHeader({ name: 'hidden.txt' }, 1) }),
      error: /data after the end-of-archive marker/,
    },
    { name: 'bad header checksum', archive: () => rawTarGz([{ name: 'a.txt', data: 'x', badChecksum: true }]), error: /"a\.txt": header checksum mismatch/ },
    { name: 'base-256 size', archive: () => rawTarGz([{ name: 'a.txt', data: 'x', base256Size: true }]), error: /"a\.txt": the size field uses base-256/ },
    { name: 'not gzip', archive: () => rawTar([{ name: 'a.txt', data: 'x' }]), error: /not a valid gzip stream/ },
  ];

  it.each(cases)('$name', async ({ archive, error, limits }) => {
    const parent = tmpDir();
    const dest = path.join(parent, 'out');
    const err = await extractTarGz(archive(), 'hostile.tar.gz', dest, limits).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toContain('unsafe or malformed plugin archive hostile.tar.gz');
    expect((err as Error).message).toMatch(error);
    // Validation happens before any write: not even the destination folder exists.
    expect(tree(parent)).toEqual([]);
  });

  it('the total cap holds even when each entry is under the per-entry cap', async () => {
    const limits: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, maxEntryBytes: 1000, maxTotalBytes: 2500 };
    const archive = packTarGz(['a', 'b', 'c'].map((n) => ({ path: n, type: 'file' as const, mode: 0o644, data: Buffer.alloc(900, 1) })));
    const err = await readTarGz(archive, 'sum.tar.gz', limits).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/"c": the files add up to more than 2500 bytes/);
  });

  it('a small archive of text (a high ratio under the floor) is fine', async () => {
    const archive = packTarGz([{ path: 'a.txt', type: 'file', mode: 0o644, data: Buffer.alloc(500_000, 'a') }]);
    expect(500_000 / archive.length).toBeGreaterThan(200);
    expect((await readTarGz(archive, 'text')).map((e) => e.path)).toEqual(['a.txt']);
  });
});

/**
 * The pure parts of uploads: params, discovery and grouping on real folders, Excel values,
 * limits and zip checks on real files (written by openpyxl and Python's zipfile).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExcelConfigSchema } from '../../sdk/config.js';
import { InvalidInputError, ParamsError } from '../../contracts/errors.js';
import { cellText, checkZipExpansion, columnLetters, matchMetadata, readExcelMetadata } from '../../engine/excel-metadata.js';
import { assetRoots, discoverFiles, groupIntoUnits, resolveInside, stemOf, type DiscoveredFile } from '../../engine/upload-discovery.js';
import { BaseUploader, parseUploadParams, type UploadUnit } from '../../sdk/uploader.js';
import { contentKey } from '../../activities/upload.js';
import { python, tempDir, writeTree, writeXlsx } from '../upload-helpers.js';

const limits = ExcelConfigSchema.parse({});
const anyExt = { allowedExtensions: () => [] };

async function problemOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidInputError);
  return (err as InvalidInputError).problems.map((x) => `${x.path}: ${x.message}`).join('\n');
}

describe('upload params', () => {
  const cls = { extraParams: BaseUploader.extraParams };
  it('takes the seed defaults and resolves relative paths from the caller', () => {
    const p = parseUploadParams(cls, { name: 'n', path: 'data', storage: 1, data_collection: 'c' }, 'bad', '/home/me');
    expect(p).toMatchObject({
      use_single_path: true,
      is_recursive: true,
      path: '/home/me/data',
      max_file_size_mb: 50,
      creating_data_unit_batch_size: 100,
      extra_params: {},
    });
    const multi = parseUploadParams(
      cls,
      { name: 'n', use_single_path: false, assets: { image: { path: 'imgs' } }, storage: 1, data_collection: 'c' },
      'bad',
      '/home/me',
    );
    expect(multi.assets).toEqual({ image: { path: '/home/me/imgs', is_recursive: true } });
  });

  it('lists every problem with its field', () => {
    const err = (() => {
      try {
        parseUploadParams(cls, { name: 'a/b', use_single_path: false, storage: 1, data_collection: 'c', max_file_size_mb: 0, surprise: 1 });
      } catch (e) {
        return e as ParamsError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ParamsError);
    expect(err.problems.map((p) => p.path).sort()).toEqual(['assets', 'max_file_size_mb', 'name', 'surprise']);
    const single = (() => {
      try {
        parseUploadParams(cls, { name: 'x', storage: 1, data_collection: 'c' });
      } catch (e) {
        return e as ParamsError;
      }
      throw new Error('no error');
    })();
    expect(single.problems).toEqual([{ path: 'path', message: 'required when use_single_path is true' }]);
  });
});

describe('discovery and grouping', () => {
  it('walks recursively or flat, skips system files, groups by parent and stem, newest duplicate wins', async () => {
    const root = tempDir('unit-disc');
    writeTree(root, {
      'a/x.jpg': { body: 'new', mtime: 1_700_000_000 },
      'a/x.png': { body: 'old', mtime: 1_600_000_000 },
      'a/y.jpg': 'y',
      'b/x.jpg': 'another x',
      'top.jpg': 'top',
      '.hidden.jpg': 'h',
      '@eaDir/a.jpg': 'nas',
      'a/#recycle/z.jpg': 'bin',
      'Thumbs.db': 'w',
      'a/.DS_Store': 'm',
    });
    const rec = await discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'path' }], anyExt);
    expect(rec.files.map((f) => f.relativePath)).toEqual(['a/x.jpg', 'a/x.png', 'a/y.jpg', 'b/x.jpg', 'top.jpg']);
    expect(rec.systemSkipped).toBe(5);
    const { units } = groupIntoUnits(rec.files);
    expect(units.map((u) => u.key)).toEqual(['a/x', 'a/y', 'b/x', 'top']);
    expect(units[0]!.files.image!.name).toBe('x.jpg');
    expect(units[0]!.replaced).toEqual(['image/a/x.png']);
    const flat = await discoverFiles([{ spec: 'image', dir: root, recursive: false, field: 'path' }], anyExt);
    expect(flat.files.map((f) => f.relativePath)).toEqual(['top.jpg']);
    const onlyPng = await discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'path' }], { allowedExtensions: () => ['.png'] });
    expect(onlyPng.files.map((f) => f.relativePath)).toEqual(['a/x.png']);
    expect(onlyPng.skipped).toHaveLength(4);
  });

  it('of equal times keeps the name that sorts last, so the choice does not depend on the walk', () => {
    const f = (rel: string): DiscoveredFile => ({ spec: 'image', path: `/r/${rel}`, relativePath: rel, name: path.basename(rel), size: 1, mtimeMs: 5 });
    expect(groupIntoUnits([f('x.png'), f('x.jpg')]).units[0]!.files.image!.name).toBe('x.png');
    expect(groupIntoUnits([f('x.jpg'), f('x.png')]).units[0]!.files.image!.name).toBe('x.png');
    expect(stemOf('a.tar.gz')).toBe('a.tar');
    expect(stemOf('.env')).toBe('.env');
  });

  it('follows symlinks that stay inside the root, once, and refuses those that leave it', async () => {
    const root = tempDir('unit-links');
    const outside = tempDir('unit-out');
    writeTree(root, { 'real/a.jpg': 'a' });
    writeTree(outside, { 'b.jpg': 'b' });
    symlinkSync(path.join(root, 'real'), path.join(root, 'alias'));
    symlinkSync(root, path.join(root, 'real', 'loop'));
    const ok = await discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'path' }], anyExt);
    expect(ok.files.map((f) => f.relativePath)).toEqual(['alias/a.jpg']);
    symlinkSync(path.join(outside, 'b.jpg'), path.join(root, 'real', 'b.jpg'));
    expect(await problemOf(discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'assets.image.path' }], anyExt))).toContain(
      `assets.image.path: ${path.join(root, 'real', 'b.jpg')} is a symlink to ${path.join(outside, 'b.jpg')}, outside the upload root`,
    );
    expect(await problemOf(resolveInside(root, '../x', 'excel_metadata_path'))).toContain('excel_metadata_path: "../x" escapes the upload root');
  });

  it('asset roots: a missing required folder, an unknown asset, a missing optional one', async () => {
    const root = tempDir('unit-roots');
    mkdirSync(path.join(root, 'image'));
    const specs = [
      { name: 'image', required: true },
      { name: 'label', required: true },
      { name: 'extra', required: false },
    ];
    expect(await problemOf(assetRoots({ use_single_path: true, path: root, is_recursive: true }, specs))).toBe(
      `path: no folder "label" in ${root} for the required file specification "label"`,
    );
    const multi = await problemOf(
      assetRoots(
        {
          use_single_path: false,
          is_recursive: true,
          assets: { image: { path: path.join(root, 'image'), is_recursive: true }, nope: { path: root, is_recursive: true } },
        },
        specs,
      ),
    );
    expect(multi).toContain('assets.nope: the data collection has no file specification "nope"');
    expect(multi).toContain('assets.label: required file specification "label" has no asset path');
    mkdirSync(path.join(root, 'label'));
    const roots = await assetRoots({ use_single_path: true, path: root, is_recursive: false }, specs);
    expect(roots.map((r) => [r.spec, path.basename(r.dir), r.recursive])).toEqual([
      ['image', 'image', false],
      ['label', 'label', false],
    ]);
  });

  it('content keys name the content and keep a safe file name', () => {
    const sha = 'ab'.repeat(32);
    expect(contentKey(sha, 'x.jpg')).toBe(`uploads/ab/${sha}/x.jpg`);
    expect(contentKey(sha, '..')).toBe(`uploads/ab/${sha}/file`);
  });
});

describe('Excel metadata', () => {
  it('turns cell values into strings', () => {
    expect(cellText(3)).toBe('3');
    expect(cellText(0.1)).toBe('0.1');
    expect(cellText(true)).toBe('true');
    expect(cellText('')).toBeUndefined();
    expect(cellText(null)).toBeUndefined();
    expect(cellText(new Date(Date.UTC(2024, 0, 2)))).toBe('2024-01-02');
    expect(cellText(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe('2024-01-02T03:04:05');
    expect(cellText({ richText: [{ text: 'a' }, { text: 'b' }] })).toBe('ab');
    expect(cellText({ formula: 'A1+1', result: 7 })).toBe('7');
    expect(cellText({ text: 'link', hyperlink: 'http://x' })).toBe('link');
    expect(columnLetters(1)).toBe('A');
    expect(columnLetters(28)).toBe('AB');
  });

  it('reads an openpyxl file and matches rows by stem, then name, then path', async () => {
    const dir = tempDir('unit-xl');
    const file = path.join(dir, 'm.xlsx');
    writeXlsx(file, [
      ['File_Name', 'k'],
      ['a', 'by stem'],
      ['a.jpg', 'by name'],
      ['sub/b.jpg', 'by path'],
    ]);
    const m = await readExcelMetadata(file, limits);
    expect(m.keys).toEqual(['k']);
    const unit = (key: string, rel: string): UploadUnit => ({
      key,
      stem: stemOf(path.basename(rel)),
      meta: {},
      files: { image: { spec: 'image', path: `/r/${rel}`, relativePath: rel, name: path.basename(rel), size: 1, mtimeMs: 1 } },
    });
    expect(matchMetadata(m, unit('a', 'a.jpg'))?.meta).toEqual({ k: 'by stem' });
    expect(matchMetadata(m, unit('sub/b', 'sub/b.jpg'))?.meta).toEqual({ k: 'by path' });
    expect(matchMetadata(m, unit('c', 'c.jpg'))).toBeUndefined();
  });

  it('rejects duplicate file names and headers, naming the rows and cells', async () => {
    const dir = tempDir('unit-xl-dup');
    writeXlsx(path.join(dir, 'd.xlsx'), [
      ['filename', 'k'],
      ['a', '1'],
      ['a', '2'],
    ]);
    expect(await problemOf(readExcelMetadata(path.join(dir, 'd.xlsx'), limits))).toContain('file name "a" is on row 2 and again on row 3');
    writeXlsx(path.join(dir, 'h.xlsx'), [['filename', 'k', 'k']]);
    expect(await problemOf(readExcelMetadata(path.join(dir, 'h.xlsx'), limits))).toContain('header "k" appears twice (cell C1)');
    writeXlsx(path.join(dir, 'p.xlsx'), [
      ['filename', 'k', '__proto__'],
      ['a', '1', 'x'],
    ]);
    expect(await problemOf(readExcelMetadata(path.join(dir, 'p.xlsx'), limits))).toContain('header "__proto__" (cell C1) is not a usable metadata key');
    writeFileSync(path.join(dir, 'not.xlsx'), 'plain text');
    expect(await problemOf(readExcelMetadata(path.join(dir, 'not.xlsx'), limits))).toContain('is not an .xlsx file (not a zip archive)');
    expect(await problemOf(readExcelMetadata(path.join(dir, 'missing.xlsx'), limits))).toContain('does not exist');
  });

  it('catches a zip whose parts inflate past the sizes they declare', async () => {
    const dir = tempDir('unit-liar');
    const file = path.join(dir, 'liar.xlsx');
    // 50 MB of zeros declared as 1,000 bytes in both headers: only inflating tells.
    python(
      `
import zipfile, struct, sys
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('xl/worksheets/sheet1.xml', bytes(50 << 20))
data = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<I', data, 22, 1000)
cd = data.rfind(b'PK\\x01\\x02')
struct.pack_into('<I', data, cd + 24, 1000)
open(sys.argv[1], 'wb').write(data)
`,
      [file],
    );
    const { readFile } = await import('node:fs/promises');
    const data = await readFile(file);
    expect(await problemOf(checkZipExpansion(file, data, { maxTotalBytes: 300 << 20, maxRatio: 200 }))).toContain(
      'part "xl/worksheets/sheet1.xml" inflates past the 1000 bytes it declares',
    );
  });
});

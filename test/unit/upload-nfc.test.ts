/**
 * Unicode normalisation of upload names (issue 12, fault 13): macOS writes `café.png` with a
 * decomposed é (NFD: "e" + U+0301), Excel, Linux and Windows a composed one (NFC: U+00E9).
 * Files on a real folder with NFD names must match NFC Excel rows, take NFC unit keys (so the
 * same file from any OS is one unit) and still be read from their NFD path on disk.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../contracts/errors.js';
import { matchMetadata, readExcelMetadata } from '../../engine/excel-metadata.js';
import { discoverFiles, groupIntoUnits, type DiscoveredFile } from '../../engine/upload-discovery.js';
import { ExcelConfigSchema } from '../../sdk/config.js';
import { writeMinimalXlsx } from '../fixtures/excel/minimal-xlsx.js';

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';
const limits = ExcelConfigSchema.parse({});
const tempDir = (name: string) => mkdtempSync(path.join(os.tmpdir(), `synapse-${name}-`));
const anyExt = { allowedExtensions: () => [] };

function write(root: string, rel: string, body: string, mtime?: number): void {
  const full = path.join(root, rel);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, body);
  if (mtime !== undefined) utimesSync(full, mtime, mtime);
}

async function metadata(rows: string[][]): Promise<Awaited<ReturnType<typeof readExcelMetadata>>> {
  const file = path.join(tempDir('nfc-xl'), 'meta.xlsx');
  writeMinimalXlsx(file, { styles: [0], rows });
  return readExcelMetadata(file, limits);
}

describe('Unicode names in uploads', () => {
  it('the two forms differ as strings and as file names on this file system', () => {
    expect(NFC).not.toBe(NFD);
    expect(NFD.normalize('NFC')).toBe(NFC);
    const root = tempDir('nfc-fs');
    write(root, `${NFD}.png`, 'mac');
    write(root, `${NFC}.png`, 'linux');
    // Linux keeps names as bytes: both files exist side by side (macOS would refuse the second).
    expect(readdirSync(root).sort()).toEqual([`${NFC}.png`, `${NFD}.png`].sort());
  });

  it('discovery gives NFC names and keeps the on-disk path that reads the file', async () => {
    const root = tempDir('nfc-disc');
    write(root, `${NFD}/${NFD}.png`, 'from a Mac');
    const { files } = await discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'path' }], anyExt);
    expect(files).toHaveLength(1);
    const f = files[0]!;
    expect(f.name).toBe(`${NFC}.png`);
    expect(f.relativePath).toBe(`${NFC}/${NFC}.png`);
    expect(f.path).toBe(path.join(root, NFD, `${NFD}.png`));
    expect(readFileSync(f.path, 'utf8')).toBe('from a Mac');
    expect(groupIntoUnits(files).units.map((u) => [u.key, u.stem])).toEqual([[`${NFC}/${NFC}`, NFC]]);
  });

  it('groups files whose names differ only in normalisation into one unit under the NFC key', () => {
    const file = (spec: string, name: string, mtimeMs: number): DiscoveredFile => ({
      spec,
      path: `/r/${spec}/${name}`,
      relativePath: name,
      name,
      size: 1,
      mtimeMs,
    });
    // An image written on a Mac, its label on Linux: one unit with both.
    const pair = groupIntoUnits([file('image', `${NFD}.png`, 1), file('label', `${NFC}.json`, 1)]).units;
    expect(pair.map((u) => [u.key, Object.keys(u.files).sort()])).toEqual([[NFC, ['image', 'label']]]);
    expect(pair[0]!.files.image!.path).toBe(`/r/image/${NFD}.png`);
    // Two copies of one image, one per form, in one folder: the newest wins, as for any duplicate.
    const dup = groupIntoUnits([file('image', `${NFD}.png`, 2), file('image', `${NFC}.png`, 1)]).units;
    expect(dup).toHaveLength(1);
    expect(dup[0]!.key).toBe(NFC);
    expect(dup[0]!.files.image!.path).toBe(`/r/image/${NFD}.png`);
    expect(dup[0]!.replaced).toEqual([`image/${NFC}.png`]);
  });

  it('matches an NFC Excel row to an NFD file, and an NFD row to an NFC file, by stem, name and path', async () => {
    const root = tempDir('nfc-match');
    write(root, `${NFD}.png`, 'a');
    write(root, `sub/${NFD}-2.png`, 'b');
    write(root, `${NFC}-3.png`, 'c');
    const { units } = groupIntoUnits((await discoverFiles([{ spec: 'image', dir: root, recursive: true, field: 'path' }], anyExt)).files);
    const m = await metadata([
      ['filename', 'color'],
      [NFC, 'by stem'],
      [`sub/${NFC}-2.png`, 'by path'],
      [`${NFD}-3.png`, 'by name, written NFD'],
    ]);
    expect([...m.rows.keys()]).toEqual([NFC, `sub/${NFC}-2.png`, `${NFC}-3.png`]);
    expect(units.map((u) => [u.key, matchMetadata(m, u)?.meta])).toEqual([
      [NFC, { color: 'by stem' }],
      [`${NFC}-3`, { color: 'by name, written NFD' }],
      [`sub/${NFC}-2`, { color: 'by path' }],
    ]);
    // Without NFC on both sides none of these matched: the report's "unmatched rows".
    const raw = new Map([...m.rows].map(([k, v]) => [k.normalize('NFD'), v]));
    expect(units.map((u) => matchMetadata({ ...m, rows: raw }, u))).toEqual([undefined, undefined, undefined]);
  });

  it('treats one name in two forms as the same Excel row, and headers in NFC', async () => {
    const err = await metadata([
      ['filename', 'k'],
      [NFC, '1'],
      [NFD, '2'],
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems[0]!.message).toBe(`file name ${JSON.stringify(NFC)} is on row 2 and again on row 3`);
    const m = await metadata([
      ['filename', `${NFD} au lait`],
      ['x', 'oui'],
    ]);
    expect(m.keys).toEqual([`${NFC} au lait`]);
    // Values are the user's text, kept as written.
    const v = await metadata([
      ['filename', 'k'],
      ['x', NFD],
    ]);
    expect(v.rows.get('x')?.meta).toEqual({ k: NFD });
  });
});

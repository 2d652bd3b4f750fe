/**
 * The Excel metadata of an upload (the seed's `excel_metadata_path`): the first column,
 * headed `filename` or `file_name`, names a file; every other column is a metadata key.
 * Values become strings (numbers as written, dates ISO 8601, rich text as its text); a date
 * is a number in a date or time format, the file's own or one of Excel's built-in ids, in the
 * workbook's 1900 or 1904 date system (excel-dates.ts). File names and headers are compared
 * and kept in Unicode NFC, whichever form the sheet or the file system wrote. The
 * `excel_config` limits of the action are enforced, each error naming the limit and where
 * it was crossed:
 *
 * 1. file size, from stat, before reading anything;
 * 2. a zip bomb, before parsing: the zip's central directory is read and every entry is
 *    inflated into a counter (nothing kept), so a file whose parts expand past a total cap
 *    or an extreme ratio, or past the sizes it declares, is rejected;
 * 3. rows, columns, cell length and file-name length while streaming the first worksheet
 *    with exceljs's WorkbookReader (rows are never all in memory as cells).
 *
 * An `.xls` (Excel 97-2003) file is refused with what to do instead.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import type { z } from 'zod';
import type { ExcelConfigSchema } from '../sdk/config.js';
import { InvalidInputError } from '../contracts/errors.js';
import { asExcelShows, teachDates, usesDate1904 } from './excel-dates.js';

export type ExcelLimits = z.output<typeof ExcelConfigSchema>;

/** The default file name looked for in the upload root. */
export const DEFAULT_EXCEL_NAME = 'meta.xlsx';
/** The parts of an xlsx may expand to at most this many times the file-size limit, in total. */
export const MAX_EXPANSION_OF_LIMIT = 30;
/** ... and one part of more than 1 MiB at most this many times its compressed size. */
export const MAX_ENTRY_RATIO = 200;

export interface MetadataRow {
  /** 1-based worksheet row number. */
  row: number;
  meta: Record<string, string>;
}

export interface ExcelMetadata {
  /** Metadata keys (headers, trimmed, NFC), in column order. */
  keys: string[];
  /** By the filename cell, trimmed, in Unicode NFC (see matchMetadata). */
  rows: Map<string, MetadataRow>;
}

function fail(file: string, message: string): never {
  throw new InvalidInputError(`invalid Excel metadata file ${file}`, [{ path: 'excel_metadata_path', message }]);
}

/** Column letters of a 1-based column number (1 -> A, 28 -> AB). */
export function columnLetters(n: number): string {
  let s = '';
  for (let c = n; c > 0; c = Math.floor((c - 1) / 26)) s = String.fromCharCode(65 + ((c - 1) % 26)) + s;
  return s;
}

function u16(b: Buffer, at: number): number {
  return b.readUInt16LE(at);
}
function u32(b: Buffer, at: number): number {
  return b.readUInt32LE(at);
}

/** One part of a zip, from its central directory, with where its data starts. */
interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressed: number;
  /** The uncompressed size it declares (may lie: see checkZipExpansion). */
  declared: number;
  /** Offset of its data in the file. */
  start: number;
}

/** The parts of a zip, from its central directory; InvalidInputError when it is not a plain zip. */
function zipEntries(file: string, data: Buffer): ZipEntry[] {
  const notXlsx = (why: string) => fail(file, `is not a valid .xlsx file (${why})`);
  // End of central directory: 22 bytes plus a comment of up to 65,535.
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (u32(data, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) notXlsx('no zip directory');
  const count = u16(data, eocd + 10);
  const cdOffset = u32(data, eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) notXlsx('ZIP64 archives are not accepted for metadata');
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > data.length || u32(data, at) !== 0x02014b50) notXlsx('a broken zip directory');
    const method = u16(data, at + 10);
    const compressed = u32(data, at + 20);
    const declared = u32(data, at + 24);
    const nameLength = u16(data, at + 28);
    const name = data.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const local = u32(data, at + 42);
    at += 46 + nameLength + u16(data, at + 30) + u16(data, at + 32);
    if (compressed === 0xffffffff || declared === 0xffffffff) notXlsx('ZIP64 entries are not accepted for metadata');
    if (local + 30 > data.length || u32(data, local) !== 0x04034b50) notXlsx(`a broken entry "${name}"`);
    entries.push({ name, method, compressed, declared, start: local + 30 + u16(data, local + 26) + u16(data, local + 28) });
  }
  return entries;
}

/**
 * Rejects a zip that expands too much, before any parser sees it. Reads the central
 * directory, then inflates each entry into a byte counter, stopping at the first limit.
 */
export async function checkZipExpansion(file: string, data: Buffer, limits: { maxTotalBytes: number; maxRatio: number }): Promise<void> {
  const notXlsx = (why: string) => fail(file, `is not a valid .xlsx file (${why})`);
  let total = 0;
  for (const { name, method, compressed, declared, start } of zipEntries(file, data)) {
    const tooMuch = (size: number) =>
      fail(
        file,
        `expands too much: part "${name}" alone is ${size} bytes or more (${compressed} compressed; limit: ${limits.maxTotalBytes} bytes in total, ${MAX_EXPANSION_OF_LIMIT} x excel_config max_file_size_mb, and ${limits.maxRatio}:1 per part) - a zip bomb?`,
      );
    if (declared > 1024 * 1024 && declared / Math.max(compressed, 1) > limits.maxRatio) tooMuch(declared);
    if (total + declared > limits.maxTotalBytes) tooMuch(declared);
    const body = data.subarray(start, start + compressed);
    let actual = 0;
    if (method === 0) actual = body.length;
    else if (method === 8) {
      // The declared sizes may lie: count what the entry really inflates to, and stop early.
      const cap = Math.min(declared, limits.maxTotalBytes - total);
      const inflate = createInflateRaw();
      const counted = new Promise<void>((resolve, reject) => {
        inflate.on('data', (chunk: Buffer) => {
          actual += chunk.length;
          if (actual > cap) {
            inflate.destroy();
            resolve();
          }
        });
        inflate.on('end', resolve);
        inflate.on('close', resolve);
        inflate.on('error', reject);
      });
      inflate.end(body);
      try {
        await counted;
      } catch {
        notXlsx(`entry "${name}" does not inflate`);
      }
      if (actual > declared) fail(file, `part "${name}" inflates past the ${declared} bytes it declares - a crafted zip?`);
    } else notXlsx(`entry "${name}" uses an unsupported compression method ${method}`);
    total += actual;
    if (total > limits.maxTotalBytes) tooMuch(actual);
  }
}

/** The text of one part of a zip already passed by checkZipExpansion, or undefined when there is none. */
function zipPartText(file: string, data: Buffer, part: string): string | undefined {
  const entry = zipEntries(file, data).find((e) => e.name === part);
  if (!entry) return undefined;
  const body = data.subarray(entry.start, entry.start + entry.compressed);
  try {
    return (entry.method === 0 ? body : inflateRawSync(body, { maxOutputLength: Math.max(entry.declared, 1) })).toString('utf8');
  } catch {
    return fail(file, `is not a valid .xlsx file (entry "${part}" does not inflate)`);
  }
}

/** A cell's value as the string stored in metadata, or undefined for an empty cell. */
export function cellText(value: ExcelJS.CellValue | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return undefined;
    // Excel dates have no time zone: no "Z"; a date alone when there is no time of day.
    const iso = value.toISOString();
    if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
    return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
  }
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((t) => t.text).join('') || undefined;
    if ('error' in value) return value.error;
    if ('formula' in value || 'sharedFormula' in value) return cellText((value as { result?: ExcelJS.CellValue }).result);
    if ('text' in value) {
      const text = (value as { text: unknown }).text;
      return typeof text === 'string' ? text || undefined : cellText(text as ExcelJS.CellValue);
    }
  }
  return String(value);
}

/** Reads and checks the metadata file; InvalidInputError names the limit, row or cell on any problem. */
export async function readExcelMetadata(file: string, limits: ExcelLimits): Promise<ExcelMetadata> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.xls') fail(file, 'is an Excel 97-2003 (.xls) file, which is not supported: open it in Excel or LibreOffice and save it as .xlsx');
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) fail(file, 'is not a file');
    size = s.size;
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    fail(file, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`);
  }
  const maxBytes = limits.max_file_size_mb * 1024 * 1024;
  if (size > maxBytes) fail(file, `is ${(size / 1024 / 1024).toFixed(1)} MB, over the limit of ${limits.max_file_size_mb} MB (excel_config max_file_size_mb)`);
  const handle = await open(file, 'r');
  let data: Buffer;
  try {
    data = await handle.readFile();
  } finally {
    await handle.close();
  }
  if (data.length >= 8 && data.readUInt32BE(0) === 0xd0cf11e0) {
    fail(file, 'is an Excel 97-2003 (.xls) workbook or an encrypted one: open it in Excel or LibreOffice and save it as a plain .xlsx');
  }
  if (data.length < 4 || data.readUInt32LE(0) !== 0x04034b50) fail(file, 'is not an .xlsx file (not a zip archive)');
  await checkZipExpansion(file, data, { maxTotalBytes: MAX_EXPANSION_OF_LIMIT * maxBytes, maxRatio: MAX_ENTRY_RATIO });
  return parseRows(file, data, limits);
}

async function parseRows(file: string, data: Buffer, limits: ExcelLimits): Promise<ExcelMetadata> {
  const { Readable } = await import('node:stream');
  const date1904 = usesDate1904(zipPartText(file, data, 'xl/workbook.xml') ?? '');
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([data]), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache', // dates are numbers with a date format: styles tell them apart
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  // Built-in date formats by id alone, the date system as the file states it (excel-dates.ts).
  teachDates(reader, date1904);
  const keys: string[] = [];
  const rows = new Map<string, MetadataRow>();
  let dataRows = 0;
  let sawSheet = false;
  try {
    for await (const sheet of reader) {
      // Only the first worksheet holds metadata; the rest are not even parsed.
      if (sawSheet) break;
      sawSheet = true;
      let header = false;
      for await (const row of sheet) {
        const cells: { col: number; address: string; text: string }[] = [];
        let maxCol = 0;
        row.eachCell({ includeEmpty: false }, (cell, col) => {
          const text = cellText(asExcelShows(cell.value, cell.numFmt, date1904));
          if (text === undefined) return;
          maxCol = Math.max(maxCol, col);
          cells.push({ col, address: `${columnLetters(col)}${row.number}`, text });
        });
        if (cells.length === 0) continue;
        if (maxCol > limits.max_columns)
          fail(
            file,
            `row ${row.number} has a value in column ${columnLetters(maxCol)} (${maxCol}), over the limit of ${limits.max_columns} columns (excel_config max_columns)`,
          );
        for (const c of cells) {
          if (c.text.length > limits.max_cell_length) {
            fail(file, `cell ${c.address} has ${c.text.length} characters, over the limit of ${limits.max_cell_length} (excel_config max_cell_length)`);
          }
        }
        if (!header) {
          header = true;
          const first = cells.find((c) => c.col === 1);
          const name = first?.text.trim().toLowerCase();
          if (name !== 'filename' && name !== 'file_name') {
            fail(
              file,
              `the first column's header (cell A${row.number}) must be "filename" or "file_name", found ${first ? JSON.stringify(first.text) : 'nothing'}`,
            );
          }
          for (const c of cells) {
            if (c.col === 1) continue;
            const key = c.text.trim().normalize('NFC');
            if (keys.includes(key)) fail(file, `header ${JSON.stringify(key)} appears twice (cell ${c.address})`);
            // A key that names an object's prototype would be dropped (or worse) by every object it lands in.
            if (key === '__proto__') fail(file, `header "__proto__" (cell ${c.address}) is not a usable metadata key: rename the column`);
            keys[c.col - 2] = key;
          }
          continue;
        }
        dataRows++;
        if (dataRows > limits.max_rows) fail(file, `has more than ${limits.max_rows} data rows (excel_config max_rows); row ${row.number} is over the limit`);
        const nameCell = cells.find((c) => c.col === 1);
        if (!nameCell) fail(file, `row ${row.number} has values but no file name in column A`);
        const written = nameCell.text.trim();
        if (written.length > limits.max_filename_length) {
          fail(
            file,
            `the file name in cell ${nameCell.address} has ${written.length} characters, over the limit of ${limits.max_filename_length} (excel_config max_filename_length)`,
          );
        }
        // One Unicode form for names, so that "café" typed on Windows matches a file macOS wrote.
        const filename = written.normalize('NFC');
        const earlier = rows.get(filename);
        if (earlier) fail(file, `file name ${JSON.stringify(filename)} is on row ${earlier.row} and again on row ${row.number}`);
        const meta: Record<string, string> = {};
        for (const c of cells) {
          const key = keys[c.col - 2];
          if (c.col > 1 && key) meta[key] = c.text;
        }
        rows.set(filename, { row: row.number, meta });
      }
    }
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    fail(file, `cannot be read as .xlsx: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!sawSheet) fail(file, 'has no worksheet');
  return { keys: keys.filter(Boolean), rows };
}

/**
 * The metadata row of a data unit: by stem, then by file name (with extension), then by
 * path (a file's path relative to its specification folder, or the unit key). Names are
 * compared in Unicode NFC: macOS writes `café.png` decomposed (NFD, "e" + U+0301), Excel,
 * Linux and Windows usually composed (NFC, U+00E9), and the two must be one name.
 */
export function matchMetadata(
  metadata: ExcelMetadata,
  unit: { key: string; stem: string; files: Record<string, { name: string; relativePath: string }> },
): MetadataRow | undefined {
  const files = Object.keys(unit.files)
    .sort()
    .map((k) => unit.files[k]!);
  const candidates = [unit.stem, ...files.map((f) => f.name), ...files.map((f) => f.relativePath), unit.key];
  for (const c of candidates) {
    const hit = metadata.rows.get(c.normalize('NFC'));
    if (hit) return hit;
  }
  return undefined;
}

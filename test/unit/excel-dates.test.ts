/**
 * Excel dates in upload metadata (issue 12, fault 12): every built-in date and time format id
 * is read as a date, in the workbook's 1900 or 1904 date system, on .xlsx files whose styles
 * name the format by id alone (test/fixtures/excel/minimal-xlsx.ts writes them part by part).
 * openpyxl, another program, reads the same files and must see the same instants.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_DATE_TIME_FORMATS, excelSerialDate, isBuiltinDateTimeFormat, usesDate1904 } from '../../engine/excel-dates.js';
import { readExcelMetadata } from '../../engine/excel-metadata.js';
import { ExcelConfigSchema } from '../../sdk/config.js';
import { writeMinimalXlsx, type MinimalCell } from '../fixtures/excel/minimal-xlsx.js';

/** Debian's python3, with python3-openpyxl (as test/upload-helpers.ts, which this pure test does not load: it starts workers). */
const SYSTEM_PYTHON = '/usr/bin/python3';
const tempDir = (name: string) => mkdtempSync(path.join(os.tmpdir(), `synapse-${name}-`));
const limits = ExcelConfigSchema.parse({});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** ECMA-376 Part 1, 18.8.30: the date and time ids, written out here apart from the code's table. */
const DATE_IDS = [...range(14, 22), ...range(27, 36), ...range(45, 47), ...range(50, 58), ...range(71, 81)];
/** Every other built-in id: numbers, currency, percentages, fractions, text (and unassigned ones). */
const NUMBER_IDS = range(0, 163).filter((id) => !DATE_IDS.includes(id));
/** 2024-03-05 in the 1900 date system, as in the report. */
const SERIAL = 45356;
/** 2024-03-05 13:45:00. */
const SERIAL_TIME = 45356 + (13 * 60 + 45) / (24 * 60);

/** A sheet with one row per numFmtId: `id-<n>` in A, the serial in B (style n), SERIAL_TIME in C. */
function rowsPerId(ids: number[]): { styles: number[]; rows: MinimalCell[][] } {
  const styles = [0, ...ids];
  return { styles, rows: [['filename', 'day', 'when'], ...ids.map((id, i) => [`id-${id}`, { n: SERIAL, s: i + 1 }, { n: SERIAL_TIME, s: i + 1 }])] };
}

async function read(book: Parameters<typeof writeMinimalXlsx>[1], name = 'm.xlsx'): Promise<{ file: string; meta: Map<string, Record<string, string>> }> {
  const file = path.join(tempDir('xl-dates'), name);
  writeMinimalXlsx(file, book);
  const m = await readExcelMetadata(file, limits);
  return { file, meta: new Map([...m.rows].map(([k, v]) => [k, v.meta])) };
}

/** What openpyxl (Debian's python3-openpyxl) reads in column `column` of each data row: is it a date, and which instant. */
function openpyxlReads(file: string, column: number): Map<string, { date: boolean; instant: string }> {
  const code = `
import datetime, json, sys, openpyxl
from openpyxl.utils.datetime import from_excel
wb = openpyxl.load_workbook(sys.argv[1], data_only=True)
ws = wb.active
out = {}
for row in ws.iter_rows(min_row=2):
    name, v = row[0].value, row[int(sys.argv[2]) - 1].value
    if isinstance(v, datetime.datetime): date, t = True, v
    elif isinstance(v, datetime.timedelta): date, t = True, wb.epoch + v
    elif isinstance(v, datetime.time): date, t = True, datetime.datetime.combine(wb.epoch.date(), v)
    else: date, t = False, from_excel(v, wb.epoch)
    out[name] = {"date": date, "instant": t.isoformat(timespec="milliseconds")}
print(json.dumps(out))
`;
  const r = spawnSync(SYSTEM_PYTHON, ['-c', code, file, String(column)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openpyxl failed (${r.status}): ${r.stderr}`);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, { date: boolean; instant: string }>));
}

/** Our ISO text as the instant openpyxl prints: `2024-03-05` -> `2024-03-05T00:00:00.000`. */
function instant(text: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return `${text}T00:00:00.000`;
  return /T\d\d:\d\d:\d\d$/.test(text) ? `${text}.000` : text;
}

describe('the table of built-in date and time formats', () => {
  it('holds exactly the date and time ids of ECMA-376 18.8.30 and its East Asian and Thai ids', () => {
    expect([...BUILTIN_DATE_TIME_FORMATS.keys()].sort((a, b) => a - b)).toEqual(DATE_IDS);
    for (const id of NUMBER_IDS) expect(isBuiltinDateTimeFormat(id), `id ${id}`).toBe(false);
  });

  it('reads the date system as the file states it, 1 or true', () => {
    expect(usesDate1904('<workbook><workbookPr date1904="1"/></workbook>')).toBe(true);
    expect(usesDate1904('<workbook><workbookPr defaultThemeVersion="1" date1904="true" /></workbook>')).toBe(true);
    expect(usesDate1904("<x:workbook><x:workbookPr date1904='1'/></x:workbook>")).toBe(true);
    expect(usesDate1904('<workbook><workbookPr date1904="false"/></workbook>')).toBe(false);
    expect(usesDate1904('<workbook><workbookPr date1904="0"/></workbook>')).toBe(false);
    expect(usesDate1904('<workbook><workbookPr/></workbook>')).toBe(false);
    expect(usesDate1904('<workbook><bookViews/></workbook>')).toBe(false);
  });

  it('counts serials as Excel does in both date systems, 1900 with its 29 February', () => {
    const iso = (serial: number, date1904: boolean) => excelSerialDate(serial, date1904).toISOString();
    expect(iso(SERIAL, false)).toBe('2024-03-05T00:00:00.000Z');
    expect(iso(SERIAL_TIME, false)).toBe('2024-03-05T13:45:00.000Z');
    expect(iso(1, false)).toBe('1900-01-01T00:00:00.000Z');
    expect(iso(59, false)).toBe('1900-02-28T00:00:00.000Z');
    expect(iso(61, false)).toBe('1900-03-01T00:00:00.000Z');
    expect(iso(0, true)).toBe('1904-01-01T00:00:00.000Z');
    expect(iso(SERIAL - 1462, true)).toBe('2024-03-05T00:00:00.000Z');
    expect(iso(SERIAL, true)).toBe('2028-03-06T00:00:00.000Z');
  });
});

describe('reading metadata dates in built-in formats', () => {
  it('reads every built-in date and time id as a date, with no format string in the file', async () => {
    const { file, meta } = await read(rowsPerId(DATE_IDS));
    for (const id of DATE_IDS) expect(meta.get(`id-${id}`), `numFmtId ${id}`).toEqual({ day: '2024-03-05', when: '2024-03-05T13:45:00' });
    // openpyxl sees the same instants; ids its own table knows (14-22, 45-47) it reads as dates itself.
    for (const column of [2, 3]) {
      const theirs = openpyxlReads(file, column);
      for (const id of DATE_IDS) {
        const seen = theirs.get(`id-${id}`)!;
        expect(instant(meta.get(`id-${id}`)![column === 2 ? 'day' : 'when']!), `numFmtId ${id}`).toBe(seen.instant);
        if (id <= 22 || (id >= 45 && id <= 47)) expect(seen.date, `openpyxl reads numFmtId ${id} as a date`).toBe(true);
      }
    }
  });

  it('leaves numbers in every other built-in format numbers', async () => {
    const { file, meta } = await read(rowsPerId(NUMBER_IDS));
    for (const id of NUMBER_IDS) expect(meta.get(`id-${id}`), `numFmtId ${id}`).toEqual({ day: String(SERIAL), when: String(SERIAL_TIME) });
    const theirs = openpyxlReads(file, 2);
    for (const id of NUMBER_IDS) expect(theirs.get(`id-${id}`)?.date, `openpyxl on numFmtId ${id}`).toBe(false);
  });

  for (const [date1904, expected] of [
    [undefined, '2024-03-05'],
    ['0', '2024-03-05'],
    ['false', '2024-03-05'],
    ['1', '2028-03-06'],
    ['true', '2028-03-06'],
  ] as const) {
    it(`counts from the workbook's epoch: date1904=${date1904 ?? '(absent)'} -> ${expected}`, async () => {
      const ids = [14, 22, 31, 46, 57, 71];
      const { file, meta } = await read({ ...rowsPerId(ids), ...(date1904 === undefined ? {} : { date1904 }) });
      const theirs = openpyxlReads(file, 2);
      for (const id of ids) {
        expect(meta.get(`id-${id}`)?.day, `numFmtId ${id}`).toBe(expected);
        expect(`${expected}T00:00:00.000`, `openpyxl on numFmtId ${id}`).toBe(theirs.get(`id-${id}`)?.instant);
      }
    });
  }

  it("applies Excel's 1900 leap-year rule to the first two months of 1900, as openpyxl does", async () => {
    const serials = [1, 31, 59, 61];
    const { file, meta } = await read({ styles: [0, 14, 31], rows: [['filename', 'en', 'ja'], ...serials.map((n) => [`s${n}`, { n, s: 1 }, { n, s: 2 }])] });
    expect(serials.map((n) => meta.get(`s${n}`))).toEqual(['1900-01-01', '1900-01-31', '1900-02-28', '1900-03-01'].map((d) => ({ en: d, ja: d })));
    const theirs = openpyxlReads(file, 2);
    for (const n of serials) expect(instant(meta.get(`s${n}`)!.en!)).toBe(theirs.get(`s${n}`)?.instant);
  });

  it("keeps a time of day alone on Excel's day 0 of the workbook's date system", async () => {
    const time = {
      styles: [0, 20, 32],
      rows: [
        ['filename', 'en', 'ja'],
        ['t', { n: 0.5625, s: 1 }, { n: 0.5625, s: 2 }],
      ] as MinimalCell[][],
    };
    expect((await read(time)).meta.get('t')).toEqual({ en: '1899-12-30T13:30:00', ja: '1899-12-30T13:30:00' });
    expect((await read({ ...time, date1904: 'true' })).meta.get('t')).toEqual({ en: '1904-01-01T13:30:00', ja: '1904-01-01T13:30:00' });
  });

  it("lets the file's own format for a built-in id win, as Excel does", async () => {
    const { meta } = await read({
      styles: [0, 31, 1],
      numFmts: { 31: '0.00', 1: 'yyyy-mm-dd' },
      rows: [
        ['filename', 'a', 'b'],
        ['x', { n: SERIAL, s: 1 }, { n: SERIAL, s: 2 }],
      ],
    });
    expect(meta.get('x')).toEqual({ a: String(SERIAL), b: '2024-03-05' });
  });

  it('reads a formula result in a date format as a date, in General as a number', async () => {
    const { file, meta } = await read({
      styles: [0, 31, 14],
      date1904: 'true',
      rows: [
        ['filename', 'ja', 'en', 'plain'],
        ['f', { f: 'DATE(2024,3,5)', n: SERIAL - 1462, s: 1 }, { f: 'DATE(2024,3,5)', n: SERIAL - 1462, s: 2 }, { f: '1+1', n: 2 }],
      ],
    });
    expect(meta.get('f')).toEqual({ ja: '2024-03-05', en: '2024-03-05', plain: '2' });
    expect(openpyxlReads(file, 3).get('f')).toEqual({ date: true, instant: '2024-03-05T00:00:00.000' });
  });
});

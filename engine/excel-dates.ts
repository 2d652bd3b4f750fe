/**
 * Excel dates in upload metadata. An .xlsx has no date type: a date is a number (days since
 * the workbook's epoch) in a cell whose style has a date or time number format. That format
 * is either written in the file (`<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>`) or is
 * one of Excel's built-in formats, referenced by its id alone: the file says `numFmtId="14"`
 * or `numFmtId="31"` and nothing else, and every reader must know the id.
 *
 * exceljs knows the ids of the en-US formats (14-22, 45-47) but not the East Asian and Thai
 * ones (27-36, 50-58, 71-81), so a date that Excel, LibreOffice or openpyxl show as 2024-03-05
 * came out as its serial number "45356". It also reads `date1904="true"` (as LibreOffice
 * writes the 1904 date system) as the 1900 system, four years off, and does not apply Excel's
 * 1900 leap-year rule to the first two months of 1900. This file gives the reader the table of
 * built-in date and time ids (ECMA-376 Part 1, 18.8.30 numFmt), the workbook's date system as
 * the file states it, and Excel's rule for serials below 60, in one small adapter
 * (`teachDates`) that touches exceljs's internals and fails loudly if they change.
 */
import { createRequire } from 'node:module';
import type ExcelJS from 'exceljs';

/**
 * Every built-in number format id that is a date or a time, with its format code.
 *
 * - 14-22 and 45-47: the locale-independent codes of ECMA-376 Part 1, 18.8.30.
 * - 27-36 and 50-58: the East Asian ids (zh-tw, zh-cn, ja-jp, ko-kr). Each locale has its own
 *   code for an id, and for some ids (34, 35, 52, 53, 55, 56) the Chinese code is a time of
 *   day where the Japanese and Korean ones are dates; every one of them is a date or a time.
 *   The ja-jp code is listed.
 * - 71-81: the Thai (th-th) ids, listed with the Thai letters written as the Latin ones they
 *   stand for (ว day, ด month, ป year, ช hour, น minute, ท second).
 *
 * Ids not here (0-13, 37-44, 48, 49, 59-70 and the rest below 164) are numbers, currency,
 * percentages, fractions or text. Ids from 164 up are the file's own formats.
 */
export const BUILTIN_DATE_TIME_FORMATS: ReadonlyMap<number, string> = new Map([
  [14, 'mm-dd-yy'],
  [15, 'd-mmm-yy'],
  [16, 'd-mmm'],
  [17, 'mmm-yy'],
  [18, 'h:mm AM/PM'],
  [19, 'h:mm:ss AM/PM'],
  [20, 'h:mm'],
  [21, 'h:mm:ss'],
  [22, 'm/d/yy h:mm'],
  [27, '[$-411]ge.m.d'],
  [28, '[$-411]ggge"年"m"月"d"日"'],
  [29, '[$-411]ggge"年"m"月"d"日"'],
  [30, 'm/d/yy'],
  [31, 'yyyy"年"m"月"d"日"'],
  [32, 'h"時"mm"分"'],
  [33, 'h"時"mm"分"ss"秒"'],
  [34, 'yyyy"年"m"月"'],
  [35, 'm"月"d"日"'],
  [36, '[$-411]ge.m.d'],
  [45, 'mm:ss'],
  [46, '[h]:mm:ss'],
  [47, 'mmss.0'],
  [50, '[$-411]ge.m.d'],
  [51, '[$-411]ggge"年"m"月"d"日"'],
  [52, 'yyyy"年"m"月"'],
  [53, 'm"月"d"日"'],
  [54, '[$-411]ggge"年"m"月"d"日"'],
  [55, 'yyyy"年"m"月"'],
  [56, 'm"月"d"日"'],
  [57, '[$-411]ge.m.d'],
  [58, '[$-411]ggge"年"m"月"d"日"'],
  [71, 'd/m/yyyy'],
  [72, 'd-mmm-yy'],
  [73, 'd-mmm'],
  [74, 'mmm-yy'],
  [75, 'h:mm'],
  [76, 'h:mm:ss'],
  [77, 'd/m/yyyy h:mm'],
  [78, 'mm:ss'],
  [79, '[h]:mm:ss'],
  [80, 'mm:ss.0'],
  [81, 'd/m/bb'],
]);

/** True when `numFmtId` is a built-in date or time format (see BUILTIN_DATE_TIME_FORMATS). */
export function isBuiltinDateTimeFormat(numFmtId: number): boolean {
  return BUILTIN_DATE_TIME_FORMATS.has(numFmtId);
}

/**
 * Whether the workbook uses the 1904 date system, from the text of `xl/workbook.xml`:
 * `<workbookPr date1904="1"/>` or `"true"` (an xsd:boolean: Excel writes 1, LibreOffice
 * true). Absent, `0` or `false`: the 1900 system.
 */
export function usesDate1904(workbookXml: string): boolean {
  const pr = /<(?:[A-Za-z_][\w.-]*:)?workbookPr\b([^>]*)>/.exec(workbookXml);
  if (!pr) return false;
  const attr = /\bdate1904\s*=\s*(["'])\s*([^"']*?)\s*\1/.exec(pr[1]!);
  return attr !== null && (attr[2] === '1' || attr[2] === 'true');
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** What exceljs makes of serials 1 and 60 in the 1900 system (it counts from 1899-12-30). */
const SERIAL_1 = Date.UTC(1899, 11, 31);
const SERIAL_60 = Date.UTC(1900, 1, 28);

/**
 * Excel's 1900 leap-year rule: the 1900 system counts a 29 February 1900 that never was
 * (serial 60), so serials 1 to 59 are one day later than a plain count from 1899-12-30 gives
 * (serial 1 is 1900-01-01, not 1899-12-31). `date` is what exceljs read, counting plainly;
 * the result is the date Excel shows. Serial 60 stays 1900-02-28, as openpyxl reads it, and
 * a time of day alone (serial 0 to 1) stays on day 0. The 1904 system has no such day.
 */
export function excelCalendarDate(date: Date, date1904: boolean): Date {
  const t = date.getTime();
  if (date1904 || !(t >= SERIAL_1 && t < SERIAL_60)) return date;
  return new Date(t + DAY_MS);
}

/**
 * The date of serial `serial` (days since the epoch, with the time of day as its fraction)
 * as Excel shows it: the 1904 system counts from 1904-01-01, the 1900 system from 1899-12-30
 * with Excel's leap-year rule (`excelCalendarDate`). Milliseconds are rounded, as exceljs does.
 */
export function excelSerialDate(serial: number, date1904: boolean): Date {
  const plain = new Date(Math.round((serial - 25569 + (date1904 ? 1462 : 0)) * DAY_MS));
  return excelCalendarDate(plain, date1904);
}

/** exceljs's own test of a format code (the one its readers use for plain numbers). */
const exceljsUtils = createRequire(import.meta.url)('exceljs/lib/utils/utils.js') as { isDateFmt?: (fmt: string | undefined) => boolean };
if (typeof exceljsUtils.isDateFmt !== 'function') {
  throw new Error('exceljs has no utils.isDateFmt: the Excel date adapter (engine/excel-dates.ts) must be updated for this exceljs version');
}
const isDateFmt = exceljsUtils.isDateFmt;

/**
 * A cell's value as Excel shows it, given the cell's format code and the date system, for a
 * reader taught by `teachDates`: a date exceljs read gets Excel's calendar
 * (`excelCalendarDate`); a formula whose cached result is a number in a date format gets a
 * date result (exceljs's streaming reader leaves those as numbers, its other reader does
 * not). Any other value is returned as it is.
 */
export function asExcelShows(value: ExcelJS.CellValue, numFmt: string | undefined, date1904: boolean): ExcelJS.CellValue {
  if (value instanceof Date) return excelCalendarDate(value, date1904);
  if (value !== null && typeof value === 'object' && ('formula' in value || 'sharedFormula' in value)) {
    const result = (value as { result?: unknown }).result;
    if (typeof result === 'number' && Number.isFinite(result) && isDateFmt(numFmt))
      return { ...value, result: excelSerialDate(result, date1904) } as ExcelJS.CellValue;
  }
  return value;
}

/** The style manager of exceljs's streaming WorkbookReader (4.x), as far as `teachDates` reaches into it. */
interface StyleManagerInternals {
  model?: { styles?: ({ numFmtId?: number } | undefined)[] };
  index?: { numFmt?: Record<number, string | undefined> };
  getStyleModel(id: number): { numFmt?: string } | null;
}

function internalsChanged(what: string): never {
  throw new Error(`exceljs WorkbookReader ${what}: the Excel date adapter (engine/excel-dates.ts) must be updated for this exceljs version`);
}

/** Gives a style whose numFmtId is a built-in date or time id, not defined by the file, that id's format code. */
function teachBuiltinFormats(styles: unknown): void {
  const manager = styles as Partial<StyleManagerInternals> | undefined;
  if (!manager || typeof manager.getStyleModel !== 'function') internalsChanged('has no styles.getStyleModel');
  const original = manager.getStyleModel.bind(manager);
  manager.getStyleModel = (id: number) => {
    const model = original(id);
    const numFmtId = manager.model?.styles?.[id]?.numFmtId;
    if (model && numFmtId !== undefined && manager.index?.numFmt?.[numFmtId] === undefined) {
      const code = BUILTIN_DATE_TIME_FORMATS.get(numFmtId);
      // exceljs caches the model per style id: this is done once per style.
      if (code !== undefined) model.numFmt = code;
    }
    return model;
  };
}

/**
 * Makes an exceljs WorkbookReader, before it reads anything, read dates as Excel does:
 *
 * - a style whose numFmtId is a built-in date or time id that the file does not define
 *   itself gets that id's format code, so its numbers come out as dates (a format the file
 *   defines for the id wins, as in Excel);
 * - the workbook's date system is the one given (read from the file by `usesDate1904`),
 *   wherever workbook.xml lies in the zip.
 *
 * Throws when the reader lacks the internals it needs (an exceljs upgrade), so that such a
 * change fails every metadata read and its tests instead of turning dates back into numbers.
 */
export function teachDates(reader: object, date1904: boolean): void {
  // The reader makes a new style manager when it meets styles.xml: each one is taught.
  let styles: unknown = (reader as { styles?: unknown }).styles;
  teachBuiltinFormats(styles);
  Object.defineProperty(reader, 'styles', {
    configurable: true,
    get: () => styles,
    set: (next: unknown) => {
      teachBuiltinFormats(next);
      styles = next;
    },
  });
  // exceljs sets `properties` when it meets workbook.xml and reads `properties.model.date1904`
  // per worksheet; it takes only "1" for true. The date system the file states wins.
  const properties = { model: { date1904 } };
  Object.defineProperty(reader, 'properties', {
    configurable: true,
    get: () => properties,
    set: () => undefined,
  });
}

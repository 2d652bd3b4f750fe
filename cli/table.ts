/**
 * Plain text tables for the resource listings (`model list`, `collection list`, ...): a
 * header row, columns as wide as their widest cell, numbers right-aligned, two spaces
 * between columns, no trailing blanks. Pure text: what `| grep` and `| column` expect.
 */

export interface Column<T> {
  header: string;
  cell: (row: T) => string | number;
  /** Right-align (numbers do by default). */
  right?: boolean;
}

/** The table's lines, header first; no lines at all when `rows` is empty. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string[] {
  if (rows.length === 0) return [];
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const right = columns.map((c, i) => c.right ?? cells.every((row) => typeof row[i] === 'number'));
  const text = [columns.map((c) => c.header), ...cells.map((row) => row.map((v) => (typeof v === 'number' ? v.toLocaleString('en-US') : v)))];
  const widths = columns.map((_, i) => Math.max(...text.map((row) => (row[i] as string).length)));
  return text.map((row) =>
    row
      .map((v, i) => (right[i] ? (v as string).padStart(widths[i] as number) : (v as string).padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd(),
  );
}

/** `key  value` lines for a `show` command, keys padded to one width. */
export function fields(pairs: readonly [string, string | number | undefined][]): string[] {
  const shown = pairs.filter((p): p is [string, string | number] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
}

/** Prints lines, or `empty` on stderr when there are none (stdout stays clean for pipes). */
export function printLines(lines: readonly string[], empty: string): void {
  if (lines.length === 0) process.stderr.write(`${empty}\n`);
  else process.stdout.write(lines.join('\n') + '\n');
}

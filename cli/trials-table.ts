/**
 * The trials table of a tune run (`synapse run status <tune id>`): one row per trial, best
 * first (the `rank` the tune keeps: completed trials by metric, then pruned, running, the
 * rest), with its number, status, epochs, final and best metric and params. Plain text in
 * fixed columns, so it reads in a terminal and greps in a script; `--json` has every field.
 */
import type { TuneTrial } from '../contracts/tune.js';

/** Rows shown at most; the rest are counted. */
export const MAX_TRIAL_ROWS = 50;

/**
 * The table's lines for `trials` (empty when there are none). `metric` names the metric
 * column (default `metric`).
 */
export function trialsTable(trials: readonly TuneTrial[], metric = 'metric', maxRows = MAX_TRIAL_ROWS): string[] {
  if (trials.length === 0) return [];
  const sorted = [...trials].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.number - b.number);
  const rows = sorted.slice(0, maxRows).map((t) => [
    String(t.number),
    t.status,
    String(t.epochs),
    num(t.metric),
    num(t.best),
    Object.entries(t.params)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : JSON.stringify(v)}`)
      .join(' '),
  ]);
  const header = ['trial', 'status', 'epochs', metric, `best ${metric}`, 'params'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i === 0 || i === 2 || i === 3 || i === 4 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (sorted.length > maxRows) out.push(`(${sorted.length - maxRows} more trials: --json has them all)`);
  return out;
}

/** A number in at most 6 significant digits; `-` for none. */
function num(v: number | null): string {
  if (v === null) return '-';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/**
 * Showing a run in a terminal: one bar per progress category (its label, rate, ETA and
 * elapsed time), the metrics, and for training the latest epochs with a loss/accuracy
 * sparkline, redrawn in place on a TTY; JSON lines anywhere else (pipes, CI logs, programs).
 *
 * Why every line is cut to the terminal's width: a line that wraps takes two rows, and
 * "move up N lines" then leaves the top of the old frame on screen — at 60 columns the old
 * view repeated itself ~30 times. The frame is redrawn on `resize`, and the rows a frame took
 * are recounted at the new width before it is cleared.
 */
import type { RunEvent } from '../platform/run-store.js';
import {
  categoryFraction,
  overallPercent,
  statusWords,
  TERMINAL_STATUSES,
  type CategoryProgress,
  type EpochMetrics,
  type MetricValues,
  type ProgressCategoryDef,
  type RunState,
  type RunStatus,
} from '../contracts/run-state.js';

/** Epoch rows kept on screen (all of them are in `synapse run status --json`). */
export const EPOCH_ROWS = 10;
const SPARK = '▁▂▃▄▅▆▇█';

export interface RunView {
  event(e: RunEvent): void;
  done(state: RunState): void;
}

export interface TerminalViewOptions {
  /** Show `event` records (item_checked ...) as lines. */
  showEvents?: boolean;
  /** Show DEBUG log lines (hidden by default). */
  verbose?: boolean;
  /** Milliseconds clock; tests pass their own. */
  now?: () => number;
}

function fmtMetric(v: unknown): string {
  return typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(4))) : String(v);
}

export function formatLogTime(iso: string): string {
  return iso.slice(11, 23);
}

/** `75s` -> `1m15s`, `3725s` -> `1h02m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Items per second as people read it: `12.3/s`, `0.25/s`, `4.0/min` when slower than one in 10 s. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '';
  if (perSecond < 0.1) return `${(perSecond * 60).toFixed(1)}/min`;
  return `${perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toFixed(2)}/s`;
}

/** A sparkline of the values, scaled between their min and max, at most `width` characters (the newest). */
export function sparkline(values: number[], width: number): string {
  const v = values.slice(-Math.max(1, width));
  if (v.length === 0) return '';
  const min = Math.min(...v);
  const max = Math.max(...v);
  return v.map((x) => SPARK[max === min ? 3 : Math.round(((x - min) / (max - min)) * (SPARK.length - 1))]).join('');
}

/** Cuts a line to `width` columns (one column per code point: the view writes no wide characters). */
export function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

/**
 * A result in a few lines: scalars as `key: value`, arrays as their length, objects as their
 * keys; at most `maxLines` lines (`--json` prints the whole of it).
 */
export function summariseResult(result: unknown, maxLines = 6): string[] {
  if (result === undefined || result === null) return ['result: (none)'];
  if (typeof result !== 'object') return [`result: ${String(result)}`];
  if (Array.isArray(result)) return [`result: ${result.length} items`];
  const entries = Object.entries(result as Record<string, unknown>);
  const shown = entries.slice(0, maxLines).map(([k, v]) => {
    if (v === null || typeof v !== 'object') return `  ${k}: ${typeof v === 'number' ? fmtMetric(v) : String(v)}`;
    if (Array.isArray(v)) return `  ${k}: ${v.length} items`;
    const keys = Object.keys(v);
    return `  ${k}: {${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}}`;
  });
  if (entries.length > maxLines) shown.push(`  … ${entries.length - maxLines} more fields`);
  return ['result:', ...shown];
}

interface Timing {
  /** When the category was first seen, and its count then (the rate counts from there). */
  since: number;
  from: number;
}

/** Live progress on a terminal. */
export class TerminalRunView implements RunView {
  private readonly progress: Record<string, CategoryProgress> = {};
  private readonly timing: Record<string, Timing> = {};
  private readonly metrics: Record<string, MetricValues> = {};
  private epochs: EpochMetrics[] = [];
  private status: { status: RunStatus; cancelRequested?: boolean } | undefined;
  /** When the run started (its startedAt once known; until then, when the view opened). */
  private started: number;
  private readonly now: () => number;
  /** The lines of the frame on screen (to count the rows they take after a resize). */
  private drawnLines: string[] = [];
  private drawnWidth = 0;
  private lastDraw = 0;
  private finished = false;
  private readonly onResize = () => this.draw(true);

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly declared: Record<string, ProgressCategoryDef> = {},
    private readonly options: TerminalViewOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
    if (typeof out.on === 'function') out.on('resize', this.onResize);
  }

  event(e: RunEvent): void {
    const d = e.data;
    if (d.kind === 'progress') this.progressUpdate(d.category, d.current, d.total);
    else if (d.kind === 'metrics') this.metricsUpdate(d.category, d.values);
    else if (d.kind === 'log') this.log(d.level, d.message, e.at);
    else if (d.kind === 'event' && this.options.showEvents) this.line(`${formatLogTime(e.at)} EVENT   ${d.event} ${JSON.stringify(d.data)}`);
  }

  /** A log line above the frame; DEBUG only with `verbose`. */
  log(level: string, message: string, at: string = new Date(this.now()).toISOString()): void {
    if (level.toUpperCase() === 'DEBUG' && !this.options.verbose) return;
    this.line(`${formatLogTime(at)} ${level.toUpperCase().padEnd(7)} ${message}`);
  }

  progressUpdate(category: string, current: number, total: number): void {
    if (!this.timing[category]) this.timing[category] = { since: this.now(), from: current };
    this.progress[category] = { current, total };
    this.draw(false);
  }

  metricsUpdate(category: string, values: MetricValues): void {
    this.metrics[category] = { ...this.metrics[category], ...values };
    this.draw(false);
  }

  /** From the workflow's state (polled): status, cancellation, epochs, progress and metrics. */
  stateUpdate(state: Partial<RunState>): void {
    if (state.status) this.status = { status: state.status, ...(state.cancelRequested ? { cancelRequested: true } : {}) };
    const startedAt = state.startedAt ? Date.parse(state.startedAt) : NaN;
    if (Number.isFinite(startedAt)) this.started = startedAt;
    if (state.epochs) this.epochs = state.epochs;
    for (const [cat, p] of Object.entries(state.progress ?? {})) {
      if (!this.timing[cat]) this.timing[cat] = { since: this.now(), from: p.current };
      this.progress[cat] = p;
    }
    for (const [cat, values] of Object.entries(state.metrics ?? {})) this.metrics[cat] = { ...this.metrics[cat], ...values };
    this.draw(false);
  }

  line(text: string): void {
    this.clear();
    // Log lines may wrap: they are written once, above the frame, never redrawn.
    this.out.write(text + '\n');
    this.draw(true);
  }

  /** The last frame: a completed run's bars at 100 %. */
  done(state: RunState): void {
    this.stateUpdate(state);
    if (state.status === 'completed') this.completed();
    else {
      this.draw(true);
      this.finish();
    }
  }

  /** The action returned: every bar at 100 % (a category with no total yet counts as done), the last frame. */
  completed(): void {
    this.status = { status: 'completed' };
    for (const name of this.names()) {
      const p = this.progress[name];
      this.progress[name] = p && p.total > 0 ? { current: p.total, total: p.total } : { current: 1, total: 1 };
    }
    this.draw(true);
    this.finish();
  }

  /** Stops redrawing (the frame stays on screen) and stops listening for resizes. */
  finish(): void {
    this.finished = true;
    this.drawnLines = [];
    if (typeof this.out.off === 'function') this.out.off('resize', this.onResize);
  }

  private columns(): number {
    return Math.max(20, this.out.columns || 80);
  }

  private clear(): void {
    this.out.write(this.clearSequence());
    this.drawnLines = [];
  }

  /** The escape codes that erase the frame on screen ('' when none is). */
  private clearSequence(): string {
    if (this.drawnLines.length === 0) return '';
    // After a narrower resize a line drawn at the old width may now take several rows.
    const cols = this.columns();
    const rows = cols < this.drawnWidth ? this.drawnLines.reduce((n, l) => n + Math.max(1, Math.ceil([...l].length / cols)), 0) : this.drawnLines.length;
    return `\x1b[${rows}A\r\x1b[J`;
  }

  private names(): string[] {
    return [...new Set([...Object.keys(this.declared), ...Object.keys(this.progress)])];
  }

  /** The frame's lines at `cols` columns, none longer than cols - 1. */
  frame(cols: number = this.columns()): string[] {
    const now = this.now();
    const names = this.names();
    const label = (n: string) => this.declared[n]?.label ?? n;
    const labelWidth = Math.min(Math.max(8, ...names.map((n) => label(n).length)), Math.floor(cols / 3));
    const lines: string[] = [];
    const head = [`elapsed ${formatDuration(now - this.started)}`];
    if (this.status) head.unshift(statusWords(this.status));
    if (names.length > 1) head.push(`overall ${overallPercent(this.progress, this.declared)}%`);
    lines.push(head.join(' · '));
    const rows = names.map((name) => {
      const p = this.progress[name];
      const frac = p ? categoryFraction(p) : 0;
      const pct = `${(frac * 100).toFixed(0)}%`.padStart(4);
      const counts = p ? `${p.current}/${p.total}` : '-';
      const extra: string[] = [];
      const t = this.timing[name];
      // Rate and ETA while the run goes on; an ended run shows where it stopped.
      if (p && t && frac < 1 && !(this.status && TERMINAL_STATUSES.includes(this.status.status))) {
        const secs = (now - t.since) / 1000;
        const rate = secs >= 1 ? (p.current - t.from) / secs : 0;
        if (rate > 0) extra.push(formatRate(rate), `eta ${formatDuration(((p.total - p.current) / rate) * 1000)}`);
      }
      return { name, frac, tail: ` ${pct} ${counts}${extra.length ? ` ${extra.join(' ')}` : ''}` };
    });
    // One bar width for all rows (they line up): what the label and the longest numbers leave, 10 to 30 columns.
    const longestTail = Math.max(0, ...rows.map((r) => r.tail.length));
    const barWidth = Math.max(10, Math.min(30, cols - 1 - labelWidth - 3 - longestTail));
    for (const { name, frac, tail } of rows) {
      const filled = Math.round(frac * barWidth);
      lines.push(`${fit(label(name), labelWidth).padEnd(labelWidth)} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]${tail}`);
    }
    for (const [cat, values] of Object.entries(this.metrics)) {
      lines.push(
        `${label(cat)}: ${Object.entries(values)
          .map(([k, v]) => `${k}=${fmtMetric(v)}`)
          .join('  ')}`,
      );
    }
    if (this.epochs.length > 0) lines.push(...this.epochLines(cols));
    return lines.map((l) => fit(l, cols - 1));
  }

  /** The latest epochs as a table, and a sparkline per loss / accuracy metric over all epochs. */
  private epochLines(cols: number): string[] {
    const keys = [...new Set(this.epochs.flatMap((e) => Object.keys(e.metrics)))];
    const cell = (v: unknown) => (v === undefined ? '-' : fmtMetric(v)).padStart(10);
    const lines = [`${'epoch'.padStart(5)} ${keys.map((k) => fit(k, 10).padStart(10)).join(' ')}`];
    const latest = this.epochs.slice(-EPOCH_ROWS);
    if (this.epochs.length > latest.length) lines.push(`  … ${this.epochs.length - latest.length} earlier epochs`);
    for (const e of latest) lines.push(`${String(e.epoch).padStart(5)} ${keys.map((k) => cell(e.metrics[k])).join(' ')}`);
    for (const k of keys.filter((k) => /loss|acc/i.test(k))) {
      const values = this.epochs.map((e) => e.metrics[k]).filter((v): v is number => typeof v === 'number');
      if (values.length < 2) continue;
      const name = fit(k, 14).padEnd(14);
      lines.push(`${name} ${sparkline(values, cols - 1 - 15 - 12)} ${fmtMetric(values.at(-1))}`);
    }
    return lines;
  }

  private draw(force: boolean): void {
    if (this.finished) return;
    const now = this.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const cols = this.columns();
    const lines = this.frame(cols);
    // One write: erase and redraw together, so no one ever sees (or captures) a blank frame.
    this.out.write(this.clearSequence() + lines.join('\n') + '\n');
    this.drawnLines = lines;
    this.drawnWidth = cols;
  }
}

/** One JSON object per line: every event, then `{"type":"end","state":...}`. */
export class JsonLinesRunView implements RunView {
  constructor(private readonly out: NodeJS.WritableStream) {}
  event(e: RunEvent): void {
    this.out.write(JSON.stringify({ type: 'event', id: e.id, attempt: e.attempt, at: e.at, ...e.data }) + '\n');
  }
  done(state: RunState): void {
    this.out.write(JSON.stringify({ type: 'end', state }) + '\n');
  }
}

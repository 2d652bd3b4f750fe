/**
 * Showing a run in a terminal: progress bars per category redrawn in place on a TTY,
 * JSON lines anywhere else (pipes, CI logs, other programs).
 */
import type { RunEvent } from '../platform/run-store.js';
import { categoryFraction, overallPercent, type CategoryProgress, type MetricValues, type ProgressCategoryDef, type RunState } from '../contracts/run-state.js';

const BAR_WIDTH = 28;

export interface RunView {
  event(e: RunEvent): void;
  done(state: RunState): void;
}

function fmtMetric(v: unknown): string {
  return typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v);
}

export function formatLogTime(iso: string): string {
  return iso.slice(11, 23);
}

/** Live progress bars on a terminal. */
export class TerminalRunView implements RunView {
  private readonly progress: Record<string, CategoryProgress> = {};
  private readonly metrics: Record<string, MetricValues> = {};
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly declared: Record<string, ProgressCategoryDef> = {},
    private readonly showEvents = false,
  ) {}

  event(e: RunEvent): void {
    const d = e.data;
    if (d.kind === 'progress') this.progress[d.category] = { current: d.current, total: d.total };
    else if (d.kind === 'metrics') this.metrics[d.category] = { ...this.metrics[d.category], ...d.values };
    else if (d.kind === 'log') this.line(`${formatLogTime(e.at)} ${d.level.padEnd(7)} ${d.message}`);
    else if (d.kind === 'event' && this.showEvents) this.line(`${formatLogTime(e.at)} EVENT   ${d.event} ${JSON.stringify(d.data)}`);
    this.draw(false);
  }

  progressUpdate(category: string, current: number, total: number): void {
    this.progress[category] = { current, total };
    this.draw(false);
  }

  metricsUpdate(category: string, values: MetricValues): void {
    this.metrics[category] = { ...this.metrics[category], ...values };
    this.draw(false);
  }

  line(text: string): void {
    this.clear();
    this.out.write(text + '\n');
    this.draw(true);
  }

  done(state: RunState): void {
    Object.assign(this.progress, state.progress);
    Object.assign(this.metrics, state.metrics);
    this.draw(true);
    this.drawn = 0;
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const names = [...new Set([...Object.keys(this.declared), ...Object.keys(this.progress)])];
    const width = Math.max(8, ...names.map((n) => n.length));
    const lines: string[] = [];
    for (const name of names) {
      const p = this.progress[name];
      const frac = p ? categoryFraction(p) : 0;
      const filled = Math.round(frac * BAR_WIDTH);
      const pct = `${(frac * 100).toFixed(0)}%`.padStart(4);
      lines.push(`${name.padEnd(width)} [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${pct}  ${p ? `${p.current}/${p.total}` : '-'}`);
    }
    if (names.length > 1) lines.push(`${'overall'.padEnd(width)} ${overallPercent(this.progress, this.declared)}%`);
    for (const [cat, values] of Object.entries(this.metrics)) {
      lines.push(
        `${cat}: ${Object.entries(values)
          .map(([k, v]) => `${k}=${fmtMetric(v)}`)
          .join('  ')}`,
      );
    }
    this.clear();
    if (lines.length > 0) this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
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

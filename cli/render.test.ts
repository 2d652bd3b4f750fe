/**
 * The terminal view of a run (render.ts; the test sits beside it: only bin/ and cli/ import cli/) drawn into a fake TTY: labels not codes, rate /
 * ETA / elapsed, no line wider than the terminal (a wrapped line broke the redraw into
 * repeated lines at 60 columns), the final frame at 100 %, DEBUG hidden unless verbose, the
 * epochs table and sparkline, "cancellation requested", and the result in a few lines.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TerminalRunView, formatDuration, sparkline, summariseResult } from './render.js';
import type { RunState } from '../contracts/run-state.js';

const ESC = String.fromCharCode(27);
/** The clear of the previous frame: up N rows, column 0, erase below. */
const CLEAR = new RegExp(`${ESC}\\[\\d+A\\r${ESC}\\[J`);
const UP = new RegExp(`${ESC}\\[(\\d+)A`, 'g');

class FakeTty extends EventEmitter {
  text = '';
  constructor(public columns: number) {
    super();
  }
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

/** What is on screen: the text after the last clear of the frame, ANSI codes removed. */
function lastFrame(tty: FakeTty): string[] {
  const parts = tty.text.split(CLEAR);
  return parts.at(-1)!.trimEnd().split('\n');
}

function setup(columns: number, verbose = false) {
  let now = 1_000_000;
  const tty = new FakeTty(columns);
  const view = new TerminalRunView(
    tty as unknown as NodeJS.WriteStream,
    { train: { weight: 0.8, label: 'Training epochs' }, model_upload: { weight: 0.2, label: 'Uploading the model' } },
    { now: () => now, ...(verbose ? { verbose: true } : {}) },
  );
  return { tty, view, tick: (ms: number) => (now += ms) };
}

const state = (over: Partial<RunState>): RunState => ({
  runId: 'r1',
  plugin: { code: 'p', version: '1' },
  action: 'train',
  category: 'neural_net',
  method: 'job',
  status: 'running',
  percent: 0,
  progressCategories: {},
  progress: {},
  metrics: {},
  attempt: 1,
  startedAt: '',
  updatedAt: '',
  ...over,
});

describe('TerminalRunView', () => {
  it('shows labels, rate, ETA and elapsed time', () => {
    const { tty, view, tick } = setup(120);
    view.progressUpdate('train', 0, 10);
    tick(4000);
    view.progressUpdate('train', 2, 10);
    const frame = lastFrame(tty);
    expect(frame[0]).toContain('elapsed 4s');
    const bar = frame.find((l) => l.startsWith('Training epochs'))!;
    expect(bar).toContain('20% 2/10 0.50/s eta 16s');
    expect(frame.join('\n')).not.toMatch(/^train /m);
  });

  it('keeps every line within 60 columns and clears exactly what it drew', () => {
    const { tty, view, tick } = setup(60);
    for (let i = 1; i <= 5; i++) {
      tick(1000);
      view.progressUpdate('train', i, 5);
      view.metricsUpdate('train', { train_loss: 1 / i, train_accuracy: 0.5 + i / 20, a_very_long_metric_name_that_goes_on: 123456.789 });
    }
    const frame = lastFrame(tty);
    for (const l of frame) expect([...l].length).toBeLessThan(60);
    // Each redraw moves up by the number of lines of the previous frame: nothing left behind.
    const ups = [...tty.text.matchAll(UP)].map((m) => Number(m[1]));
    const frames = tty.text.split(CLEAR);
    expect(ups.length).toBeGreaterThan(0);
    ups.forEach((n, i) => expect(n).toBe(frames[i]!.split('\n').length - 1));
  });

  it('recounts the rows a frame takes after a narrower resize', () => {
    const { tty, view } = setup(120);
    view.metricsUpdate('train', { m: 'x'.repeat(100) });
    const drawn = lastFrame(tty);
    const longest = Math.max(...drawn.map((l) => l.length));
    expect(longest).toBeGreaterThan(60);
    tty.columns = 60;
    tty.text = '';
    tty.emit('resize');
    const rows = drawn.reduce((n, l) => n + Math.max(1, Math.ceil(l.length / 60)), 0);
    expect(tty.text.startsWith(`${ESC}[${rows}A`)).toBe(true);
    expect(rows).toBeGreaterThan(drawn.length);
    for (const l of lastFrame(tty)) expect(l.length).toBeLessThan(60);
  });

  it('ends a completed run at 100 % and stops redrawing', () => {
    const { tty, view } = setup(100);
    view.progressUpdate('train', 3, 6);
    view.done(state({ status: 'completed' }));
    const frame = lastFrame(tty);
    expect(frame[0]).toMatch(/^completed/);
    expect(frame.find((l) => l.startsWith('Training epochs'))).toContain('100% 6/6');
    expect(frame.find((l) => l.startsWith('Uploading the model'))).toContain('100%');
    const before = tty.text;
    const cancelled = setup(100);
    cancelled.view.progressUpdate('train', 1, 6);
    cancelled.tick(2000);
    cancelled.view.progressUpdate('train', 3, 6);
    expect(lastFrame(cancelled.tty).find((l) => l.startsWith('Training epochs'))).toContain('eta');
    cancelled.view.done(state({ status: 'cancelled' }));
    const last = lastFrame(cancelled.tty);
    expect(last[0]).toMatch(/^cancelled/);
    expect(last.find((l) => l.startsWith('Training epochs'))).toMatch(/ 50% 3\/6$/);
    tty.emit('resize');
    view.progressUpdate('train', 1, 6);
    expect(tty.text).toBe(before);
  });

  it("counts elapsed time from the run's start, not from when watching began", () => {
    const { tty, view } = setup(100);
    view.stateUpdate(state({ startedAt: new Date(1_000_000 - 95_000).toISOString() }));
    expect(lastFrame(tty)[0]).toBe('running · elapsed 1m35s · overall 0%');
  });

  it('hides DEBUG log lines unless verbose', () => {
    const quiet = setup(100);
    quiet.view.log('DEBUG', 'noise');
    quiet.view.log('INFO', 'hello');
    expect(quiet.tty.text).not.toContain('noise');
    expect(quiet.tty.text).toContain('INFO    hello');
    const loud = setup(100, true);
    loud.view.log('debug', 'noise');
    expect(loud.tty.text).toContain('DEBUG   noise');
  });

  it('shows cancellation requested, the latest 10 epochs and a loss / accuracy sparkline', () => {
    const { tty, view } = setup(100);
    const epochs = Array.from({ length: 14 }, (_, i) => ({ epoch: i + 1, metrics: { train_loss: 2 / (i + 1), val_accuracy: i / 14 } }));
    view.stateUpdate(state({ cancelRequested: true, epochs, progress: { train: { current: 14, total: 20 } } }));
    const frame = lastFrame(tty);
    expect(frame[0]).toContain('running (cancellation requested)');
    const rows = frame.filter((l) => /^\s+\d+ /.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(rows).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(frame).toContain('  … 4 earlier epochs');
    const loss = frame.find((l) => l.startsWith('train_loss '))!;
    expect(loss).toContain('█▄▃'); // falling loss: the first epochs highest
    expect(loss.trim().endsWith('0.1429')).toBe(true);
    expect(frame.find((l) => l.startsWith('val_accuracy '))).toContain('▁▂▂▃▃▄▄▅▅▆▆▇▇█');
  });
});

describe('formatting helpers', () => {
  it('formats durations and sparklines', () => {
    expect(formatDuration(75_000)).toBe('1m15s');
    expect(formatDuration(3_725_000)).toBe('1h02m');
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([1, 2, 3], 2)).toBe('▁█');
  });

  it('summarises a result in a few lines', () => {
    const r = summariseResult({ total: 12, success: 12, files: [1, 2, 3], model: { id: 1, name: 'm' }, a: 1, b: 2, c: 3, d: 4 });
    expect(r).toEqual(['result:', '  total: 12', '  success: 12', '  files: 3 items', '  model: {id, name}', '  a: 1', '  b: 2', '  … 2 more fields']);
    expect(summariseResult(undefined)).toEqual(['result: (none)']);
  });
});

/**
 * The epoch table of a train run's Web UI details (issue 17 item 1): a column per metric so a
 * row stays one short line, every epoch up to ten, else the latest ten under a line that says so.
 */
import { describe, expect, it } from 'vitest';
import { epochTableMarkdown, UI_EPOCH_ROWS, type EpochMetrics } from '../../contracts/run-state.js';

const epochs = (n: number): EpochMetrics[] =>
  Array.from({ length: n }, (_, i) => ({ epoch: i + 1, metrics: { loss: 1 / (i + 2), accuracy: 0.5 + i / 100, val_accuracy: 0.123456789 } }));

describe('epochTableMarkdown', () => {
  it('shows every epoch while there are at most ten, one column per metric', () => {
    const lines = epochTableMarkdown(epochs(3));
    expect(lines).toEqual([
      '| epoch | loss | accuracy | val_accuracy |',
      '|---|---|---|---|',
      '| 1 | 0.5 | 0.5 | 0.1235 |',
      '| 2 | 0.3333 | 0.51 | 0.1235 |',
      '| 3 | 0.25 | 0.52 | 0.1235 |',
    ]);
    expect(epochTableMarkdown(epochs(UI_EPOCH_ROWS)).filter((l) => /^\| \d/.test(l))).toHaveLength(10);
  });

  it('shows the latest ten of more and says so', () => {
    const lines = epochTableMarkdown(epochs(51));
    expect(lines[0]).toBe('Epochs: latest 10 of 51');
    const rows = lines.filter((l) => /^\| \d/.test(l)).map((l) => Number(/^\| (\d+)/.exec(l)![1]));
    expect(rows).toEqual([42, 43, 44, 45, 46, 47, 48, 49, 50, 51]);
  });

  it('leaves a cell empty for a metric an epoch did not report', () => {
    const lines = epochTableMarkdown([
      { epoch: 1, metrics: { loss: 0.5 } },
      { epoch: 2, metrics: { loss: 0.4, note: 'ok' } },
    ]);
    expect(lines).toContain('| 1 | 0.5 |  |');
    expect(lines).toContain('| 2 | 0.4 | ok |');
  });
});

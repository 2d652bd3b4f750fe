/**
 * The run-state model shared by the workflow, the CLI and the Web UI: per-category
 * fractions, the weighted overall percent and the markdown shown as a run's details.
 */
import { describe, expect, it } from 'vitest';
import {
  categoryFraction,
  describeForUi,
  overallPercent,
  TERMINAL_STATUSES,
  type CategoryProgress,
  type ProgressCategoryDef,
  type RunState,
} from '../../contracts/run-state.js';

const p = (current: number, total: number): CategoryProgress => ({ current, total });

/** The demo plugin's declaration: load weighs 1, validate 4. */
const DEMO: Record<string, ProgressCategoryDef> = {
  load: { weight: 1, label: 'Load dataset' },
  validate: { weight: 4, label: 'Validate items' },
};

describe('categoryFraction', () => {
  it('is current / total', () => {
    expect(categoryFraction(p(0, 10))).toBe(0);
    expect(categoryFraction(p(3, 12))).toBe(0.25);
    expect(categoryFraction(p(10, 10))).toBe(1);
  });

  it('a total of 0 (or less) means nothing to do: done', () => {
    expect(categoryFraction(p(0, 0))).toBe(1);
    expect(categoryFraction(p(5, 0))).toBe(1);
    expect(categoryFraction(p(0, -1))).toBe(1);
  });

  it('clamps to 0..1', () => {
    expect(categoryFraction(p(15, 10))).toBe(1);
    expect(categoryFraction(p(-3, 10))).toBe(0);
  });
});

describe('overallPercent', () => {
  it('weighs declared categories (weights 1 and 4)', () => {
    expect(overallPercent({}, DEMO)).toBe(0);
    expect(overallPercent({ load: p(10, 10) }, DEMO)).toBe(20);
    expect(overallPercent({ load: p(10, 10), validate: p(0, 10) }, DEMO)).toBe(20);
    expect(overallPercent({ load: p(10, 10), validate: p(5, 10) }, DEMO)).toBe(60);
    expect(overallPercent({ validate: p(10, 10) }, DEMO)).toBe(80);
    expect(overallPercent({ load: p(1, 1), validate: p(10, 10) }, DEMO)).toBe(100);
  });

  it('a declared category not yet reported counts as 0 done', () => {
    const declared = { a: { weight: 1 }, b: { weight: 1 }, c: { weight: 2 } };
    expect(overallPercent({ a: p(1, 1), b: p(1, 1) }, declared)).toBe(50);
  });

  it('ignores reported categories that are not declared when some are declared', () => {
    expect(overallPercent({ load: p(10, 10), extra: p(0, 100) }, DEMO)).toBe(20);
    expect(overallPercent({ extra: p(100, 100) }, DEMO)).toBe(0);
  });

  it('with no declarations, every reported category weighs the same', () => {
    expect(overallPercent({ a: p(1, 1), b: p(0, 4) }, {})).toBe(50);
    expect(overallPercent({ a: p(1, 4), b: p(1, 2), c: p(0, 4), d: p(4, 4) }, {})).toBe(43.8); // (0.25+0.5+0+1)/4
  });

  it('a category with total 0 is done', () => {
    expect(overallPercent({ load: p(0, 0), validate: p(0, 0) }, DEMO)).toBe(100);
    expect(overallPercent({ load: p(0, 0) }, DEMO)).toBe(20);
    expect(overallPercent({ only: p(0, 0) }, {})).toBe(100);
  });

  it('clamps progress above total to done, and below zero to nothing', () => {
    expect(overallPercent({ load: p(50, 10), validate: p(99, 10) }, DEMO)).toBe(100);
    expect(overallPercent({ load: p(50, 10), validate: p(-5, 10) }, DEMO)).toBe(20);
  });

  it('with no categories at all is 0', () => {
    expect(overallPercent({}, {})).toBe(0);
  });

  it('all declared weights 0 is 0, not NaN', () => {
    expect(overallPercent({ a: p(1, 1) }, { a: { weight: 0 } })).toBe(0);
  });

  it('rounds to one decimal', () => {
    expect(overallPercent({ a: p(1, 3) }, {})).toBe(33.3);
    expect(overallPercent({ a: p(2, 3) }, {})).toBe(66.7);
    expect(overallPercent({ train: p(1, 7) }, { dataset: { weight: 20 }, train: { weight: 75 }, model_upload: { weight: 5 } })).toBe(10.7);
  });
});

function runState(overrides: Partial<RunState> = {}): RunState {
  return {
    runId: 'run-1',
    plugin: { code: 'demo-validation', version: '1.0.0' },
    action: 'validation',
    category: 'data_validation',
    method: 'job',
    status: 'running',
    percent: 0,
    progress: {},
    metrics: {},
    progressCategories: DEMO,
    attempt: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('describeForUi', () => {
  it('heads with plugin, version, action, status and percent', () => {
    const md = describeForUi(runState({ status: 'completed', percent: 100 }));
    expect(md.split('\n')[0]).toBe('**demo-validation@1.0.0 · validation** — completed, 100%');
  });

  it('shows the progress table: declared categories first, unreported ones with "?" totals', () => {
    const progress = { validate: p(5, 10) };
    const state = runState({ progress, percent: overallPercent(progress, DEMO), step: 'validating items' });
    const lines = describeForUi(state).split('\n');
    expect(lines).toEqual([
      '**demo-validation@1.0.0 · validation** — running, 40%',
      'Step: validating items',
      '',
      '| progress | done | of |',
      '|---|---|---|',
      '| load | 0 | ? |',
      '| validate | 5 | 10 |',
    ]);
  });

  it('lists reported categories that were not declared, after the declared ones', () => {
    const md = describeForUi(runState({ progress: { extra: p(1, 2), load: p(3, 3) } }));
    const table = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| progress'));
    expect(table).toEqual(['| load | 3 | 3 |', '| validate | 0 | ? |', '| extra | 1 | 2 |']);
  });

  it('has no table and no step line when there is nothing to show', () => {
    const md = describeForUi(runState({ progressCategories: {} }));
    expect(md).toBe('**demo-validation@1.0.0 · validation** — running, 0%');
    expect(md).not.toContain('| progress |');
    expect(md).not.toContain('Step:');
  });

  it('shows each metric group on its own line, numbers to 6 significant digits', () => {
    const md = describeForUi(
      runState({
        progress: { load: p(1, 1), validate: p(3, 3) },
        metrics: {
          validation: { checked: 3, valid: 2, validRate: 2 / 3 },
          extra: { note: 'ok', flag: true, missing: null },
        },
      }),
    );
    expect(md).toContain('| progress | done | of |');
    expect(md).toContain('\n\nMetrics (validation): checked=3, valid=2, validRate=0.666667');
    expect(md).toContain('\n\nMetrics (extra): note=ok, flag=true, missing=null');
    expect(md.indexOf('| validate | 3 | 3 |')).toBeLessThan(md.indexOf('Metrics (validation)'));
  });
});

describe('TERMINAL_STATUSES', () => {
  it('holds every end state and neither pending nor running', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(['cancelled', 'completed', 'failed', 'terminated', 'timed_out']);
  });
});

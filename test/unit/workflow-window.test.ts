/**
 * inWindow (workflows/window.ts), the one bounded-parallel helper of the run shapes: it has no
 * Temporal calls of its own, so it runs here as plain async code; the workflow tests
 * (workflow-export, workflow-upload) check it inside real workflows.
 */
import { describe, expect, it } from 'vitest';
import { inWindow, range } from '../../workflows/window.js';
import { InFlight } from '../workflow-test-env.js';

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('inWindow', () => {
  it('runs every item once, never more than the limit at a time, and fills the window', async () => {
    const inFlight = new InFlight();
    const seen: number[] = [];
    await inWindow(range(0, 23), 4, (item) =>
      inFlight.run(async () => {
        seen.push(item);
        await tick(1 + ((item * 7) % 5));
      }),
    );
    expect(seen.sort((a, b) => a - b)).toEqual(range(0, 23));
    expect(inFlight.max).toBe(4);
  });

  it('starts items in order, the next one as soon as a slot frees', async () => {
    const started: number[] = [];
    const finish = new Map<number, () => void>();
    const done = inWindow([10, 11, 12, 13], 2, (item) => {
      started.push(item);
      return new Promise<void>((resolve) => finish.set(item, resolve));
    });
    await tick(0);
    expect(started).toEqual([10, 11]);
    finish.get(11)!();
    await tick(0);
    expect(started).toEqual([10, 11, 12]);
    finish.get(10)!();
    await tick(0);
    expect(started).toEqual([10, 11, 12, 13]);
    finish.get(12)!();
    finish.get(13)!();
    await done;
  });

  it('treats a limit below 1 as 1 and an empty list as done', async () => {
    const inFlight = new InFlight();
    await inWindow([1, 2, 3], 0, () => inFlight.run(() => tick(1)));
    expect(inFlight.max).toBe(1);
    await expect(inWindow([], 3, () => Promise.reject<void>(new Error('never called')))).resolves.toBeUndefined();
  });

  it('starts nothing more once startWhile says no; the items in flight finish', async () => {
    let budget = 5;
    const finished: number[] = [];
    await inWindow(
      range(0, 20),
      3,
      async (item) => {
        budget--;
        await tick(1);
        finished.push(item);
      },
      { startWhile: () => budget > 0 },
    );
    expect(finished.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects with the first failure', async () => {
    const err = await inWindow(range(0, 6), 2, async (item) => {
      await tick(item);
      if (item === 2) throw new Error('page 2 failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('page 2 failed');
  });

  it('range(from, to) is from..to-1, empty when to <= from', () => {
    expect(range(3, 6)).toEqual([3, 4, 5]);
    expect(range(4, 4)).toEqual([]);
    expect(range(5, 2)).toEqual([]);
  });
});

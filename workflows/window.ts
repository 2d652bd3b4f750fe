/**
 * Bounded parallelism for a run shape's steps: export pages, upload and register batches.
 * `inWindow(items, limit, fn)` runs `fn` over the items in order with at most `limit` of them
 * in flight, and starts the next item the moment one finishes.
 *
 * Deterministic by construction: `limit` lanes pull the next item from one shared index, so
 * which step starts when depends only on the order in which earlier steps finish, which the
 * workflow history fixes. A slot is held until `fn` has settled, including whatever `fn`
 * does after its activity (an export page's `run.record()`), and the next item starts in the
 * very continuation that frees the slot.
 *
 * Why lanes and not a `condition()` loop (samples-typescript's batch-sliding-window): a slot
 * freed there is refilled only after the activation's other continuations have run. When one
 * step fails in the same activation in which another step's bookkeeping resolves, the run's
 * failure record would then be scheduled before the next step, not after it as in the
 * histories recorded before this helper existed, and their sequence numbers would differ on
 * replay. Lanes issue every command in the order the hand-written lanes of export.ts and
 * upload.ts did (test/unit/replay.test.ts).
 */

export interface WindowOptions {
  /**
   * Checked before each item starts; once it returns false no further item starts (those in
   * flight finish). A shape's budget: batches left before it continues as new.
   */
  startWhile?: () => boolean;
}

/**
 * Runs `fn(item, index)` for `items` in order, at most `limit` (at least 1) at a time.
 * Resolves when every started item has finished. Rejects like `Promise.all`: with the first
 * failure, at once; lanes still running go on as they would have (the run is failing anyway,
 * and recorded histories were made that way).
 */
export async function inWindow<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  options: WindowOptions = {},
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && (options.startWhile?.() ?? true)) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  const lanes = Math.min(Math.max(1, limit), items.length);
  await Promise.all(Array.from({ length: lanes }, lane));
}

/** The integers `from`, `from + 1`, ..., `to - 1` (none when `to <= from`). */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

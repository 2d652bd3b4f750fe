/**
 * Per-item results of a run (table run_item_results, migration 004): one row per run and
 * item key (`task:12`), written in batches with an upsert, so a page retried after its
 * worker died replaces its rows and the run's counts stay one per item.
 */
import { z } from 'zod';
import { batchSize, chunks, now, parseInput, parseJson, type Db } from './common.js';

export const ITEM_RESULT_STATUSES = ['success', 'failed', 'skipped'] as const;
export type ItemResultStatus = (typeof ITEM_RESULT_STATUSES)[number];

export interface StoredItemResult {
  item: string;
  status: ItemResultStatus;
  data: Record<string, unknown>;
  attempt: number;
  at: string;
}

const ItemsSchema = z.array(
  z.strictObject({
    item: z.string().min(1).max(200),
    status: z.enum(ITEM_RESULT_STATUSES),
    data: z.record(z.string(), z.unknown()).default({}),
  }),
);

/** Writes (or replaces) items' results of `runId`, in one transaction when `db` is one. */
export async function writeItemResults(
  db: Db,
  runId: string,
  attempt: number,
  items: readonly { item: string; status: ItemResultStatus; data?: Record<string, unknown> }[],
): Promise<void> {
  const parsed = parseInput(ItemsSchema, items, `invalid item results for run ${runId}`);
  const at = now();
  // The last write of an item in one call wins (an upsert cannot touch a row twice in one statement).
  const byItem = new Map(parsed.map((r) => [r.item, r]));
  const rows = [...byItem.values()].map((r) => ({ run_id: runId, item: r.item, status: r.status, data: JSON.stringify(r.data), attempt, at }));
  for (const batch of chunks(rows, batchSize(6))) {
    await db
      .insertInto('run_item_results')
      .values(batch)
      .onConflict((oc) =>
        oc.columns(['run_id', 'item']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          data: eb.ref('excluded.data'),
          attempt: eb.ref('excluded.attempt'),
          at: eb.ref('excluded.at'),
        })),
      )
      .execute();
  }
}

/** Results on record for these items of `runId`, by item key. */
export async function itemResultsFor(db: Db, runId: string, items: readonly string[]): Promise<Map<string, StoredItemResult>> {
  const out = new Map<string, StoredItemResult>();
  for (const batch of chunks(items, 1000)) {
    const rows = await db.selectFrom('run_item_results').selectAll().where('run_id', '=', runId).where('item', 'in', batch).execute();
    for (const r of rows)
      out.set(r.item, { item: r.item, status: r.status as ItemResultStatus, data: parseJson(r.data), attempt: Number(r.attempt), at: r.at });
  }
  return out;
}

/** A page of `runId`'s results after item key `afterItem`, in key order. */
export async function listItemResults(db: Db, runId: string, afterItem = '', limit = 1000): Promise<StoredItemResult[]> {
  const rows = await db
    .selectFrom('run_item_results')
    .selectAll()
    .where('run_id', '=', runId)
    .where('item', '>', afterItem)
    .orderBy('item')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ item: r.item, status: r.status as ItemResultStatus, data: parseJson(r.data), attempt: Number(r.attempt), at: r.at }));
}

/** How many of `runId`'s items ended in each status. */
export async function countItemResults(db: Db, runId: string): Promise<Record<ItemResultStatus, number>> {
  const rows = await db
    .selectFrom('run_item_results')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('run_id', '=', runId)
    .groupBy('status')
    .execute();
  const counts: Record<ItemResultStatus, number> = { success: 0, failed: 0, skipped: 0 };
  for (const r of rows) counts[r.status as ItemResultStatus] = Number(r.n);
  return counts;
}

/**
 * Following a run: each new run event as the activities write it (the run store, polled),
 * then the final state once Temporal says the workflow has closed. The CLI draws it
 * (cli/follow.ts); the gateway streams it as server-sent events (gateway/sse.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunState } from '../contracts/run-state.js';
import type { RunEvent } from '../platform/run-store.js';
import { describeRun, runState, type RunsParts } from './run-read.js';

/** What `followRun` yields: each new run event, then the final state once the run has ended. */
export type FollowItem = { type: 'event'; event: RunEvent } | { type: 'end'; state: RunState };

export interface FollowOptions {
  /** Start after this event id (0: from the first event). */
  afterId?: number;
  /** How often the run store is polled for new events, in ms (default 250). */
  pollMs?: number;
  /** Aborting it ends the generator without an `end` item. */
  signal?: AbortSignal;
}

/** Yields each new event of the run as it is written, then the final state. An unknown run is a NotFoundError. */
export async function* followRun(parts: RunsParts, runId: string, options: FollowOptions = {}): AsyncGenerator<FollowItem> {
  let cursor = options.afterId ?? 0;
  const pollMs = options.pollMs ?? 250;
  let lastStatusCheck = 0;
  for (;;) {
    for (;;) {
      const batch = await parts.store.readEvents(runId, cursor, 1000);
      for (const event of batch) {
        cursor = event.id;
        yield { type: 'event', event };
      }
      if (batch.length < 1000) break;
    }
    if (options.signal?.aborted) return;
    if (Date.now() - lastStatusCheck > 1000) {
      lastStatusCheck = Date.now();
      const description = await describeRun(parts, runId);
      if (description.status.name !== 'RUNNING' && description.status.name !== 'CONTINUED_AS_NEW') {
        for (const event of await parts.store.readEvents(runId, cursor, 100_000)) {
          cursor = event.id;
          yield { type: 'event', event };
        }
        yield { type: 'end', state: await runState(parts, runId) };
        return;
      }
    }
    await sleep(pollMs);
  }
}

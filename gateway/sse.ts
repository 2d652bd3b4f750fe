/**
 * A run's events as server-sent events. Each run event is one SSE message whose `id:` is
 * the run store's event id and whose `event:` is its kind (log, event, progress, metrics,
 * status); `data:` is the event as JSON. When the run has ended, an `end` message carries
 * the final state and the stream closes. A client that reconnects with `Last-Event-ID`
 * (or `?after=`) gets every event after that id, so it misses nothing.
 */
import type { Response } from 'express';
import type { RunsClient } from '../client/runs.js';
import type { RunEvent } from '../platform/run-store.js';
import { clientText } from './client-text.js';
import { REVOKED_DETAIL } from './revocation.js';

export interface SseOptions {
  /** How often the run store is polled for new events. */
  pollMs?: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  keepAliveMs?: number;
  /** Aborted when the gateway shuts down. */
  shutdown?: AbortSignal;
  /**
   * Aborted when the request's token is revoked (gateway/revocation.ts): the stream sends an
   * `error` event whose detail is the abort reason's message, and ends.
   */
  revoked?: AbortSignal;
  onOpen?: () => void;
  onClose?: () => void;
  /** Only events of these kinds (`?kind=`); the `end` message always comes. Default: every kind. */
  kinds?: ReadonlySet<string>;
}

/** The JSON of one run event in a `data:` line. */
export function eventJson(e: RunEvent): Record<string, unknown> {
  return { id: e.id, attempt: e.attempt, at: e.at, ...e.data };
}

function message(event: string, data: unknown, id?: number): string {
  // JSON.stringify never emits raw newlines, so one data line is always enough.
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Streams the run's events after `afterId` until the run ends or the client goes away. */
export async function streamRunEvents(runs: RunsClient, runId: string, afterId: number, res: Response, options: SseOptions = {}): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  // The response closes when the client goes away (or the stream ends).
  res.once('close', stop);
  options.shutdown?.addEventListener('abort', stop, { once: true });
  options.revoked?.addEventListener('abort', stop, { once: true });

  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // nginx and similar proxies: do not buffer the stream
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.write('retry: 2000\n\n');
  options.onOpen?.();
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
  keepAlive.unref();
  try {
    for await (const item of runs.follow(runId, { afterId, pollMs: options.pollMs ?? 250, signal: abort.signal })) {
      if (abort.signal.aborted) break;
      if (item.type === 'event') {
        if (!options.kinds || options.kinds.has(item.event.data.kind)) res.write(message(item.event.data.kind, eventJson(item.event), item.event.id));
      } else res.write(message('end', item.state));
    }
  } catch (err) {
    // Headers are gone already: report in-band, then close.
    if (!abort.signal.aborted) res.write(message('error', { detail: clientText(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)) }));
  } finally {
    clearInterval(keepAlive);
    options.shutdown?.removeEventListener('abort', stop);
    options.revoked?.removeEventListener('abort', stop);
    if (options.revoked?.aborted && !res.destroyed) {
      const reason: unknown = options.revoked.reason;
      res.write(message('error', { detail: reason instanceof Error ? reason.message : REVOKED_DETAIL }));
    }
    options.onClose?.();
    res.end();
  }
}

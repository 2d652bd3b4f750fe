/**
 * Revoking a token ends its open event streams. A token is checked once, when a request
 * arrives; an event stream then lives as long as its run. So every authenticated /v1 request
 * is registered here by its token id while it is open, and the ids with open requests are
 * checked against the token table in one query every `checkMs` (a revoke by `synapse token
 * revoke` in another process), and at once when this process revokes one (TokenStore.onRevoke).
 * The event streams of a revoked token get an `event: error` naming the reason and end, as a
 * finished stream does (gateway/sse.ts stops at the request's `revoked` signal); ordinary
 * requests in flight finish (they end on their own).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenStore } from './token-store.js';

/** Default ms between checks: a revoked token's streams end within about this long. */
export const REVOCATION_CHECK_MS = 1000;

/** Why a revoked token's streams end: the `detail` of their last `event: error`. */
export const REVOKED_DETAIL = 'the token was revoked';

interface OpenRequest {
  res: Response;
  /** Aborted (with REVOKED_DETAIL) when the token is revoked; `res.locals.revoked` is its signal. */
  revoke: AbortController;
}

/** The signal a request's handler may watch for its token's revocation (set by the middleware). */
export function revokedSignal(res: Response): AbortSignal | undefined {
  const signal: unknown = res.locals.revoked;
  return signal instanceof AbortSignal ? signal : undefined;
}

export class RevocationWatcher {
  private readonly open = new Map<string, Set<OpenRequest>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly tokens: TokenStore,
    private readonly checkMs = REVOCATION_CHECK_MS,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.unsubscribe = tokens.onRevoke((id) => this.endStreams(id));
  }

  /** After authenticate(): registers the request under its token until it closes. */
  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      const id = req.token?.id;
      if (id) {
        const entry: OpenRequest = { res, revoke: new AbortController() };
        res.locals.revoked = entry.revoke.signal;
        let set = this.open.get(id);
        if (!set) this.open.set(id, (set = new Set()));
        set.add(entry);
        res.once('close', () => {
          set.delete(entry);
          if (set.size === 0 && this.open.get(id) === set) this.open.delete(id);
          if (this.open.size === 0) this.stopTimer();
        });
        this.startTimer();
      }
      next();
    };
  }

  /** Stops checking (the gateway is shutting down). */
  close(): void {
    this.stopTimer();
    this.unsubscribe();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking || this.open.size === 0) return;
    this.checking = true;
    try {
      for (const id of await this.tokens.revokedAmong([...this.open.keys()])) this.endStreams(id);
    } catch (err) {
      // The database is away: keep the streams, try again next time.
      this.log(`token revocation check failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.checking = false;
    }
  }

  /**
   * Ends the token's open event streams: each stops at its `revoked` signal, tells the client
   * why and ends (gateway/sse.ts). One that has not ended a second later (a client that does
   * not read, a full socket) is cut.
   */
  private endStreams(id: string): void {
    for (const { res, revoke } of this.open.get(id) ?? []) {
      const type = res.getHeader('Content-Type');
      if (typeof type !== 'string' || !type.startsWith('text/event-stream')) continue;
      if (res.writableEnded || res.destroyed) continue;
      const cut = setTimeout(() => res.destroy(), 1000);
      cut.unref();
      res.once('close', () => clearTimeout(cut));
      revoke.abort(new Error(REVOKED_DETAIL));
    }
  }
}

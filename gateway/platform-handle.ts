/**
 * The platform database for the gateway's resource routes (models, collections, projects,
 * ground-truth versions, releases, artifacts), opened at the first request that needs it,
 * so a gateway that only serves runs never opens a second pool, and closed when the gateway
 * shuts down. A failed open (a bad DATABASE_URL) is an UnavailableError (503) for that
 * request and is tried again at the next.
 */
import type { PlatformDb } from '../platform/db.js';
import type { Db } from '../platform/repositories/common.js';

export class PlatformHandle {
  private opened: Promise<PlatformDb> | undefined;
  private closed = false;

  /** `shutdown` aborted: the database closes (requests after that fail). */
  constructor(
    readonly dataDir: string,
    shutdown?: AbortSignal,
  ) {
    shutdown?.addEventListener('abort', () => void this.close(), { once: true });
  }

  async db(): Promise<Db> {
    if (this.closed) throw new Error('the gateway is shutting down');
    this.opened ??= import('../platform/db.js')
      .then(({ openDatabase }) => openDatabase({ dataDir: this.dataDir, applicationName: 'synapse-gateway' }))
      .catch((err: unknown) => {
        this.opened = undefined;
        throw err;
      });
    return (await this.opened).db;
  }

  async close(): Promise<void> {
    this.closed = true;
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

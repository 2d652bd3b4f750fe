/**
 * The run store a client holds, opened on first use. A client that never reads the store
 * (`run status` of a completed run: Temporal has its result) then never loads the database
 * libraries nor migrates, which is a good part of a command's start-up. Errors opening the
 * database (a bad DATABASE_URL) surface at the first call instead of at connect.
 */
import type { Checkpoint, RunEvent, RunEventInput, RunFilter, RunRecord, RunStore } from '../platform/run-store.js';

export class LazyRunStore implements RunStore {
  private opened: Promise<RunStore> | undefined;
  private closed = false;

  /** `open` runs once, at the first call; a failed open is retried at the next call. */
  constructor(private readonly open: () => Promise<RunStore>) {}

  /** The store under the platform database of `dataDir` (or DATABASE_URL), as KyselyRunStore.open makes it. */
  static forDataDir(dataDir: string): LazyRunStore {
    return new LazyRunStore(async () => (await import('../platform/kysely-run-store.js')).KyselyRunStore.open({ dataDir }));
  }

  private store(): Promise<RunStore> {
    if (this.closed) return Promise.reject(new Error('the run store is closed'));
    this.opened ??= this.open().catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  async createRun(run: RunRecord): Promise<void> {
    return (await this.store()).createRun(run);
  }
  async updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'result' | 'error'>>): Promise<void> {
    return (await this.store()).updateRun(id, patch);
  }
  async getRun(id: string): Promise<RunRecord | undefined> {
    return (await this.store()).getRun(id);
  }
  async deletePendingRun(id: string): Promise<boolean> {
    return (await this.store()).deletePendingRun(id);
  }
  async listRuns(filter?: RunFilter): Promise<RunRecord[]> {
    return (await this.store()).listRuns(filter);
  }
  async appendEvents(events: RunEventInput[]): Promise<void> {
    return (await this.store()).appendEvents(events);
  }
  async readEvents(runId: string, afterId?: number, limit?: number): Promise<RunEvent[]> {
    return (await this.store()).readEvents(runId, afterId, limit);
  }
  async saveCheckpoint(runId: string, checkpoint: Checkpoint): Promise<void> {
    return (await this.store()).saveCheckpoint(runId, checkpoint);
  }
  async highestAttempt(runId: string): Promise<number> {
    return (await this.store()).highestAttempt(runId);
  }

  async latestCheckpoint(runId: string): Promise<Checkpoint | undefined> {
    return (await this.store()).latestCheckpoint(runId);
  }

  /** Closes the store if it was opened; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

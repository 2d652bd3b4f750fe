/**
 * Final states of ended runs, kept for a while. A run that has ended never changes (run
 * ids are never reused), yet reading its state costs two Temporal calls (describe, then
 * the result from history); pollers of finished runs would otherwise cost Temporal the
 * same as live ones. Only terminal states are kept; a bounded TTL still lets an operator's
 * workflow reset show up eventually.
 */
import { isTerminal, type RunsClient } from '../client/runs.js';
import type { RunState } from '../contracts/run-state.js';

export interface StateCacheOptions {
  /** How long an ended run's state is served from memory. */
  ttlMs: number;
  /** Most entries kept; the oldest go first. */
  max: number;
}

export class RunStateCache {
  private readonly entries = new Map<string, { state: RunState; until: number }>();

  constructor(
    private readonly runs: RunsClient,
    private readonly options: StateCacheOptions | false,
  ) {}

  async state(runId: string): Promise<RunState> {
    if (!this.options) return this.runs.state(runId);
    const hit = this.entries.get(runId);
    if (hit && hit.until > Date.now()) return hit.state;
    if (hit) this.entries.delete(runId);
    const state = await this.runs.state(runId);
    if (isTerminal(state.status)) {
      if (this.entries.size >= this.options.max) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(runId, { state, until: Date.now() + this.options.ttlMs });
    }
    return state;
  }
}

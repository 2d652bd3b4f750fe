/**
 * Determinism: recorded histories of real runs (completed with progress signals, both before
 * (-v1: a recordRunStatus local activity at the end) and since the step records its own completion;
 * cancelled;
 * failed on bad params; an export with parallel pages) replay against today's workflow code. A change to workflows/ that
 * would break running workflows fails here; make it behind `patched()` and record anew with
 * `node bin/run-ts.mjs test/record-histories.ts`, keeping the old files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { cachedWorkflowBundle } from '../../workers/worker.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

const DIR = path.join(ROOT, 'test', 'fixtures', 'histories');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('replaying recorded histories', () => {
  it('has recordings for each ending of a run', () => {
    expect(files).toEqual([
      'deployment-cancelled-v1.json',
      'export-completed-v1.json',
      'export-completed.json',
      'run-action-cancelled.json',
      'run-action-completed-v1.json',
      'run-action-completed.json',
      'run-action-failed.json',
      'train-completed.json',
      'upload-completed.json',
    ]);
  });

  it('replays every recording without a nondeterminism error', async () => {
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, f), 'utf8'))),
    }));
    const failures: string[] = [];
    // The bundle the worker runs (workers/worker.ts: its workflow modules preloaded and shared by every workflow in the thread).
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-replay-'));
    const { code } = await cachedWorkflowBundle(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    for await (const result of Worker.runReplayHistories({ workflowBundle: { code }, replayName: 'synapse-replay' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});

/**
 * Model names: unique among registered models and the train runs still going, checked by the
 * client before a train run starts and again by its prepare and register steps.
 */
import { ParamsError } from '../contracts/errors.js';
import type { Db } from './repositories/common.js';
import { listModels } from './repositories/models.js';
import type { RunStore } from './run-store.js';

/** A model name is unique among models and the train and tune runs that are still going. */
export async function assertNameFree(db: Db, store: RunStore, name: string, runId: string): Promise<void> {
  const taken = (await listModels(db)).find((m) => m.name === name && m.runId !== runId);
  const problem = (message: string) => new ParamsError('invalid train params', [{ path: 'name', message }]);
  if (taken) throw problem(`a model named "${name}" exists already (model ${taken.id})`);
  // Tune runs register their best trial's model under their name; their trials (`<tune>/trial-<n>`) train for it.
  for (const action of ['train', 'tune'] as const) {
    for (const status of ['running', 'pending'] as const) {
      for (const run of await store.listRuns({ category: 'neural_net', action, status, limit: 10_000 })) {
        if (run.id === runId || runId.startsWith(`${run.id}/`)) continue;
        const other = (run.params as { name?: unknown } | null)?.name;
        if (other === name) throw problem(`run ${run.id} is training a model named "${name}"`);
      }
    }
  }
}

/**
 * What the hostile-plugin suites share (export-host, upload-host, train-host,
 * plugin-host-hostile, plugin-host-task-pages): the worker's secrets put in this process's
 * environment, where the in-process worker and, before plugin hosts, every plugin's code could
 * read them; plugin host limits for the file; a runs client and a worker; everything undone
 * after the file. And `settle`: a run's final state however it ended, for runs that are meant
 * to fail as well as for the normal run beside them.
 */
import { afterAll, beforeAll } from 'vitest';
import { setPluginHostLimits, type PluginHostLimits } from '../activities/plugin-host.js';
import type { RunsClient } from '../client/runs.js';
import type { Settings } from '../client/settings.js';
import type { RunState } from '../contracts/run-state.js';
import { connectRuns, startWorker, waitFor } from './helpers.js';

export interface HostileWorkerOptions {
  /** Variables set in this process's environment for the file (the worker's secrets): name -> value. */
  secrets: Record<string, string>;
  /** Plugin host limits for the file (activities/plugin-host.ts); the previous ones come back after it. */
  limits: Partial<PluginHostLimits>;
  /** Runs after the secrets and limits are set, before the runs client and the worker start (sample data). */
  before?: () => Promise<void>;
}

/**
 * Registers the file's beforeAll / afterAll: secrets into the environment, limits set, `before`,
 * then a runs client (given to `use`) and an in-process worker; afterwards the worker stops, the
 * client closes, the limits and the environment are as they were.
 */
export function useHostileWorker(settings: Settings, options: HostileWorkerOptions, use: (runs: RunsClient) => void): void {
  const savedEnv: Record<string, string | undefined> = {};
  let previousLimits: PluginHostLimits | undefined;
  let runs: RunsClient | undefined;
  let worker: { stop(): Promise<void> } | undefined;
  beforeAll(async () => {
    for (const [name, value] of Object.entries(options.secrets)) {
      savedEnv[name] = process.env[name];
      process.env[name] = value;
    }
    previousLimits = setPluginHostLimits(options.limits);
    await options.before?.();
    runs = await connectRuns(settings);
    use(runs);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
    if (previousLimits) setPluginHostLimits(previousLimits);
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

/** The run's final state (completed, failed or cancelled), however it ended. */
export async function settle(runs: RunsClient, runId: string): Promise<RunState> {
  await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(() => undefined);
  return waitFor(async () => {
    const state = await runs.state(runId);
    return ['completed', 'failed', 'cancelled'].includes(state.status) ? state : undefined;
  });
}

/** Following a run to its end in the terminal; returns the exit code its final status means. */
import type { RunsClient } from '../client/runs.js';
import type { RunState } from '../contracts/run-state.js';
import { JsonLinesRunView, TerminalRunView, summariseResult, type RunView } from './render.js';

/** How long a followed run may stay silent before the no-worker check. */
const WORKER_HINT_AFTER_MS = 5000;

export async function followToEnd(
  runs: RunsClient,
  runId: string,
  options: { terminal: boolean; showEvents?: boolean; verbose?: boolean; afterId?: number },
): Promise<number> {
  let view: RunView;
  let poll: NodeJS.Timeout | undefined;
  if (options.terminal) {
    const state = await runs.state(runId);
    const terminalView = new TerminalRunView(process.stdout, state.progressCategories, {
      ...(options.showEvents ? { showEvents: true } : {}),
      ...(options.verbose ? { verbose: true } : {}),
    });
    terminalView.stateUpdate(state);
    view = terminalView;
    // Run shapes with many steps (export pages) report progress to the workflow rather than
    // as run events: the bars also follow the workflow's own state, once a second (and so
    // the epochs table and "cancellation requested").
    let polling = false;
    poll = setInterval(() => {
      if (polling) return;
      polling = true;
      runs
        .state(runId)
        .then((s) => terminalView.stateUpdate(s))
        .catch(() => {})
        .finally(() => (polling = false));
    }, 1000);
  } else {
    view = new JsonLinesRunView(process.stdout);
  }
  // A run no worker picks up would show 0% for ever: after a few seconds without an event,
  // ask Temporal whether anyone polls its task queue, and say so once if not.
  let heard = false;
  const hintTimer = setTimeout(() => {
    if (heard) return;
    runs
      .workerHint(runId)
      .then((hint) => {
        if (hint && !heard) process.stderr.write(`\nhint: ${hint}\n`);
      })
      .catch(() => {});
  }, WORKER_HINT_AFTER_MS);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    for await (const item of runs.follow(runId, { signal: abort.signal, ...(options.afterId ? { afterId: options.afterId } : {}) })) {
      if (item.type === 'event') {
        heard = true;
        view.event(item.event);
      } else {
        view.done(item.state);
        if (options.terminal) printOutcome(item.state, runs.settings.temporal.uiUrl ? uiLink(runs, runId) : undefined);
        return exitCodeFor(item.state);
      }
    }
    // Ctrl-C stops watching, not the run.
    if (options.terminal) process.stderr.write(`\nstopped following; the run goes on. Watch again: synapse run watch ${runId}\n`);
    return 0;
  } finally {
    clearInterval(poll);
    clearTimeout(hintTimer);
    process.off('SIGINT', onSigint);
  }
}

function uiLink(runs: RunsClient, runId: string): string {
  return `${runs.settings.temporal.uiUrl}/namespaces/${encodeURIComponent(runs.settings.temporal.namespace)}/workflows/${encodeURIComponent(runId)}`;
}

export function printOutcome(state: RunState, ui?: string): void {
  if (state.status === 'completed') {
    // A few lines: the whole result would push the bars off screen (`--json` has it).
    process.stdout.write(
      `\nrun ${state.runId} completed\n${summariseResult(state.result).join('\n')}\nfull result: synapse run status ${state.runId} --json\n`,
    );
  } else {
    process.stderr.write(`\nrun ${state.runId} ${state.status}${state.error ? `: ${state.error}` : ''}\n`);
    process.stderr.write(`logs: synapse run logs ${state.runId}\n`);
  }
  if (ui) process.stdout.write(`Web UI: ${ui}\n`);
}

export function exitCodeFor(state: RunState): number {
  return state.status === 'completed' ? 0 : 1;
}

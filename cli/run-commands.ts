/**
 * `synapse run ...`: list, status, logs, watch, resume and cancel runs. Registering the
 * commands loads nothing but commander and Node built-ins; each action imports the client
 * when it runs.
 */
import type { Command } from 'commander';
import type { RunsClient } from '../client/runs.js';
import { runUiUrl } from '../client/settings.js';
import { InvalidInputError } from '../contracts/errors.js';
import { statusWords, type RunStatus } from '../contracts/run-state.js';
import { printJson, settingsFrom, useTerminal } from './io.js';
import { runArtifactsCommand } from './run-artifacts-command.js';

const STATUSES: RunStatus[] = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'];

async function withRuns<T>(cmd: Command, fn: (runs: RunsClient) => Promise<T>): Promise<T> {
  const { RunsClient } = await import('../client/runs.js');
  const runs = await RunsClient.connect(settingsFrom(cmd));
  try {
    return await fn(runs);
  } finally {
    await runs.close();
  }
}

export function runCommands(program: Command, exit: (code: number) => void): void {
  const run = program.command('run').description('inspect and control runs');

  run
    .command('list')
    .description('list runs (newest first) from Temporal visibility')
    .option('--plugin <code>', 'only runs of this plugin')
    .option('--action <name>', 'only runs of this action')
    .option('--category <category>', 'only runs of this category')
    .option('--status <status>', `only runs with this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { plugin?: string; action?: string; category?: string; status?: string; limit: string; json?: boolean }, cmd: Command) => {
      if (opts.status && !STATUSES.includes(opts.status as RunStatus)) {
        throw new InvalidInputError('invalid option', [{ path: 'status', message: `must be one of ${STATUSES.join(', ')}` }]);
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new InvalidInputError('invalid option', [{ path: 'limit', message: 'must be a positive integer' }]);
      await withRuns(cmd, async (runs) => {
        const list = await runs.list({
          ...(opts.plugin ? { plugin: opts.plugin } : {}),
          ...(opts.action ? { action: opts.action } : {}),
          ...(opts.category ? { category: opts.category } : {}),
          ...(opts.status ? { status: opts.status as RunStatus } : {}),
          limit,
        });
        if (opts.json) return printJson(list);
        for (const r of list) {
          process.stdout.write(`${r.runId}  ${r.status.padEnd(10)} ${r.plugin}@${r.version} ${r.action}  ${r.startedAt ?? ''}\n`);
        }
        if (list.length === 0) process.stdout.write('no runs\n');
      });
    });

  run
    .command('status')
    .description('status, progress per category, metrics and result of a run')
    .argument('<id>', 'run id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withRuns(cmd, async (runs) => {
        const state = await runs.state(id);
        if (opts.json) return printJson(state);
        const out: string[] = [
          `run      ${state.runId}`,
          `plugin   ${state.plugin.code}@${state.plugin.version} · ${state.action} (${state.category}, ${state.method})`,
          `status   ${statusWords(state)}  ${state.percent}%  attempt ${state.attempt}`,
        ];
        if (state.lastFailure) out.push(`retrying attempt ${state.attempt - 1} failed: ${state.lastFailure}`);
        if (state.status === 'running') {
          const hint = await runs.workerHint(id);
          if (hint) out.push(`hint     ${hint}`);
        }
        for (const [cat, p] of Object.entries(state.progress)) out.push(`progress ${cat}: ${p.current}/${p.total}`);
        for (const [cat, values] of Object.entries(state.metrics)) out.push(`metrics  ${cat}: ${JSON.stringify(values)}`);
        // Train runs: the newest epochs' metrics (all of them with --json).
        const epochs = state.epochs ?? [];
        if (epochs.length > 20) out.push(`epochs   ${epochs.length - 20} earlier epochs not shown (--json has them)`);
        for (const e of epochs.slice(-20)) out.push(`epoch    ${e.epoch}: ${JSON.stringify(e.metrics)}`);
        // Tune runs: the trials, best first.
        if (state.trials?.length) {
          const { trialsTable } = await import('./trials-table.js');
          const metric = ((await runs.store.getRun(id))?.params as { metric?: unknown } | undefined)?.metric;
          out.push(`trials   ${state.trials.length}`, ...trialsTable(state.trials, typeof metric === 'string' ? metric : undefined).map((l) => `  ${l}`));
        }
        if (state.error) out.push(`error    ${state.error}`);
        if (state.result !== undefined) out.push(`result   ${JSON.stringify(state.result)}`);
        const ui = runUiUrl(runs.settings, id);
        if (ui) out.push(`Web UI   ${ui}`);
        process.stdout.write(out.join('\n') + '\n');
      });
    });

  run
    .command('logs')
    .description("print a run's log")
    .argument('<id>', 'run id')
    .option('--events', 'include structured events (ctx.log), progress and metrics')
    .option('--kind <kinds>', 'only these kinds, comma-separated: log, event, progress, metrics, status (implies --events)')
    .option('--json', 'print JSON lines')
    .action(async (id: string, opts: { events?: boolean; kind?: string; json?: boolean }, cmd: Command) => {
      const [{ formatLogTime }, { parseEventKinds, RUN_EVENT_KINDS }] = await Promise.all([import('./render.js'), import('../client/event-kinds.js')]);
      const kinds: ReadonlySet<string> = parseEventKinds(opts.kind) ?? new Set(opts.events ? RUN_EVENT_KINDS : ['log']);
      await withRuns(cmd, async (runs) => {
        await runs.state(id); // unknown run: exit 3
        let after = 0;
        for (;;) {
          const events = await runs.events(id, after, 5000);
          for (const e of events) {
            after = e.id;
            if (!kinds.has(e.data.kind)) continue;
            if (opts.json) process.stdout.write(JSON.stringify({ id: e.id, attempt: e.attempt, at: e.at, ...e.data }) + '\n');
            else if (e.data.kind === 'log') process.stdout.write(`${formatLogTime(e.at)} ${e.data.level.padEnd(7)} ${e.data.message}\n`);
            else process.stdout.write(`${formatLogTime(e.at)} ${e.data.kind.toUpperCase().padEnd(7)} ${JSON.stringify(e.data)}\n`);
          }
          if (events.length < 5000) break;
        }
      });
    });

  runArtifactsCommand(run);

  run
    .command('watch')
    .description('follow a run live until it ends')
    .argument('<id>', 'run id')
    .option('--json', 'print JSON lines')
    .option('--verbose', 'show DEBUG log lines (hidden by default)')
    .action(async (id: string, opts: { json?: boolean; verbose?: boolean }, cmd: Command) => {
      const { followToEnd } = await import('./follow.js');
      const code = await withRuns(cmd, (runs) => followToEnd(runs, id, { terminal: useTerminal(opts.json), ...(opts.verbose ? { verbose: true } : {}) }));
      exit(code);
    });

  run
    .command('resume')
    .description('start a new run from the last checkpoint of an ended train run (cancelled or failed)')
    .argument('<id>', 'run id of the earlier run')
    .option('--job-id <id>', 'id of the new run')
    .option('--heartbeat-timeout <seconds>', 'seconds without a heartbeat before a step is retried')
    .option('--detach', 'print the new run id and return')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { jobId?: string; heartbeatTimeout?: string; detach?: boolean; json?: boolean }, cmd: Command) => {
      const heartbeat = opts.heartbeatTimeout === undefined ? undefined : Number(opts.heartbeatTimeout);
      if (heartbeat !== undefined && !(heartbeat > 0))
        throw new InvalidInputError('invalid option', [{ path: 'heartbeat-timeout', message: 'must be a positive number of seconds' }]);
      const { followToEnd } = await import('./follow.js');
      const code = await withRuns(cmd, async (runs) => {
        const started = await runs.resume(id, {
          ...(opts.jobId ? { runId: opts.jobId } : {}),
          ...(heartbeat !== undefined ? { heartbeatTimeoutSeconds: heartbeat } : {}),
        });
        if (opts.detach) {
          if (opts.json) printJson(started);
          else process.stdout.write(`${started.runId}\n`);
          return 0;
        }
        if (!opts.json) process.stdout.write(`run ${started.runId} resumes ${id} after epoch ${started.resumedFrom.epoch}\n`);
        return followToEnd(runs, started.runId, { terminal: useTerminal(opts.json) });
      });
      exit(code);
    });

  run
    .command('cancel')
    .description('cancel a running run; its steps see it within about a second (exit 5 when it has ended)')
    .argument('<id>', 'run id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withRuns(cmd, (runs) => runs.cancel(id));
      process.stdout.write(`cancellation of ${id} requested\n`);
    });
}

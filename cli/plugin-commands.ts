/** `synapse plugin ...`: run an action (durably, or in-process with --debug), list and check plugins. */
import path from 'node:path';
import type { Command } from 'commander';
import { RunsClient } from '../client/runs.js';
import { DebugRunContext } from '../sdk/debug-run-context.js';
import { readPluginConfig } from '../sdk/config.js';
import { findPlugin, listPlugins, loadAction, parseParams } from '../sdk/plugin-loader.js';
import { followToEnd } from './follow.js';
import { parseParamsArg, printJson, settingsFrom, useTerminal } from './io.js';
import { TerminalRunView } from './render.js';

interface RunOptions {
  plugin?: string;
  jobId?: string;
  detach?: boolean;
  follow?: boolean;
  json?: boolean;
  debug?: boolean;
  heartbeatTimeout?: string;
}

export function pluginCommands(program: Command, exit: (code: number) => void): void {
  const plugin = program.command('plugin').description('run, list and check plugins');

  plugin
    .command('run')
    .description('run a plugin action as a durable Temporal workflow')
    .argument('<action>', 'action name, e.g. train, export, validation')
    .argument('[params]', 'params as JSON, or @file.json', '')
    .option('--plugin <plugin>', 'plugin code, code@version, or folder path (default: the current folder)')
    .option('--job-id <id>', 'run id (default <plugin>-<action>-<ulid>)')
    .option('--detach', 'start the run, print its id and exit')
    .option('--follow', 'show progress until the run ends (the default)')
    .option('--json', 'print JSON (JSON lines while following)')
    .option('--debug', 'run in this process without Temporal, printing everything the action reports')
    .option('--heartbeat-timeout <seconds>', 'seconds without a heartbeat before a step is retried elsewhere')
    .action(async (actionName: string, paramsArg: string, opts: RunOptions, cmd: Command) => {
      const params = parseParamsArg(paramsArg);
      const pluginRef = opts.plugin ?? '.';
      if (opts.debug) return exit(await runDebug(pluginRef, actionName, params, opts));
      const runs = await RunsClient.connect(settingsFrom(cmd));
      try {
        const heartbeat = opts.heartbeatTimeout === undefined ? undefined : Number(opts.heartbeatTimeout);
        const started = await runs.start({
          plugin: pluginRef,
          action: actionName,
          params,
          ...(opts.jobId ? { runId: opts.jobId } : {}),
          ...(heartbeat !== undefined && Number.isFinite(heartbeat) && heartbeat > 0 ? { heartbeatTimeoutSeconds: heartbeat } : {}),
        });
        if (opts.detach) {
          if (opts.json) printJson(started);
          else {
            process.stdout.write(`${started.runId}\n`);
            if (process.stdout.isTTY && started.uiUrl) process.stderr.write(`Web UI: ${started.uiUrl}\n`);
          }
          return exit(0);
        }
        if (useTerminal(opts.json)) process.stdout.write(`run ${started.runId} started\n`);
        exit(await followToEnd(runs, started.runId, { terminal: useTerminal(opts.json) }));
      } finally {
        await runs.close();
      }
    });

  plugin
    .command('list')
    .description('list the plugins found in plugins/ and SYNAPSE_PLUGIN_PATH')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const plugins = await listPlugins();
      if (opts.json) {
        printJson(plugins.map((p) => ({ ...p.config, dir: p.dir })));
        return;
      }
      for (const p of plugins) {
        const actions = Object.entries(p.config.actions).map(([name, a]) => `${name} (${a.method})`);
        process.stdout.write(`${p.config.code}@${p.config.version}  ${p.config.category}  ${actions.join(', ')}\n`);
      }
    });

  plugin
    .command('check')
    .description("validate a plugin folder: config.yaml and every action's entrypoint")
    .argument('[dir]', 'plugin folder', '.')
    .action(async (dir: string) => {
      const config = await readPluginConfig(path.join(path.resolve(dir), 'config.yaml'));
      const p = await findPlugin(path.resolve(dir));
      for (const name of Object.keys(config.actions)) await loadAction(p, name);
      process.stdout.write(`${config.code}@${config.version}: config.yaml and ${Object.keys(config.actions).length} action(s) OK\n`);
    });
}

async function runDebug(pluginRef: string, actionName: string, rawParams: unknown, opts: RunOptions): Promise<number> {
  const plugin = await findPlugin(pluginRef);
  const action = await loadAction(plugin, actionName);
  const params = parseParams(action, rawParams);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const view = useTerminal(opts.json) ? new TerminalRunView(process.stdout, action.progressCategories, true) : undefined;
  const json = (o: object) => process.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...o }) + '\n');
  const declared = Object.keys(action.progressCategories);
  const ctx = new DebugRunContext(
    opts.jobId ?? `debug-${plugin.config.code}-${actionName}`,
    params,
    abort.signal,
    {
      log: (level, message) => (view ? view.line(`${new Date().toISOString().slice(11, 23)} ${level.padEnd(7)} ${message}`) : json({ kind: 'log', level, message })),
      event: (event, data) => (view ? undefined : json({ kind: 'event', event, data })),
      progress: (category, current, total) => (view ? view.progressUpdate(category, current, total) : json({ kind: 'progress', category, current, total })),
      metrics: (category, values) => (view ? view.metricsUpdate(category, values) : json({ kind: 'metrics', category, values })),
      checkpoint: (seq) => (view ? undefined : json({ kind: 'checkpoint', seq })),
    },
    declared.length === 1 ? declared[0] : 'default',
  );
  const instance = new (action.cls as unknown as new () => { start(c: DebugRunContext): Promise<unknown> })();
  const result = await instance.start(ctx);
  if (view) process.stdout.write(`\nresult: ${JSON.stringify(result, null, 2)}\n`);
  else json({ kind: 'result', result });
  return 0;
}

/**
 * `synapse plugin ...`: run an action (durably, or in-process with --debug), list, check and
 * publish plugins, list releases. Registering the commands loads nothing but commander and
 * Node built-ins; each action imports what it uses when it runs.
 */
import type { Command } from 'commander';
import type { DebugRunContext } from '../engine/debug-run-context.js';
import { InvalidInputError } from '../contracts/errors.js';
import { parseParamsArg, printJson, settingsFrom, useTerminal } from './io.js';
import { pluginDescribeCommand } from './plugin-describe-command.js';

interface RunOptions {
  plugin?: string;
  jobId?: string;
  detach?: boolean;
  follow?: boolean;
  json?: boolean;
  debug?: boolean;
  verbose?: boolean;
  heartbeatTimeout?: string;
  port?: string;
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
    .option('--verbose', 'show DEBUG log lines in the terminal view (hidden by default)')
    .option('--heartbeat-timeout <seconds>', 'seconds without a heartbeat before a step is retried elsewhere')
    .option('--port <port>', 'with --debug, a served (restapi) action listens on this port of 127.0.0.1 (default 8000; 0: a free one)')
    .action(async (actionName: string, paramsArg: string, opts: RunOptions, cmd: Command) => {
      const params = parseParamsArg(paramsArg);
      const heartbeat = opts.heartbeatTimeout === undefined ? undefined : Number(opts.heartbeatTimeout);
      if (heartbeat !== undefined && !(heartbeat > 0 && Number.isFinite(heartbeat)))
        throw new InvalidInputError('invalid option', [{ path: 'heartbeat-timeout', message: 'must be a positive number of seconds' }]);
      const pluginRef = opts.plugin ?? '.';
      // --plugin code@version that no plugin folder holds: its published release, cached in the data dir.
      const { useReleases } = await import('../engine/plugin-releases.js');
      useReleases({ dataDir: settingsFrom(cmd).dataDir });
      if (opts.port !== undefined && !opts.debug)
        throw new InvalidInputError('invalid option', [{ path: 'port', message: '--port serves an action locally: use it with --debug' }]);
      if (opts.debug) return exit(await runDebug(pluginRef, actionName, params, opts, settingsFrom(cmd).dataDir));
      const [{ RunsClient }, { followToEnd }] = await Promise.all([import('../client/runs.js'), import('./follow.js')]);
      const runs = await RunsClient.connect(settingsFrom(cmd));
      try {
        const started = await runs.start({
          plugin: pluginRef,
          action: actionName,
          params,
          ...(opts.jobId ? { runId: opts.jobId } : {}),
          ...(heartbeat !== undefined ? { heartbeatTimeoutSeconds: heartbeat } : {}),
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
        exit(await followToEnd(runs, started.runId, { terminal: useTerminal(opts.json), ...(opts.verbose ? { verbose: true } : {}) }));
      } finally {
        await runs.close();
      }
    });

  plugin
    .command('list')
    .description('list the plugins found in plugins/ and SYNAPSE_PLUGIN_PATH')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { listPlugins } = await import('../engine/plugin-loader.js');
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

  pluginDescribeCommand(plugin);

  plugin
    .command('check')
    .description("validate a plugin folder: config.yaml, every action's entrypoint, and its TypeScript types (tsc)")
    .argument('[dir]', 'plugin folder', '.')
    .option('--no-types', 'skip the type check (tsc) of its TypeScript files')
    .action(async (dir: string, opts: { types: boolean }) => {
      const { checkPluginDir } = await import('../engine/plugin-releases.js');
      const { config } = await checkPluginDir(dir);
      let types = '';
      if (opts.types) {
        const { typeCheckPlugin } = await import('../engine/plugin-typecheck.js');
        const checked = await typeCheckPlugin(dir);
        if ('skipped' in checked) types = `; type check skipped: ${checked.skipped}`;
        else if (checked.problems.length > 0) throw new InvalidInputError(`${config.code}@${config.version} does not type-check`, checked.problems);
        else types = `; ${checked.checked} TypeScript file(s) type-check`;
      }
      process.stdout.write(`${config.code}@${config.version}: config.yaml and ${Object.keys(config.actions).length} action(s) OK${types}\n`);
    });

  plugin
    .command('create')
    .description('create a plugin folder that passes `plugin check`; on a terminal, asks for what the flags do not give')
    .argument('[dir]', 'new (or empty) folder (asked for on a terminal)')
    .option('--category <category>', 'neural_net | export | upload | smart_tool | pre_annotation | post_annotation | data_validation')
    .option('--code <code>', 'plugin code (default: the folder name)')
    .option('--name <name>', 'display name (default: from the code)')
    .option('--description <text>', 'one line for config.yaml (default: "<name>: a <category> plugin")')
    .option('--action <actions>', "the category's actions to scaffold, comma-separated (default: its first)")
    .option('--runtime <runtime>', 'typescript (default) | python (neural_net trainers; pre_annotation, data_validation, post_annotation task pages)')
    .action(
      async (dir: string | undefined, opts: { category?: string; code?: string; name?: string; description?: string; action?: string; runtime?: string }) => {
        const [{ createPluginScaffold }, { allGiven, promptMissing, PromptCancelled }] = await Promise.all([
          import('./plugin-scaffold.js'),
          import('./plugin-create-prompts.js'),
        ]);
        let options;
        if (process.stdin.isTTY && process.stdout.isTTY && !allGiven(dir, opts)) {
          try {
            options = await promptMissing(dir, opts);
          } catch (e) {
            if (e instanceof PromptCancelled) return exit(130);
            throw e;
          }
        } else {
          if (dir === undefined)
            throw new InvalidInputError('cannot create the plugin', [
              { path: 'dir', message: 'name the new plugin folder: synapse plugin create <dir> --category <category>' },
            ]);
          options = { dir, ...opts };
        }
        const made = await createPluginScaffold(options);
        process.stdout.write(
          `created ${made.code} (${made.category}, ${made.actions.length === 1 ? 'action' : 'actions'} ${made.actions.join(', ')}, ${made.runtime}) in ${made.dir}:\n${made.files.map((f) => `  ${f}\n`).join('')}` +
            `next: synapse plugin check ${options.dir}\n`,
        );
        exit(0);
      },
    );

  plugin
    .command('publish')
    .description('check a plugin folder, archive it (deterministic .tar.gz) into a storage and record the release code@version')
    .argument('[dir]', 'plugin folder', '.')
    .option('--storage <storage>', 'storage id or name (default: the default local storage)')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { storage?: string; json?: boolean }, cmd: Command) => {
      const { publishPlugin } = await import('../engine/plugin-releases.js');
      const result = await publishPlugin({ dir, dataDir: settingsFrom(cmd).dataDir, ...(opts.storage !== undefined ? { storage: opts.storage } : {}) });
      const { code, version, checksum } = result.release;
      if (opts.json)
        printJson({
          status: result.status,
          code,
          version,
          checksum,
          storage: result.storage,
          key: result.key,
          bytes: result.bytes,
          files: result.files,
          excluded: result.excluded,
        });
      else if (result.status === 'unchanged') {
        process.stdout.write(`${code}@${version} is already published with the same content (sha256 ${checksum}): nothing to do\n`);
      } else if (result.status === 'restored') {
        process.stdout.write(
          `${code}@${version} is already published with the same content (sha256 ${checksum}); its archive was missing and is stored again at ${result.key}\n`,
        );
      } else {
        // What went in, and what was left out (secrets, .git, .synapseignore): read before it is too late to unpublish.
        process.stdout.write(
          `published ${code}@${version}: ${result.files.length} files, ${result.bytes} bytes, sha256 ${checksum}\n` +
            result.files.map((f) => `  + ${f}\n`).join('') +
            (result.excluded.length ? `  left out (secrets, VCS data, caches, .synapseignore): ${result.excluded.join(', ')}\n` : '') +
            `  storage "${result.storage.name}" (id ${result.storage.id}) key ${result.key}\n` +
            `  run it anywhere that shares this platform: synapse plugin run <action> --plugin ${code}@${version}\n`,
        );
      }
      exit(0);
    });

  plugin
    .command('releases')
    .description('published plugin releases, oldest first')
    .argument('[code]', 'only this plugin')
    .option('--json', 'print JSON')
    .action(async (code: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const [{ openDatabase }, { listPluginReleases }] = await Promise.all([import('../platform/db.js'), import('../platform/repositories/index.js')]);
      const platform = await openDatabase({ dataDir: settingsFrom(cmd).dataDir });
      try {
        const releases = await listPluginReleases(platform.db, code);
        if (opts.json) printJson(releases);
        else if (releases.length === 0)
          process.stderr.write(code ? `no releases of ${code}\n` : 'no releases (publish one with `synapse plugin publish <dir>`)\n');
        else {
          for (const r of releases) {
            process.stdout.write(
              `${`${r.code}@${r.version}`.padEnd(32)} ${r.checksum.slice(0, 16)}  ${r.createdAt}  ${r.archive ? `storage ${r.archive.storage}: ${r.archive.key}` : '(no archive)'}\n`,
            );
          }
        }
      } finally {
        await platform.close();
      }
      exit(0);
    });
}

async function runDebug(pluginRef: string, actionName: string, rawParams: unknown, opts: RunOptions, dataDir: string): Promise<number> {
  const [{ findPlugin, loadAction, parseParams }, { DebugRunContext }, { TerminalRunView, summariseResult }] = await Promise.all([
    import('../engine/plugin-loader.js'),
    import('../engine/debug-run-context.js'),
    import('./render.js'),
  ]);
  const plugin = await findPlugin(pluginRef);
  const action = await loadAction(plugin, actionName);
  // A served action (restapi, a ServeAction) is served on a port until Ctrl-C (cli/serve-debug.ts).
  const serving = await import('./serve-debug.js');
  const served = serving.isServedAction(action);
  if (!served && opts.port !== undefined)
    throw new InvalidInputError('invalid option', [{ path: 'port', message: `${actionName} is not a served (restapi) action: nothing listens on a port` }]);
  if (!served) {
    // Category shapes (export, upload, train, tune, task pages) are workflows of several steps
    // with a worker's storage and database: --debug runs only a single start(ctx) in-process.
    const shape = (await import('../client/run-shapes.js')).runShapeFor(action);
    if (shape.name !== 'action') {
      throw new InvalidInputError('--debug cannot run this action', [
        {
          path: 'debug',
          message: `--debug runs a simple action's start() in this process; ${plugin.config.code} ${actionName} runs as the ${shape.name} workflow, whose steps run on a worker: drop --debug (with \`synapse dev\` running)`,
        },
      ]);
    }
  }
  const params = parseParams(action, rawParams);
  if (served) return serving.serveDebug(action, params, opts, dataDir);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const view = useTerminal(opts.json)
    ? new TerminalRunView(process.stdout, action.progressCategories, { showEvents: true, ...(opts.verbose ? { verbose: true } : {}) })
    : undefined;
  const json = (o: object) => process.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...o }) + '\n');
  const declared = Object.keys(action.progressCategories);
  const ctx = new DebugRunContext(
    opts.jobId ?? `debug-${plugin.config.code}-${actionName}`,
    params,
    abort.signal,
    {
      log: (level, message) => (view ? view.log(level, message) : json({ kind: 'log', level, message })),
      event: (event, data) => (view ? undefined : json({ kind: 'event', event, data })),
      progress: (category, current, total) => (view ? view.progressUpdate(category, current, total) : json({ kind: 'progress', category, current, total })),
      metrics: (category, values) => (view ? view.metricsUpdate(category, values) : json({ kind: 'metrics', category, values })),
      checkpoint: (seq) => (view ? undefined : json({ kind: 'checkpoint', seq })),
    },
    declared.length === 1 ? declared[0] : 'default',
  );
  const instance = new (action.cls as unknown as new () => { start(c: DebugRunContext): Promise<unknown> })();
  const result = await instance.start(ctx);
  if (view) {
    // The last frame at 100 % (the action returned), then the result in a few lines (--json has all of it).
    view.completed();
    process.stdout.write(`\n${summariseResult(result).join('\n')}\n`);
  } else json({ kind: 'result', result });
  return 0;
}

/**
 * `synapse server start-dev | stop`, `synapse worker`, `synapse dev` and `synapse demo`.
 * Registering the commands loads nothing but commander and Node built-ins; each action
 * imports the dev server, the worker or the gateway when it runs.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { readDevServerInfo, runUiUrl, type Settings } from '../client/settings.js';
import { InvalidInputError } from '../contracts/errors.js';
import { METHODS, type Method } from '../sdk/categories.js';
import type { DevServer } from '../workers/dev-server.js';
import { parseGatewayPort, startGatewayFor } from './gateway-commands.js';
import type { GatewayServer } from '../gateway/server.js';
import { settingsFrom, useTerminal } from './io.js';

const say = (line: string) => process.stderr.write(line + '\n');

function parsePort(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError('invalid option', [{ path: name, message: 'must be a port number' }]);
  return port;
}

function parseMethods(value: string | undefined): Method[] | undefined {
  if (!value) return undefined;
  const methods = value.split(',').map((m) => m.trim());
  const bad = methods.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (bad.length)
    throw new InvalidInputError('invalid option', [{ path: 'methods', message: `unknown method(s) ${bad.join(', ')}; use ${METHODS.join(', ')}` }]);
  return methods as Method[];
}

/** `--port` / `--ui-port` of the commands that start a dev server. */
interface PortOptions {
  port?: string;
  uiPort?: string;
}

function devPorts(opts: PortOptions): { port?: number; uiPort?: number } {
  const port = parsePort(opts.port, 'port');
  const uiPort = parsePort(opts.uiPort, 'ui-port');
  return { ...(port !== undefined ? { port } : {}), ...(uiPort !== undefined ? { uiPort } : {}) };
}

/**
 * The embedded dev server for these settings: this data dir's own when it is up, else one
 * started detached on the given ports (a port another server holds is an error, never adopted).
 */
async function ensureDevServer(settings: Settings, ports: { port?: number; uiPort?: number } = {}): Promise<Settings> {
  if (settings.temporal.external) return settings;
  const { isServing, startDevServer } = await import('../workers/dev-server.js');
  const info = readDevServerInfo(settings.dataDir);
  if (info && (await isServing(info.address))) return settings;
  say(`starting the Temporal dev server (data in ${settings.dataDir}/temporal)...`);
  const server = await startDevServer({ dataDir: settings.dataDir, detach: true, log: say, ...ports });
  say(`Temporal dev server on ${server.address}, Web UI ${server.uiUrl}`);
  return { ...settings, temporal: { ...settings.temporal, address: server.address, uiUrl: server.uiUrl } };
}

export function serverCommands(program: Command, exit: (code: number) => void): void {
  const server = program.command('server').description('the embedded Temporal dev server');

  server
    .command('start-dev')
    .description('start `temporal server start-dev` with its SQLite file under the data dir')
    .option('--port <port>', 'gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--headless', 'no Web UI')
    .option('--detach', 'leave it running in the background and return')
    .action(async (opts: { port: string; uiPort: string; headless?: boolean; detach?: boolean }, cmd: Command) => {
      const settings = settingsFrom(cmd);
      if (settings.temporal.external) {
        say(`TEMPORAL_ADDRESS is set (${settings.temporal.address}): not starting a dev server`);
        return exit(0);
      }
      const port = parsePort(opts.port, 'port');
      const uiPort = parsePort(opts.uiPort, 'ui-port');
      const { startDevServer } = await import('../workers/dev-server.js');
      const dev = await startDevServer({
        dataDir: settings.dataDir,
        ...(port !== undefined ? { port } : {}),
        ...(uiPort !== undefined ? { uiPort } : {}),
        headless: Boolean(opts.headless),
        detach: Boolean(opts.detach),
        log: say,
      });
      say(`Temporal dev server ready on ${dev.address}${dev.uiUrl ? `, Web UI ${dev.uiUrl}` : ''} (pid ${dev.pid})`);
      if (opts.detach) {
        say('stop it with: synapse server stop');
        return exit(0);
      }
      await untilSignal();
      await dev.stop();
    });

  server
    .command('stop')
    .description('stop a dev server started with --detach')
    .action(async (_o: unknown, cmd: Command) => {
      const { stopDetachedDevServer } = await import('../workers/dev-server.js');
      const info = await stopDetachedDevServer(settingsFrom(cmd).dataDir);
      say(info ? `stopped the dev server on ${info.address} (pid ${info.pid})` : 'no dev server recorded for this data dir');
    });

  server
    .command('start-cluster')
    .description('a real Temporal cluster on PostgreSQL: frontend, history, matching and worker services as separate processes (docs/production.md)')
    .option(
      '--database-url <url>',
      "a PostgreSQL for Temporal's databases, postgres://user:password@host:port/postgres (default: one started under the cluster folder)",
    )
    .option('--port <port>', "the frontend's gRPC port (TEMPORAL_ADDRESS); 0 picks free ports", '7233')
    .option('--dir <dir>', 'the cluster folder: config, logs, pids (default <data dir>/temporal-cluster)')
    .action(async (opts: { databaseUrl?: string; port: string; dir?: string }, cmd: Command) => {
      const settings = settingsFrom(cmd);
      const port = parsePort(opts.port, 'port');
      const { startCluster } = await import('../workers/cluster.js');
      const dir = path.resolve(opts.dir ?? path.join(settings.dataDir, 'temporal-cluster'));
      const info = await startCluster({
        dir,
        ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
        ...(port !== undefined ? { port } : {}),
        namespace: settings.temporal.namespace,
        log: say,
      });
      say(`Temporal cluster ready on ${info.address} (namespace ${info.namespace}, PostgreSQL ${info.database}); config and logs in ${dir}`);
      say(
        'point the CLI, workers and gateway at it with the line below; the Web UI: docker run -p 8080:8080 -e TEMPORAL_ADDRESS=<host>:' +
          info.address.split(':')[1] +
          ' temporalio/ui',
      );
      say(`stop it with: synapse server stop-cluster${opts.dir ? ` --dir ${opts.dir}` : ''}`);
      process.stdout.write(`export TEMPORAL_ADDRESS=${info.address}\n`);
    });

  server
    .command('stop-cluster')
    .description('stop a cluster started with start-cluster (and its PostgreSQL, when it started one)')
    .option('--dir <dir>', 'the cluster folder (default <data dir>/temporal-cluster)')
    .action(async (opts: { dir?: string }, cmd: Command) => {
      const { stopCluster } = await import('../workers/cluster.js');
      const dir = path.resolve(opts.dir ?? path.join(settingsFrom(cmd).dataDir, 'temporal-cluster'));
      const info = await stopCluster(dir);
      say(info ? `stopped the Temporal cluster on ${info.address}` : `no cluster recorded in ${dir}`);
    });

  program
    .command('worker')
    .description('serve the task queues: run workflows and plugin actions')
    .option('--methods <list>', `task queues to serve, by method (default ${METHODS.join(',')})`)
    .option('--concurrency <n>', 'plugin steps run at once per task queue')
    .option('--worker-deployment <name>', 'worker versioning: join this worker deployment; each run stays on the version it started on (docs/production.md)')
    .option('--build-id <id>', "this worker's version in the deployment (default: the workflow code's hash)")
    .option('--make-current', 'make this version the current one once polling: new runs start on it')
    .option('--class <name>', 'resource class to serve: runs of plugins with resource_class: <name> (default SYNAPSE_WORKER_CLASS or cpu)')
    .action(async (opts: WorkerCommandOptions, cmd: Command) => {
      const methods = parseMethods(opts.methods);
      const resourceClass = workerClass(opts.class);
      if (!opts.workerDeployment && (opts.buildId || opts.makeCurrent)) {
        throw new InvalidInputError('invalid option', [{ path: opts.buildId ? 'build-id' : 'make-current', message: 'needs --worker-deployment' }]);
      }
      const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
        throw new InvalidInputError('invalid option', [{ path: 'concurrency', message: 'must be a positive integer' }]);
      }
      const [{ runWorker }, { parseWorkerDeployment }] = await Promise.all([import('../workers/worker.js'), import('../workers/versioning.js')]);
      const deployment = opts.workerDeployment
        ? parseWorkerDeployment({
            name: opts.workerDeployment,
            ...(opts.buildId ? { buildId: opts.buildId } : {}),
            makeCurrent: Boolean(opts.makeCurrent),
          })
        : undefined;
      await runWorker({
        settings: settingsFrom(cmd),
        ...(methods ? { methods } : {}),
        ...(deployment ? { deployment } : {}),
        ...(concurrency ? { maxConcurrentActivities: concurrency } : {}),
        resourceClass,
        log: say,
        onReady: () => say('worker ready (Ctrl-C stops it gracefully)'),
      });
      say('worker stopped');
    });

  program
    .command('dev')
    .description('dev server, worker and HTTP gateway together; Ctrl-C stops them all')
    .option('--gateway-port <port>', 'HTTP gateway port', '8080')
    .option('--port <port>', "the dev server's gRPC port, when one is started", '7233')
    .option('--ui-port <port>', "the dev server's Web UI port, when one is started", '8233')
    .action(async (opts: { gatewayPort: string } & PortOptions, cmd: Command) => {
      let settings = settingsFrom(cmd);
      const port = parseGatewayPort(opts.gatewayPort);
      const ports = devPorts(opts);
      const [{ isServing, startDevServer }, { runWorker }] = await Promise.all([import('../workers/dev-server.js'), import('../workers/worker.js')]);
      let dev: DevServer | undefined;
      if (!settings.temporal.external) {
        const info = readDevServerInfo(settings.dataDir);
        if (!(info && (await isServing(info.address)))) {
          dev = await startDevServer({ dataDir: settings.dataDir, log: say, ...ports });
          settings = { ...settings, temporal: { ...settings.temporal, address: dev.address, uiUrl: dev.uiUrl } };
        }
      }
      say(`Temporal on ${settings.temporal.address}${settings.temporal.uiUrl ? `, Web UI ${settings.temporal.uiUrl}` : ''}`);
      let gateway: GatewayServer | undefined;
      try {
        gateway = await startGatewayFor(settings, port, '127.0.0.1');
        await runWorker({ settings, log: say, onReady: () => say('worker ready; Ctrl-C stops the worker, the gateway and the dev server') });
      } finally {
        await gateway?.close();
        await dev?.stop();
      }
    });

  program
    .command('demo')
    .description(
      'the README demo: sample data, a durable validation run, a COCO export, a PyTorch training run and one prediction of its deployed model, on the embedded defaults',
    )
    .option('--count <n>', 'items of sample data (images the model trains on)', '2000')
    .option('--json', 'print JSON lines')
    .option('--port <port>', "the dev server's gRPC port, when one is started", '7233')
    .option('--ui-port <port>', "the dev server's Web UI port, when one is started", '8233')
    .option(
      '--pipeline',
      'the annotation pipeline instead (cli/demo-pipeline.ts): upload -> to_task -> validation -> auto_label -> post_annotation -> COCO -> train',
    )
    .option('--epochs <n>', 'with --pipeline: epochs of each of its two trainings', '12')
    .action(async (opts: { count: string; json?: boolean; pipeline?: boolean; epochs: string } & PortOptions, cmd: Command) => {
      const count = Number(opts.count);
      if (!Number.isInteger(count) || count < 1 || count > 10_000) {
        throw new InvalidInputError('invalid option', [{ path: 'count', message: 'must be an integer from 1 to 10000' }]);
      }
      const epochs = Number(opts.epochs);
      if (!Number.isInteger(epochs) || epochs < 1 || epochs > 100)
        throw new InvalidInputError('invalid option', [{ path: 'epochs', message: 'must be an integer from 1 to 100' }]);
      const settings = await ensureDevServer(settingsFrom(cmd), devPorts(opts));
      if (opts.pipeline) {
        // 600 images by default: enough for the first model to learn the shapes; two trainings stay a few minutes.
        const given = cmd.getOptionValueSource('count') === 'cli';
        const { runPipelineDemo } = await import('./demo-pipeline.js');
        exit(await runPipelineDemo(settings, { count: given ? count : 600, epochs, terminal: useTerminal(opts.json), say }));
        return;
      }
      exit(await runDemo(settings, count, useTerminal(opts.json)));
    });
}

/**
 * The demo: generate the sample dataset into the embedded platform (idempotent), run the
 * demo-validation plugin (progress in two categories, metrics, checkpoints), export the
 * generated ground truth to COCO with export-coco, and train train-image-classifier (PyTorch)
 * on it for a few epochs. A worker runs in this process meanwhile.
 */
async function runDemo(settings: Settings, count: number, terminal: boolean): Promise<number> {
  const [{ openDatabase }, { generateSampleData }, { startWorker }, { RunsClient }, { followToEnd }] = await Promise.all([
    import('../platform/db.js'),
    import('../platform/generate.js'),
    import('../workers/worker.js'),
    import('../client/runs.js'),
    import('./follow.js'),
  ]);
  const platform = await openDatabase({ dataDir: settings.dataDir });
  let dataset;
  try {
    say(`generating ${count} sample images with box annotations (deterministic; reused when present)...`);
    dataset = await generateSampleData(platform, { count, dataDir: settings.dataDir });
    say(`project "${dataset.project.name}", ground-truth version ${dataset.groundTruth.versionId}`);
  } finally {
    await platform.close();
  }
  const worker = await startWorker({ settings, log: () => {} });
  const runs = await RunsClient.connect(settings);
  try {
    const steps: { title: string; plugin: string; action: string; params: unknown }[] = [
      { title: 'validate a dataset, checkpointing as it goes', plugin: 'demo-validation', action: 'validation', params: { count: Math.min(count, 200) } },
      {
        title: 'export the generated ground truth to COCO',
        plugin: 'export-coco',
        action: 'export',
        params: {
          name: 'demo-coco',
          storage: 'default',
          target: 'ground_truth',
          filter: { ground_truth_dataset_version: dataset.groundTruth.versionId },
          path: 'exports',
        },
      },
      {
        title: 'train a PyTorch classifier on it, epoch by epoch, checkpointing to storage',
        plugin: 'train-image-classifier',
        action: 'train',
        // Model names are unique: each demo run registers its own model.
        params: { name: `demo-cnn-${Date.now().toString(36)}`, dataset: dataset.groundTruth.versionId, hyperparameters: { epochs: 6 } },
      },
    ];
    let trainRunId = '';
    for (const step of steps) {
      say(`\n== ${step.plugin}: ${step.title}`);
      const started = await runs.start({ plugin: step.plugin, action: step.action, params: step.params });
      say(`run ${started.runId} started`);
      const code = await followToEnd(runs, started.runId, { terminal });
      if (!terminal) say(`Web UI: ${runUiUrl(settings, started.runId) ?? '(not known for this server)'}`);
      if (code !== 0) return code;
      if (step.action === 'train') trainRunId = started.runId;
    }
    say('\n== train-image-classifier: deploy the trained model (1 replica) and send it one image');
    const served = await (await import('./demo-serve.js')).demoServe(runs, trainRunId, say);
    if (served !== 0) return served;
    say(
      `\nThe COCO export is under ${path.join(settings.dataDir, 'storage', 'default', 'exports')}/; the model is registered (synapse run status <train run id> shows it).`,
    );
    say('The dev server keeps running so the Web UI can show the runs; stop it with: node bin/synapse.mjs server stop');
    return 0;
  } finally {
    await runs.close();
    await worker.stop().catch(() => {});
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

interface WorkerCommandOptions {
  methods?: string;
  concurrency?: string;
  workerDeployment?: string;
  buildId?: string;
  makeCurrent?: boolean;
  class?: string;
}

/** `--class`, else SYNAPSE_WORKER_CLASS, else cpu; a bad name is exit 2 naming where it came from. */
function workerClass(option: string | undefined): string {
  const value = option ?? process.env.SYNAPSE_WORKER_CLASS ?? 'cpu';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(value)) {
    throw new InvalidInputError('invalid option', [
      {
        path: option === undefined ? 'SYNAPSE_WORKER_CLASS' : 'class',
        message: `${JSON.stringify(value)} is not a resource class such as cpu or gpu (lowercase letters, digits, -)`,
      },
    ]);
  }
  return value;
}

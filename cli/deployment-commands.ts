/**
 * `synapse deployment list | status | scale | stop` and `synapse predict` (docs/serving.md).
 * Registering the commands loads nothing but commander; each action imports the client
 * (Temporal, the database) when it runs. A deployment is started like any run:
 * `synapse plugin run deployment '{"replicas":2}' --plugin <code>`.
 */
import type { Command } from 'commander';
import type { Deployments, DeploymentStatus } from '../client/deployments.js';
import { InvalidInputError, RunFailedError } from '../contracts/errors.js';
import { parseParamsArg, printJson, settingsFrom } from './io.js';

async function withDeployments<T>(cmd: Command, fn: (deployments: Deployments) => Promise<T>): Promise<T> {
  const [{ RunsClient }, { Deployments }] = await Promise.all([import('../client/runs.js'), import('../client/deployments.js')]);
  const runs = await RunsClient.connect(settingsFrom(cmd));
  const deployments = new Deployments(runs);
  try {
    return await fn(deployments);
  } finally {
    await deployments.close();
    await runs.close();
  }
}

function describe(d: DeploymentStatus): string {
  const lines = [
    `${d.id}  ${d.plugin.code}@${d.plugin.version}  ${d.status}  ready ${d.ready}${d.desired !== null ? ` of ${d.desired}` : ''}`,
    ...(d.error ? [`  error: ${d.error}`] : []),
    ...d.replicas.map(
      (r) =>
        `  replica ${r.replica}  ${r.status}${r.serving ? '' : r.status === 'ready' ? ' (stale)' : ''}  ${r.address ?? '-'}  worker ${r.worker}  attempt ${r.attempt}  served ${r.served}  in flight ${r.inFlight}${r.error ? `  error: ${r.error}` : ''}`,
    ),
  ];
  return lines.join('\n');
}

function parseReplicas(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidInputError('invalid replicas', [{ path: 'replicas', message: 'must be a whole number >= 1' }]);
  return n;
}

export function deploymentCommands(program: Command): void {
  const deployment = program.command('deployment').description('deployments: models served over HTTP by replicas (see docs/serving.md)');

  deployment
    .command('list')
    .description('running deployments (--all: ended ones too)')
    .option('--all', 'ended deployments too')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      await withDeployments(cmd, async (deployments) => {
        const list = await deployments.list({ all: Boolean(opts.all) });
        if (opts.json) return printJson(list);
        process.stdout.write(list.length ? list.map(describe).join('\n') + '\n' : 'no deployments\n');
      });
    });

  deployment
    .command('status <deployment>')
    .description('a deployment: status, desired and ready replicas, each replica')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withDeployments(cmd, async (deployments) => {
        const status = await deployments.status(id);
        if (opts.json) printJson(status);
        else process.stdout.write(describe(status) + '\n');
      });
    });

  deployment
    .command('scale <deployment> <replicas>')
    .description('set the number of replicas; returns once scaled-down replicas drained')
    .action(async (id: string, replicas: string, _opts: unknown, cmd: Command) => {
      await withDeployments(cmd, async (deployments) => {
        const view = await deployments.scale(id, parseReplicas(replicas));
        process.stdout.write(`${id}: ${view.desired} replica${view.desired === 1 ? '' : 's'} (slots ${view.running.join(', ')})\n`);
      });
    });

  deployment
    .command('stop <deployment>')
    .description('undeploy: cancel the run; returns once every replica drained and deregistered')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withDeployments(cmd, async (deployments) => {
        await deployments.stop(id);
        process.stdout.write(`${id}: ${(await deployments.status(id)).status}\n`);
      });
    });

  program
    .command('predict <deployment> <input>')
    .description('one prediction from a deployment: <input> is JSON or @file.json (straight to a ready replica)')
    .action(async (id: string, input: string, _opts: unknown, cmd: Command) => {
      const body = parseParamsArg(input);
      await withDeployments(cmd, async (deployments) => {
        const answer = await deployments.predict(id, body);
        printJson(answer.body);
        if (answer.status === 400)
          throw new InvalidInputError(
            `the input fails deployment ${id}'s input schema`,
            ((answer.body as { errors?: { path: string; message: string }[] }).errors ?? []).map((e) => ({ path: e.path, message: e.message })),
          );
        if (answer.status !== 200) throw new RunFailedError(`replica ${answer.replica} answered ${answer.status}`);
      });
    });
}

/**
 * `synapse token create | revoke | list` and `synapse gateway`. Registering the commands
 * loads nothing but commander and Node built-ins; each action imports the token store or
 * the gateway when it runs.
 */
import type { Command } from 'commander';
import type { Settings } from '../client/settings.js';
import type { GatewayServer } from '../gateway/server.js';
import type { TokenStore } from '../gateway/token-store.js';
import { InvalidInputError } from '../contracts/errors.js';
import { printJson, settingsFrom } from './io.js';

const say = (line: string) => process.stderr.write(line + '\n');

async function withTokens<T>(cmd: Command, fn: (tokens: TokenStore) => Promise<T>): Promise<T> {
  const { TokenStore } = await import('../gateway/token-store.js');
  const tokens = await TokenStore.open({ dataDir: settingsFrom(cmd).dataDir });
  try {
    return await fn(tokens);
  } finally {
    await tokens.close();
  }
}

export function parseGatewayPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError('invalid option', [{ path: 'port', message: 'must be a port number' }]);
  return port;
}

/** Starts the gateway for `settings` and says where it is (used by `synapse gateway` and `synapse dev`). */
export async function startGatewayFor(settings: Settings, port: number, host: string): Promise<GatewayServer> {
  const [{ useReleases }, { openGateway }, { SCOPES, DEFAULT_SCOPES }] = await Promise.all([
    import('../engine/plugin-releases.js'),
    import('../gateway/server.js'),
    import('../gateway/token-store.js'),
  ]);
  useReleases({ dataDir: settings.dataDir });
  const gateway = await openGateway(settings, { port, host, log: (line) => process.stdout.write(line + '\n') });
  say(
    `gateway on ${gateway.url} (API docs ${gateway.url}/docs); create a token with: synapse token create --name <name> [--scope <list>] (scopes ${SCOPES.join(', ')}; default ${DEFAULT_SCOPES.join(',')})`,
  );
  return gateway;
}

export function gatewayCommands(program: Command): void {
  const token = program.command('token').description('API tokens for the HTTP gateway');

  token
    .command('create')
    .description('create a token; it is printed once and only its hash is kept')
    .requiredOption('--name <name>', 'who or what uses it (e.g. ci)')
    .option(
      '--scope <list>',
      'comma-separated: runs:read, runs:write; only when named: codec (the Web UI decoding payloads), storages:write (adding storages with their keys), plugins:publish (uploading plugin releases: deploying code)',
      'runs:read,runs:write',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; scope: string; json?: boolean }, cmd: Command) => {
      const { parseScopes } = await import('../gateway/token-store.js');
      const created = await withTokens(cmd, (tokens) => tokens.create(opts.name, parseScopes(opts.scope)));
      if (opts.json) return printJson(created);
      process.stdout.write(`${created.token}\n`);
      say(`token ${created.id} "${created.name}" (${created.scopes.join(', ')}): store it now, it is not shown again`);
    });

  token
    .command('revoke')
    .description('revoke a token by id (or the token itself)')
    .argument('<id>', 'token id, as `token list` shows it')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const revoked = await withTokens(cmd, (tokens) => tokens.revoke(id));
      say(`revoked token ${revoked.id} "${revoked.name}"`);
    });

  token
    .command('list')
    .description('tokens (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await withTokens(cmd, (tokens) => tokens.list());
      if (opts.json) return printJson(list);
      for (const t of list) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : `last used ${t.lastUsedAt ?? 'never'}`;
        process.stdout.write(`${t.id}  ${t.name.padEnd(16)} ${t.scopes.join(',').padEnd(22)} created ${t.createdAt}  ${state}\n`);
      }
      if (list.length === 0) process.stdout.write('no tokens\n');
    });

  program
    .command('gateway')
    .description('the HTTP gateway: start, list, follow and cancel runs over HTTP')
    .option('--port <port>', 'port to listen on', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts: { port: string; host: string }, cmd: Command) => {
      const gateway = await startGatewayFor(settingsFrom(cmd), parseGatewayPort(opts.port), opts.host);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await gateway.close();
      say('gateway stopped');
    });
}

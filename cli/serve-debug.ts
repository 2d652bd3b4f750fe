/**
 * `synapse plugin run <action> --debug` of a served action (a ServeAction: method restapi,
 * e.g. `deployment` or an `inference` served over HTTP): the seed's `synapse plugin run serve
 * --debug`. Serves the action on `--port` (default 8000; 0 picks a free one) of 127.0.0.1 in
 * this process (activities/serve-local.ts), without Temporal or the gateway, until Ctrl-C.
 * Prints `serving <plugin> <action> on http://127.0.0.1:<port>` once it listens (a JSON line
 * with --json), the code's log lines on stderr, and the count of predictions at the end.
 * A registered model named by the params (`model`) is read from the platform in the data dir.
 * Imported only when such a run starts.
 */
import { InvalidInputError } from '../contracts/errors.js';
import type { DeploymentParams } from '../contracts/deployment.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { isServeActionClass } from '../sdk/serve.js';

/** The seed's (Ray Serve's) default port. */
export const DEFAULT_SERVE_PORT = 8000;

export function isServedAction(action: ResolvedAction): boolean {
  return isServeActionClass(action.cls);
}

/** The --port option: a whole number 0..65535. @throws InvalidInputError naming `port` */
export function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SERVE_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidInputError('invalid option', [{ path: 'port', message: 'must be a whole number from 0 to 65535' }]);
  return port;
}

export async function serveDebug(action: ResolvedAction, params: unknown, opts: { port?: string; json?: boolean }, dataDir: string): Promise<number> {
  const port = parsePort(opts.port);
  const [{ serveLocally }, { openDatabase }, { platformAccess }, { trainData }, { createPlatformApi }, { KyselyRunStore }] = await Promise.all([
    import('../activities/serve-local.js'),
    import('../platform/db.js'),
    import('../activities/platform-access.js'),
    import('../activities/train-data.js'),
    import('../activities/platform-api.js'),
    import('../platform/kysely-run-store.js'),
  ]);
  const served = params as DeploymentParams;
  // The data dir's platform (SQLite, or Postgres by DATABASE_URL): the registered model and the code's ServeContext.platform.
  const database = await openDatabase({ dataDir });
  const access = platformAccess(database.db, dataDir);
  const data = trainData(access, dataDir);
  const platform = createPlatformApi(access, {
    runId: `debug-${action.plugin.config.code}-${action.name}`,
    attempt: 1,
    pluginCode: action.plugin.config.code,
    runs: new KyselyRunStore(database, false),
  });
  const modelBytes = async (): Promise<Buffer | null> =>
    served.model === undefined ? null : data.modelBytes(await data.modelFor(action, served.model, 'model'));
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const line = (o: object) => process.stdout.write(JSON.stringify({ at: new Date().toISOString(), ...o }) + '\n');
  try {
    const { served: count } = await serveLocally({
      action,
      params: served,
      dataDir,
      port,
      modelBytes,
      platform,
      signal: abort.signal,
      log: (level, message) => (opts.json ? line({ kind: 'log', level, message }) : process.stderr.write(`${level} ${message}\n`)),
      onReady: (address) => {
        if (opts.json) line({ kind: 'serving', address, plugin: action.plugin.config.code, action: action.name });
        else
          process.stdout.write(
            `serving ${action.plugin.config.code} ${action.name} on ${address} (POST ${address}/predict, GET ${address}/schema; Ctrl-C stops)\n`,
          );
      },
    });
    if (opts.json) line({ kind: 'stopped', served: count });
    else process.stdout.write(`stopped after ${count} prediction${count === 1 ? '' : 's'}\n`);
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await database.close();
  }
}

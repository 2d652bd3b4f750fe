/**
 * `synapse plugin run <restapi action> --debug` (the seed's `synapse plugin run serve
 * --debug`): the served action in this process, without Temporal, a deployment or the
 * gateway, on a port of the developer's machine. It loads the code and the model like a
 * replica does (a TypeScript ServeAction's `load`, or a warm Python process for Python code:
 * activities/serve-python.ts) and answers the replica's HTTP (activities/serve-http.ts:
 * POST /predict or /<action>, GET /schema, GET /health) until `signal` aborts (Ctrl-C),
 * then drains what is in flight. A model that fails to load rejects with the reason; a
 * Python process that dies ends the serving with an error.
 *
 * Where the code runs: this is the developer's own local run of their own plugin, so a
 * TypeScript ServeAction is loaded and called in this process (the CLI's), with the
 * developer's environment, where a debugger and breakpoints reach it. It is not a plugin host:
 * a deployment's replica (activities/serve.ts) never runs plugin code in the worker. Python
 * code runs in its Python process with the plugin's scrubbed environment, as in a replica.
 */
import type { DeploymentParams } from '../contracts/deployment.js';
import { NonRetriableError } from '../contracts/errors.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { isPythonServeClass } from '../engine/python-serve.js';
import type { PlatformApi } from '../sdk/platform-api.js';
import type { LogLevel } from '../sdk/run-context.js';
import { isServeActionClass, type ServeAction } from '../sdk/serve.js';
import { createServeHttp } from './serve-http.js';
import { pythonServeHost } from './serve-python.js';

export interface ServeLocallyOptions {
  action: ResolvedAction;
  /** The action's params, already checked (parseParams). */
  params: DeploymentParams;
  /** Where the Python environment of a Python plugin is kept. */
  dataDir: string;
  /** Port to listen on (0: a free one) and host (default 127.0.0.1). */
  port: number;
  host?: string;
  /** The registered model's bytes when the params name one (`model`), else null. */
  modelBytes(): Promise<Buffer | null>;
  /** The platform the code's `load` gets (ServeContext.platform): the data dir's database. */
  platform: PlatformApi;
  log(level: LogLevel, message: string): void;
  /** Called once listening, with `http://host:port`. */
  onReady(address: string): void;
  /** Aborting stops serving (after the requests in flight). */
  signal: AbortSignal;
}

/** Serves until `signal` aborts; resolves with the number of predictions answered. */
export async function serveLocally(options: ServeLocallyOptions): Promise<{ served: number }> {
  const { action, params, signal } = options;
  const cls = action.cls;
  if (!isServeActionClass(cls))
    throw new NonRetriableError(`${action.plugin.config.code} ${action.name} is not a served action (method restapi, a ServeAction)`);
  const sink = {
    logMessage: (message: string, level: LogLevel = 'INFO') => options.log(level, message),
    log: (event: string, data?: Record<string, unknown>) => options.log('DEBUG', `${event} ${JSON.stringify(data ?? {})}`),
    setProgress: () => {},
    setMetrics: () => {},
  };
  const python = isPythonServeClass(cls) ? pythonServeHost(cls.python, action, options.dataDir, sink, 0) : undefined;
  let predict: (body: unknown) => Promise<unknown>;
  try {
    if (python) {
      await python.load(options.modelBytes, signal);
      predict = (body) => python.predict(body);
    } else {
      const instance = new (cls as unknown as new () => ServeAction)();
      const ctx = { params, pluginDir: action.plugin.dir, modelBytes: options.modelBytes, logMessage: sink.logMessage, signal, platform: options.platform };
      await instance.load(ctx);
      predict = (body) => instance.predict(body);
    }
  } catch (err) {
    python?.close();
    throw new NonRetriableError(`the model failed to load: ${err instanceof Error ? err.message : String(err)}`);
  }

  const http = createServeHttp({
    action,
    slot: 0,
    input: cls.input,
    predict: (body) => predict(body),
    onPredicted: (served, ms) => options.log('DEBUG', `prediction ${served} in ${ms.toFixed(1)} ms`),
  });
  const address = await http.listen(options.port, options.host ?? '127.0.0.1');
  http.status = 'ready';
  options.onReady(address);
  let crashed: string | undefined;
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    void python?.exited.then((why) => {
      crashed = why;
      resolve();
    });
  });
  http.status = 'draining';
  await http.close();
  python?.close();
  if (crashed !== undefined) throw new NonRetriableError(`serving stopped: ${crashed}`);
  return { served: http.served };
}

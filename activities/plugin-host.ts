/**
 * Plugin hosts: TypeScript plugin code runs in a child process per plugin version, never in the
 * worker (issue 18). The worker keeps what plugin code must not have: heartbeats, run events,
 * credentials, the database and the storages; the host asks for them through its run context
 * (plugin-host-protocol.ts). Like the Python runtime (python-runtime.ts) a host is kept warm
 * between steps of its plugin and runs one call at a time.
 *
 * A host starts with:
 * - a scrubbed environment (plugin-host-env.ts): PATH, a scratch HOME and TMPDIR, the locale,
 *   and only the variables the plugin declares in config.yaml `envs`;
 * - Node's permission model: reads of its bundle file and its plugin folder only (and the
 *   folders a step's call names, e.g. a trainer's dataset cache folder: part of the pool key),
 *   no writes, no child processes, no worker threads, no native addons;
 * - `--max-old-space-size` (heap), and a watchdog here that samples its RSS and CPU time.
 *
 * Per step (call) the watchdog enforces an RSS limit, a CPU-time limit and a wall-clock budget;
 * a host that exits, crashes, throws outside a call, breaks the protocol or passes a limit is
 * killed (SIGKILL) and the call fails with a PluginHostError naming what happened. A cancelled
 * call gets `cancelGraceMs` to end after its ctx.signal fired, then its host is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AsyncResource } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { NonRetriableError, SynapseError } from '../contracts/errors.js';
import type { MetricValues } from '../contracts/run-state.js';
import type { LogLevel } from '../sdk/run-context.js';
import type { ItemResult } from '../sdk/platform-api.js';
import type { PluginBundle } from './plugin-host-bundle.js';
import { describeError } from './plugin-host-errors.js';
import { FATAL_EXIT_CODE, FromHost, type HostError, type ToHost } from './plugin-host-protocol.js';

/** A plugin host failed a call: it crashed, exited, passed a limit or broke the protocol. Retryable (a new host). */
export class PluginHostError extends SynapseError {
  constructor(
    message: string,
    /** Which limit, when one was passed: `memory`, `rss`, `cpu`, `wall`; else `crash` or `protocol`. */
    readonly reason: 'memory' | 'rss' | 'cpu' | 'wall' | 'crash' | 'protocol',
  ) {
    super(message);
  }
}

/** The limits of every plugin host of this worker. */
export interface PluginHostLimits {
  /** V8's old-space (heap) limit, MiB: `--max-old-space-size`. */
  heapMb: number;
  /** The host's resident memory, MiB, sampled by the watchdog. */
  rssMb: number;
  /** CPU time (user + system) one call may use, seconds. */
  cpuSecondsPerCall: number;
  /** Wall-clock time one call may take, seconds. */
  wallSecondsPerCall: number;
  /** How long a cancelled call may take to end before its host is killed, ms. */
  cancelGraceMs: number;
  /** The attempt from which a host failure (crash or limit) is no longer retried. */
  maxCrashAttempts: number;
  /** How long an unused host waits for its next call, ms. */
  idleMs: number;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The defaults, each overridable by an environment variable of the worker:
 * SYNAPSE_PLUGIN_HEAP_MB (1024), SYNAPSE_PLUGIN_RSS_MB (2048), SYNAPSE_PLUGIN_CPU_SECONDS (3600),
 * SYNAPSE_PLUGIN_WALL_SECONDS (21600), SYNAPSE_PLUGIN_CANCEL_GRACE_MS (3000),
 * SYNAPSE_PLUGIN_MAX_CRASH_ATTEMPTS (3).
 */
function defaultLimits(): PluginHostLimits {
  return {
    heapMb: envNumber('SYNAPSE_PLUGIN_HEAP_MB', 1024),
    rssMb: envNumber('SYNAPSE_PLUGIN_RSS_MB', 2048),
    cpuSecondsPerCall: envNumber('SYNAPSE_PLUGIN_CPU_SECONDS', 3600),
    wallSecondsPerCall: envNumber('SYNAPSE_PLUGIN_WALL_SECONDS', 6 * 3600),
    cancelGraceMs: envNumber('SYNAPSE_PLUGIN_CANCEL_GRACE_MS', 3000),
    maxCrashAttempts: envNumber('SYNAPSE_PLUGIN_MAX_CRASH_ATTEMPTS', 3),
    idleMs: 120_000,
  };
}

let limits: PluginHostLimits | undefined;

/** This worker's host limits (read from the environment once). */
export function pluginHostLimits(): PluginHostLimits {
  return (limits ??= defaultLimits());
}

/** Sets some limits for hosts started from now on (tests, benches); returns the previous ones. */
export function setPluginHostLimits(change: Partial<PluginHostLimits>): PluginHostLimits {
  const previous = pluginHostLimits();
  limits = { ...previous, ...change };
  return previous;
}

/** Where a call's reports go: the step's ActivityRunContext. */
export interface HostSink {
  logMessage(message: string, level?: LogLevel): void;
  log(event: string, data?: Record<string, unknown>): void;
  setProgress(current: number, total: number, category?: string): void;
  setMetrics(values: MetricValues, category: string): void;
  /** Durable when it resolves (the host's `ctx.checkpoint` resolves then). */
  checkpoint(state: unknown): Promise<void>;
  /** The step's `ctx.platform`, whose own methods the host may call. */
  platform?: object;
  /** A task-page `finish`: the run's item results after `after` (`next` null on the last page). */
  results?(after: string): Promise<{ items: ItemResult[]; next: string | null }>;
  /**
   * Worker objects a `run` call offers its runner (the export's output, a dataset's files):
   * the host calls their own function properties by name, and gets what they resolve to.
   */
  targets?: Record<string, object>;
}

export interface HostCallOptions {
  sink: HostSink;
  /** Aborting it fires the call's ctx.signal in the host; after the grace the host is killed. */
  signal?: AbortSignal;
}

/** A message the host answers with `result` or `error`, before the call's id is set. */
export type HostCall = Extract<ToHost, { type: 'describe' | 'invoke' | 'run' }> extends infer M ? (M extends unknown ? Omit<M, 'id'> : never) : never;

/** The error a host reported, as the worker's own class where it is one (plugin-host-errors.ts). */
export type HostErrorMapper = (error: HostError) => Error;

/** util-linux's setpriv, to set the host's parent-death signal (Linux); without it a host outlives a killed worker until its IPC channel closes. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;
const WATCHDOG_MS = 100;

/** CPU seconds (user + system) and resident bytes of a process, from /proc; undefined where there is none. */
function sample(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssBytes: rssPages * PAGE_BYTES };
  } catch {
    return undefined;
  }
}

/**
 * A `ctx.platform` method asked for by name: only the API object's own function properties
 * (never `constructor`, `__proto__` or what Object.prototype has).
 */
async function callOwn(object: object | undefined, what: string, method: string, args: unknown[]): Promise<unknown> {
  if (!object) throw new NonRetriableError(`this step has no ${what}`);
  const fn: unknown = Object.hasOwn(object, method) ? (object as Record<string, unknown>)[method] : undefined;
  if (typeof fn !== 'function') throw new NonRetriableError(`${what} has no method "${method}"`);
  return (fn as (...a: unknown[]) => Promise<unknown>).apply(object, args);
}

/** What a host's `ctx-call` asks the sink for. */
function ctxCall(sink: HostSink, message: Extract<FromHost, { type: 'ctx-call' }>): Promise<unknown> {
  switch (message.op) {
    case 'checkpoint':
      return sink.checkpoint(message.state);
    case 'results':
      return sink.results ? sink.results(message.after) : Promise.reject(new NonRetriableError('results() is only for a task-page finish'));
    case 'platform':
      return callOwn(sink.platform, 'ctx.platform', message.method, message.args);
    case 'call': {
      const targets = sink.targets ?? {};
      return callOwn(
        Object.hasOwn(targets, message.target) ? targets[message.target] : undefined,
        `a worker object "${message.target}"`,
        message.method,
        message.args,
      );
    }
  }
}

interface Pending {
  id: number;
  options: HostCallOptions;
  /**
   * The caller's async context: the host's messages arrive on the child process's handle, whose
   * context is where the host was started (another step's activity, a client's describe, none),
   * so the sink and targets run in this one, where `Context.current()` is the calling step's.
   */
  scope: AsyncResource;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** One plugin host process. */
export class PluginHost {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  private readyResolve!: (pid: number) => void;
  private readyReject!: (err: unknown) => void;
  private pending: Pending | undefined;
  private nextId = 1;
  private exited = false;
  /** Why this process killed the host, when it did: the failure the call gets. */
  private killedFor: PluginHostError | undefined;
  private fatal: HostError | undefined;
  private stderrTail: string[] = [];
  /** Whether the host must not be reused (it was killed, or reported pollution). */
  retired = false;

  constructor(
    readonly bundle: PluginBundle,
    readonly envKey: string,
    env: Record<string, string>,
    private readonly mapError: HostErrorMapper,
    readonly limits: PluginHostLimits = pluginHostLimits(),
    /** Folders the host may read besides its bundle and plugin folder (absolute; a step's dataset cache folder). */
    readonly readDirs: readonly string[] = [],
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
    const node = [
      process.execPath,
      '--experimental-permission',
      `--allow-fs-read=${bundle.file}`,
      `--allow-fs-read=${bundle.pluginDir}${path.sep}`,
      ...readDirs.map((dir) => `--allow-fs-read=${dir}${path.sep}`),
      '--disable-warning=ExperimentalWarning',
      `--max-old-space-size=${Math.floor(this.limits.heapMb)}`,
      '--disallow-code-generation-from-strings',
      '--enable-source-maps',
      bundle.file,
    ];
    // The kernel kills the host when the worker dies (even SIGKILLed): a host busy in plugin
    // code cannot notice its parent is gone. setpriv execs node, so the pid is the host's.
    const command = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', ...node] : node;
    this.child = spawn(command[0] as string, command.slice(1), {
      cwd: bundle.pluginDir,
      env,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.on('error', (err) => this.fail(new PluginHostError(`cannot start the plugin host: ${err.message}`, 'crash')));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.retired = true;
      this.fail(this.killedFor ?? this.exitError(code, signal));
    });
    this.child.on('message', (raw: unknown) => this.onMessage(raw));
    this.lines(this.child.stdout!, (line) => this.pending?.scope.runInAsyncScope(() => this.pending?.options.sink.logMessage(line, 'INFO')));
    this.lines(this.child.stderr!, (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
      this.pending?.scope.runInAsyncScope(() => this.pending?.options.sink.logMessage(line, 'WARNING'));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Sends one message that the host answers with `result` or `error`. Rejects with a
   * PluginHostError when the host dies or passes a limit meanwhile, with the signal's reason
   * when the call was cancelled, else with the host's error mapped to the worker's class.
   */
  call<T>(message: HostCall, options: HostCallOptions): Promise<T> {
    if (this.pending) throw new Error('a plugin host runs one call at a time');
    if (!this.alive) return Promise.reject(new PluginHostError('the plugin host is gone', 'crash'));
    const id = this.nextId++;
    const pid = this.child.pid as number;
    const started = Date.now();
    const cpuAtStart = sample(pid)?.cpuSeconds ?? 0;
    const { limits } = this;
    return new Promise<T>((resolve, reject) => {
      let graceTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.send({ type: 'cancel', id });
        graceTimer = setTimeout(() => {
          this.kill(new PluginHostError(`the plugin host did not end the cancelled step within ${limits.cancelGraceMs} ms: killed`, 'wall'));
        }, limits.cancelGraceMs);
      };
      const watchdog = setInterval(() => {
        const now = sample(pid);
        if (now && now.rssBytes > limits.rssMb * 1024 * 1024) {
          this.kill(
            new PluginHostError(
              `the plugin host used ${Math.round(now.rssBytes / 1024 / 1024)} MiB of memory, over its limit of ${limits.rssMb} MiB (RSS): killed`,
              'rss',
            ),
          );
        } else if (now && now.cpuSeconds - cpuAtStart > limits.cpuSecondsPerCall) {
          this.kill(new PluginHostError(`the step used more than its CPU-time limit of ${limits.cpuSecondsPerCall} s in the plugin host: killed`, 'cpu'));
        } else if (Date.now() - started > limits.wallSecondsPerCall * 1000) {
          this.kill(new PluginHostError(`the step ran past its wall-clock limit of ${limits.wallSecondsPerCall} s in the plugin host: killed`, 'wall'));
        }
      }, WATCHDOG_MS);
      const done = () => {
        clearInterval(watchdog);
        clearTimeout(graceTimer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending = undefined;
      };
      this.pending = {
        id,
        options,
        scope: new AsyncResource('PluginHostCall'),
        resolve: (v) => {
          done();
          resolve(v as T);
        },
        reject: (e) => {
          done();
          reject(options.signal?.aborted ? options.signal.reason : e);
        },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ ...message, id } as ToHost);
      if (options.signal?.aborted) onAbort();
    });
  }

  /** Kills the host (SIGKILL); a running call fails with `reason`. */
  kill(reason?: PluginHostError): void {
    this.retired = true;
    if (!this.alive) return;
    this.killedFor ??= reason;
    this.child.kill('SIGKILL');
  }

  /** Whether the host keeps Node's event loop alive: not while it waits unused. */
  setRef(ref: boolean): void {
    for (const handle of [this.child, ...this.child.stdio]) {
      const h = handle as { ref?: () => void; unref?: () => void } | null;
      if (ref) h?.ref?.();
      else h?.unref?.();
    }
    const channel = (this.child as unknown as { channel?: { ref?: () => void; unref?: () => void } }).channel;
    if (ref) channel?.ref?.();
    else channel?.unref?.();
  }

  private exitError(code: number | null, signal: NodeJS.Signals | null): PluginHostError {
    const tail = this.stderrTail.join('\n');
    if (/heap out of memory|Reached heap limit|Allocation failed/i.test(tail)) {
      return new PluginHostError(`the plugin host ran out of its heap limit of ${this.limits.heapMb} MiB (--max-old-space-size) and was aborted`, 'memory');
    }
    if (this.fatal) {
      return new PluginHostError(`the plugin code threw outside any await of its step (a timer or an unhandled rejection): ${this.fatal.message}`, 'crash');
    }
    const how = signal ? `was killed by ${signal}` : code === FATAL_EXIT_CODE ? 'ended after a fatal error' : `exited with code ${code}`;
    const last = this.stderrTail.length ? `; last stderr: ${this.stderrTail.slice(-3).join(' | ')}` : '';
    return new PluginHostError(`the plugin host (pid ${this.child.pid}) ${how}${last}`, 'crash');
  }

  private fail(err: PluginHostError): void {
    this.readyReject(err);
    this.pending?.reject(err);
  }

  private send(message: ToHost): void {
    if (this.alive && this.child.connected)
      this.child.send(message, (err) => err && this.kill(new PluginHostError(`sending to the plugin host failed: ${err.message}`, 'crash')));
  }

  private lines(stream: Readable, onLine: (line: string) => void): void {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => onLine(line.length > 16_000 ? `${line.slice(0, 16_000)}...` : line));
    stream.on('error', () => {});
  }

  private onMessage(raw: unknown): void {
    const parsed = FromHost.safeParse(raw);
    if (!parsed.success) {
      this.kill(new PluginHostError(`the plugin host sent a message that is not the protocol: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'protocol'));
      return;
    }
    const message = parsed.data;
    if (message.type === 'ready') {
      this.readyResolve(message.pid);
      return;
    }
    if (message.type === 'fatal') {
      this.fatal = message.error;
      this.retired = true;
      return;
    }
    const p = this.pending;
    if (!p || message.id !== p.id) return;
    p.scope.runInAsyncScope(() => this.dispatch(p, message));
  }

  /** A message of the pending call, in the caller's async context. */
  private dispatch(p: Pending, message: Exclude<FromHost, { type: 'ready' | 'fatal' }>): void {
    const { sink } = p.options;
    try {
      switch (message.type) {
        case 'result':
          p.resolve(message.value);
          break;
        case 'error':
          p.reject(this.mapError(message.error));
          break;
        case 'log-message':
          sink.logMessage(message.message, message.level);
          break;
        case 'log':
          sink.log(message.event, message.data);
          break;
        case 'progress':
          sink.setProgress(message.current, message.total, message.category);
          break;
        case 'metrics':
          sink.setMetrics(message.values, message.category);
          break;
        case 'ctx-call': {
          // A call that throws before it returns a promise is answered as one that rejected.
          const work = Promise.resolve().then(() => ctxCall(sink, message));
          work.then(
            (value) => this.send({ type: 'ctx-reply', seq: message.seq, ok: true, value: value ?? null }),
            (err: unknown) => this.send({ type: 'ctx-reply', seq: message.seq, ok: false, error: describeError(err) }),
          );
          break;
        }
      }
    } catch (err) {
      // The host checks these before sending; a host that did not is not ours to trust.
      this.kill(new PluginHostError(`the plugin host sent a report the run context refused: ${err instanceof Error ? err.message : String(err)}`, 'protocol'));
    }
  }
}

/** Warm hosts by bundle key and environment. */
const idle = new Map<string, { host: PluginHost; timer: NodeJS.Timeout }[]>();
/** Every host alive, for the worker's shutdown. */
const all = new Set<PluginHost>();

function poolKey(bundle: PluginBundle, env: Record<string, string>, readDirs: readonly string[]): string {
  return `${bundle.key}\0${createHash('sha256')
    .update(JSON.stringify([Object.entries(env).sort(), [...readDirs].sort()]))
    .digest('hex')}`;
}

/**
 * A ready host for the bundle, environment and extra read-only folders: a warm one when there
 * is one, else a new one. `readDirs` (absolute folders, e.g. one dataset's cache folder) are
 * part of the pool key: a host never gains a folder it did not start with.
 * Throws Error for a folder that is not absolute.
 */
export async function acquirePluginHost(
  bundle: PluginBundle,
  env: Record<string, string>,
  mapError: HostErrorMapper,
  onStart?: (pid: number) => void,
  readDirs: readonly string[] = [],
): Promise<PluginHost> {
  for (const dir of readDirs)
    if (!path.isAbsolute(dir) || dir.includes(',')) throw new Error(`a plugin host's extra read folder must be absolute, without ',': ${dir}`);
  const key = poolKey(bundle, env, readDirs);
  const list = idle.get(key) ?? [];
  while (list.length > 0) {
    const entry = list.pop()!;
    clearTimeout(entry.timer);
    if (entry.host.alive && !entry.host.retired) {
      entry.host.setRef(true);
      return entry.host;
    }
    entry.host.kill();
  }
  const host = new PluginHost(bundle, key, env, mapError, pluginHostLimits(), readDirs);
  all.add(host);
  host.child.once('exit', () => all.delete(host));
  const pid = await host.ready;
  onStart?.(pid);
  return host;
}

/** Gives a host back for the next call of its plugin, or kills it when it is not healthy. */
export function releasePluginHost(host: PluginHost, healthy: boolean): void {
  if (!healthy || !host.alive || host.retired || host.busy) {
    host.kill();
    return;
  }
  const list = idle.get(host.envKey) ?? [];
  const timer = setTimeout(() => {
    const i = list.findIndex((e) => e.host === host);
    if (i >= 0) list.splice(i, 1);
    host.kill();
  }, host.limits.idleMs);
  timer.unref();
  host.setRef(false);
  list.push({ host, timer });
  idle.set(host.envKey, list);
}

/** Kills every plugin host of this process, busy or not (worker shutdown; tests). Their calls fail. */
export function closePluginHosts(reason = 'the worker is stopping'): void {
  for (const list of idle.values()) for (const e of list.splice(0)) clearTimeout(e.timer);
  for (const host of all) host.kill(new PluginHostError(`the plugin host was stopped: ${reason}`, 'crash'));
}

/** How many plugin hosts are alive (tests, benches). */
export function pluginHostCount(): number {
  return all.size;
}

/** The pids of the plugin hosts alive (benches). */
export function pluginHostPids(): number[] {
  return [...all].flatMap((h) => (h.alive && h.pid !== undefined ? [h.pid] : []));
}

process.once('exit', () => closePluginHosts());

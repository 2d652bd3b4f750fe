/**
 * Running Python plugin code: a per-plugin virtual environment keyed by the requirements'
 * hash, and a child process speaking the line protocol of runtimes/python/synapse_runtime.py
 * (calls and cancellation on stdin, everything the plugin reports as JSON lines on fd 3,
 * its stdout and stderr as log lines).
 *
 * Processes are kept warm per plugin between steps: importing torch takes seconds, an epoch
 * may take less. A process that crashes, hangs (nothing on fd 3 for `silenceLimitMs`) or
 * writes a line that is not the protocol is killed, and the step fails with a retryable
 * PythonRuntimeError naming what happened; the next attempt starts a fresh process.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { PluginConfig } from '../sdk/config.js';
import { NonRetriableError, SynapseError } from '../contracts/errors.js';
import type { LogLevel } from '../sdk/run-context.js';
import type { MetricValues } from '../contracts/run-state.js';
import { pythonInstallerEnv } from './plugin-host-env.js';

const execFileAsync = promisify(execFile);

export const PYTHON_RUNTIME_DIR = fileURLToPath(new URL('../runtimes/python/', import.meta.url));

/** A Python step failed in a way a new attempt (a new process) may not: crash, hang, bad output. Retryable. */
export class PythonRuntimeError extends SynapseError {}

/** Where a step's reports go (an ActivityRunContext in a run). */
export interface PythonSink {
  logMessage(message: string, level?: LogLevel): void;
  log(event: string, data?: Record<string, unknown>): void;
  setProgress(current: number, total: number, category?: string): void;
  setMetrics(values: MetricValues, category: string): void;
}

export interface PythonCallOptions {
  sink: PythonSink;
  /** Aborting it sends `cancel`; the call then fails with the signal's reason. */
  signal: AbortSignal;
  /** Kill the process when it says nothing for this long (a hang). */
  silenceLimitMs: number;
  /** A mid-epoch checkpoint: durable when it resolves, then Python continues. */
  onCheckpoint?: (step: number, file: string, totals?: Record<string, number>) => Promise<void>;
  /**
   * A platform request of a task-page hook (runtimes/python/synapse_task_pages.py): its answer
   * goes back as `{type: 'reply', id, ok: true, value}`; a throw as `{ok: false, kind: <error
   * class name>, message}`. Without it every platform request is refused.
   */
  onPlatform?: (method: string, args: unknown[]) => Promise<unknown>;
}

/**
 * The interpreter plugins run with: `SYNAPSE_PYTHON`, else Debian's /usr/bin/python3 (where
 * apt's python3-torch lives, even when another python3 comes first on PATH), else python3.
 */
export function basePython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SYNAPSE_PYTHON) return env.SYNAPSE_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** requirements.txt without comments, blank lines and surrounding spaces. */
export function requirementLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}

const envs = new Map<string, Promise<string>>();

/**
 * The Python executable for a plugin. Without requirements, the base interpreter itself (a
 * venv would add nothing). Otherwise `<data dir>/cache/python-envs/<code>-<hash>`, made with
 * `--system-site-packages` (so Debian's packages such as python3-torch are visible) and
 * installed with pip or uv as config.yaml's package_manager says; reused while the hash of
 * interpreter, requirements and options is the same.
 */
export async function ensurePythonEnv(plugin: { dir: string; config: PluginConfig }, dataDir: string, log: (line: string) => void): Promise<string> {
  const python = basePython();
  const reqFile = path.join(plugin.dir, 'requirements.txt');
  const requirements = existsSync(reqFile) ? requirementLines(readFileSync(reqFile, 'utf8')) : [];
  if (requirements.length === 0) return python;
  const manager = plugin.config.package_manager === 'uv' ? 'uv' : 'pip';
  const options = plugin.config.package_manager_options ?? [];
  const hash = createHash('sha256')
    .update(JSON.stringify([python, requirements, manager, options]))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(path.resolve(dataDir), 'cache', 'python-envs', `${plugin.config.code}-${hash}`);
  let pending = envs.get(dir);
  if (!pending) {
    pending = makeEnv(dir, python, reqFile, manager, options, log).catch((err: unknown) => {
      envs.delete(dir);
      throw err;
    });
    envs.set(dir, pending);
  }
  return pending;
}

async function makeEnv(dir: string, python: string, reqFile: string, manager: 'pip' | 'uv', options: string[], log: (line: string) => void): Promise<string> {
  const venvPython = path.join(dir, 'bin', 'python');
  const marker = path.join(dir, '.synapse-complete');
  if (existsSync(marker)) return venvPython;
  log(`creating the Python environment ${dir}`);
  mkdirSync(path.dirname(dir), { recursive: true });
  const run = async (file: string, args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync(file, args, { maxBuffer: 16 * 1024 * 1024, env: pythonInstallerEnv() });
      for (const line of `${stdout}\n${stderr}`.split('\n').filter(Boolean).slice(-20)) log(line);
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      if (e.code === 'ENOENT') throw new NonRetriableError(`${file} not found: install it (package_manager ${manager}) or set SYNAPSE_PYTHON`);
      throw new PythonRuntimeError(
        `${path.basename(file)} ${args.slice(0, 3).join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
  };
  await run(python, ['-m', 'venv', '--clear', '--system-site-packages', dir]);
  if (manager === 'uv') await run('uv', ['pip', 'install', '--python', venvPython, '-r', reqFile, ...options]);
  else await run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', reqFile, ...options]);
  // Written last: a half-made environment is made again, never used.
  writeFileSync(marker, new Date().toISOString());
  return venvPython;
}

type FromPython =
  | { type: 'ready'; pid: number; python: string }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'event'; event: string; data: Record<string, unknown> }
  | { type: 'progress'; current: number; total: number; category?: string }
  | { type: 'metrics'; values: MetricValues; category: string }
  | { type: 'heartbeat' }
  | { type: 'checkpoint'; id: number; step: number; path: string; totals?: Record<string, number> }
  | { type: 'platform'; id: number; method: string; args: unknown[] }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; kind: 'retryable' | 'nonretryable' | 'cancelled'; message: string; traceback?: string };

const KINDS = new Set(['ready', 'log', 'event', 'progress', 'metrics', 'heartbeat', 'checkpoint', 'platform', 'result', 'error']);

function parseLine(line: string): FromPython | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    if (value && typeof value === 'object' && KINDS.has((value as { type?: string }).type ?? '')) return value as FromPython;
  } catch {
    // not JSON
  }
  return undefined;
}

interface Pending {
  id: number;
  options: PythonCallOptions;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  lastHeard: number;
  /** The call's outcome, once fd 3 said it; applied when stdout and stderr are drained too. */
  settle?: () => void;
  /** Whether the call's sync line has come through stdout / stderr. */
  drained: { stdout: boolean; stderr: boolean };
}

/**
 * The line the runtime prints on stdout and stderr after a call, before its result: stdout,
 * stderr and fd 3 are separate pipes, so without it a plugin's last prints could arrive after
 * the result, when the call (and its run's log) is gone.
 */
export function syncLine(id: number): string {
  return `\u001esynapse-sync ${id}`;
}

/** One Python runtime process for one plugin folder and interpreter. */
export class PythonProcess {
  readonly child: ChildProcess;
  private nextId = 1;
  private pending: Pending | undefined;
  private stderrTail: string[] = [];
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readyResolve!: (pid: number) => void;
  private readyReject!: (err: unknown) => void;
  /** Resolves with the Python pid once the runtime has started. */
  readonly ready: Promise<number>;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    readonly python: string,
    readonly pluginDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
    this.child = spawn(python, ['-u', '-c', 'import synapse_runtime; synapse_runtime.main()'], {
      cwd: pluginDir,
      env: {
        ...env,
        PYTHONPATH: [PYTHON_RUNTIME_DIR, env.PYTHONPATH].filter(Boolean).join(path.delimiter),
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    this.child.on('error', (err) => this.fail(new PythonRuntimeError(`cannot start ${python}: ${err.message}`)));
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.stderrTail.length ? `; last stderr: ${this.stderrTail.slice(-5).join(' | ')}` : '';
      this.fail(new PythonRuntimeError(`the Python process (pid ${this.child.pid}) ${how}${tail}`));
    });
    this.child.stdin!.on('error', () => {}); // EPIPE after a crash: reported by 'exit'
    this.lines(this.child.stdio[3] as Readable, (line) => this.onProtocol(line));
    this.lines(this.child.stdout!, (line) => {
      if (this.drainedBy(line, 'stdout')) return;
      this.pending?.options.sink.logMessage(line, 'INFO');
    });
    this.lines(this.child.stderr!, (line) => {
      if (this.drainedBy(line, 'stderr')) return;
      this.stderrTail.push(line);
      if (this.stderrTail.length > 50) this.stderrTail.shift();
      this.pending?.options.sink.logMessage(line, 'WARNING');
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exited === undefined && !this.child.killed;
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Runs one command; rejects with PythonRuntimeError, NonRetriableError or the signal's reason. */
  call<T>(cmd: string, args: Record<string, unknown>, options: PythonCallOptions): Promise<T> {
    if (this.pending) throw new Error('a Python process runs one call at a time');
    if (!this.alive) return Promise.reject(new PythonRuntimeError('the Python process is gone'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.send({ type: 'cancel' });
      const done = () => {
        options.signal.removeEventListener('abort', onAbort);
        clearInterval(this.watchdog);
        this.pending = undefined;
      };
      this.pending = {
        id,
        options,
        lastHeard: Date.now(),
        drained: { stdout: false, stderr: false },
        resolve: (v) => {
          done();
          resolve(v as T);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      this.watchdog = setInterval(
        () => {
          const p = this.pending;
          if (p && Date.now() - p.lastHeard > options.silenceLimitMs) {
            this.kill();
            p.reject(
              new PythonRuntimeError(
                `the Python process (pid ${this.pid}) said nothing for ${Math.round(options.silenceLimitMs / 1000)} s during ${cmd}: killed as hung`,
              ),
            );
          }
        },
        Math.min(1000, Math.max(50, options.silenceLimitMs / 4)),
      );
      this.send({ type: 'call', id, cmd, args });
      if (options.signal.aborted) onAbort();
    });
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }

  /** Whether the process (and its pipes) keeps Node's event loop alive: not while it waits unused. */
  setRef(ref: boolean): void {
    for (const handle of [this.child, ...this.child.stdio]) {
      const h = handle as { ref?: () => void; unref?: () => void } | null;
      if (ref) h?.ref?.();
      else h?.unref?.();
    }
  }

  private send(message: unknown): void {
    if (this.alive) this.child.stdin!.write(JSON.stringify(message) + '\n');
  }

  private lines(stream: Readable, onLine: (line: string) => void): void {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', onLine);
    stream.on('error', () => {});
  }

  /** Whether the line is the pending call's sync line (then the call may settle). */
  private drainedBy(line: string, stream: 'stdout' | 'stderr'): boolean {
    const p = this.pending;
    if (!p || line !== syncLine(p.id)) return false;
    p.drained[stream] = true;
    this.settleWhenDrained(p);
    return true;
  }

  /** The call ends once its outcome is known and everything it printed has been logged. */
  private settleWhenDrained(p: Pending): void {
    if (p.settle && p.drained.stdout && p.drained.stderr) p.settle();
  }

  private fail(err: unknown): void {
    this.readyReject(err);
    this.pending?.reject(err);
  }

  private onProtocol(line: string): void {
    const message = parseLine(line);
    if (!message) {
      this.kill();
      this.fail(new PythonRuntimeError(`the Python process wrote a line that is not the protocol on fd 3: ${JSON.stringify(line.slice(0, 200))}`));
      return;
    }
    if (message.type === 'ready') {
      this.readyResolve(message.pid);
      return;
    }
    const p = this.pending;
    if (!p) return;
    p.lastHeard = Date.now();
    const { sink } = p.options;
    switch (message.type) {
      case 'log':
        sink.logMessage(String(message.message), message.level);
        break;
      case 'event':
        sink.log(String(message.event), message.data ?? {});
        break;
      case 'progress':
        sink.setProgress(Number(message.current), Number(message.total), message.category);
        break;
      case 'metrics':
        sink.setMetrics(message.values, message.category);
        break;
      case 'heartbeat':
        break;
      case 'checkpoint': {
        const save = p.options.onCheckpoint;
        const ack = () => this.send({ type: 'ack', id: message.id });
        if (!save) ack();
        else
          save(message.step, message.path, message.totals).then(ack, (err: unknown) => {
            this.kill();
            p.reject(err);
          });
        break;
      }
      case 'platform': {
        const answer = p.options.onPlatform
          ? p.options.onPlatform(String(message.method), Array.isArray(message.args) ? message.args : [])
          : Promise.reject(new NonRetriableError('this step has no platform access'));
        answer.then(
          (value) => {
            p.lastHeard = Date.now();
            this.send({ type: 'reply', id: message.id, ok: true, value: value ?? null });
          },
          (err: unknown) => {
            p.lastHeard = Date.now();
            const kind = err instanceof Error ? err.name || err.constructor.name : 'Error';
            this.send({ type: 'reply', id: message.id, ok: false, kind, message: err instanceof Error ? err.message : String(err) });
          },
        );
        break;
      }
      case 'result':
        if (message.id !== p.id) break;
        p.settle = () => p.resolve(message.value);
        this.settleWhenDrained(p);
        break;
      case 'error': {
        if (message.id !== p.id) break;
        if (message.traceback) sink.logMessage(message.traceback.trimEnd(), 'ERROR');
        const err =
          message.kind === 'cancelled'
            ? (p.options.signal.reason ?? new PythonRuntimeError(message.message))
            : message.kind === 'nonretryable'
              ? new NonRetriableError(message.message)
              : new PythonRuntimeError(message.message);
        p.settle = () => p.reject(err);
        this.settleWhenDrained(p);
        break;
      }
    }
  }
}

/** Warm processes by (interpreter, plugin folder). */
const idle = new Map<string, { proc: PythonProcess; timer: NodeJS.Timeout }[]>();
/** How long an unused process waits for the next step before it exits. */
export const IDLE_PROCESS_MS = 120_000;

/**
 * A ready process for the plugin: a warm one when there is one, else a new one, started with
 * `env`, which every caller must give: the plugin's scrubbed environment
 * (activities/plugin-host-env.ts pythonProcessEnv), never the worker's own.
 */
export async function acquirePython(python: string, pluginDir: string, env: NodeJS.ProcessEnv, onStart?: (pid: number) => void): Promise<PythonProcess> {
  const key = `${python}\0${pluginDir}`;
  const list = idle.get(key) ?? [];
  while (list.length > 0) {
    const entry = list.pop()!;
    clearTimeout(entry.timer);
    if (entry.proc.alive) {
      entry.proc.setRef(true);
      return entry.proc;
    }
  }
  const proc = new PythonProcess(python, pluginDir, env);
  const pid = await proc.ready;
  onStart?.(pid);
  return proc;
}

/** Gives a process back for the next step, or kills it when it is not healthy. */
export function releasePython(proc: PythonProcess, healthy: boolean): void {
  if (!healthy || !proc.alive || proc.busy) {
    proc.kill();
    return;
  }
  const key = `${proc.python}\0${proc.pluginDir}`;
  const list = idle.get(key) ?? [];
  const timer = setTimeout(() => {
    const i = list.findIndex((e) => e.proc === proc);
    if (i >= 0) list.splice(i, 1);
    proc.kill();
  }, IDLE_PROCESS_MS);
  // An idle Python process must not keep the worker alive.
  timer.unref();
  proc.setRef(false);
  list.push({ proc, timer });
  idle.set(key, list);
}

/** Kills every warm process (worker shutdown; tests). */
export function closeIdlePython(): void {
  for (const list of idle.values()) {
    for (const e of list.splice(0)) {
      clearTimeout(e.timer);
      e.proc.kill();
    }
  }
}

process.once('exit', closeIdlePython);

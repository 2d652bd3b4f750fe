/**
 * The warm Optuna process of a worker: runtimes/python/synapse_tune.py, started once and
 * kept (importing optuna takes a second or two; an ask or a tell takes milliseconds), with
 * one JSON object a line each way. The tune activities (tune.ts) call it; it holds nothing
 * that matters: every study lives in Optuna's storage (see `studyStorage`), so a process
 * that dies is replaced by the next call's.
 *
 * Not python-runtime.ts's PythonProcess: that one runs a plugin's Trainer with a RunContext
 * on fd 3 and one call at a time per step; this is a small service many activities share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NonRetriableError, SynapseError } from '../contracts/errors.js';
import { basePython } from './python-runtime.js';

export const TUNE_SERVICE = fileURLToPath(new URL('../runtimes/python/synapse_tune.py', import.meta.url));
/** The tools environment scripts/setup.sh makes: the system Python plus optuna. */
export const TOOLS_VENV = fileURLToPath(new URL('../.cache/python-tools/', import.meta.url));

/** A call failed in a way a new attempt may not (the process died, hung or said nonsense). Retryable. */
export class OptunaServiceError extends SynapseError {}

/**
 * The interpreter with optuna: `SYNAPSE_TOOLS_PYTHON`, else the tools venv of
 * scripts/setup.sh (`.cache/python-tools`), else the plugins' interpreter.
 */
export function toolsPython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SYNAPSE_TOOLS_PYTHON) return env.SYNAPSE_TOOLS_PYTHON;
  const venv = path.join(TOOLS_VENV, 'bin', 'python');
  return existsSync(venv) ? venv : basePython(env);
}

/**
 * Where studies are kept (the worker decides, so no password travels in workflow history):
 * `SYNAPSE_TUNE_STORAGE` (any Optuna storage URL, or `journal:<file>` for a journal file),
 * else the platform's PostgreSQL when `DATABASE_URL` is set (Optuna's tables in schema
 * `optuna`), else SQLite at `<data dir>/optuna.db`.
 */
export function studyStorage(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SYNAPSE_TUNE_STORAGE) return env.SYNAPSE_TUNE_STORAGE;
  const db = env.DATABASE_URL;
  if (db && /^postgres(ql)?:\/\//.test(db)) return db.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://');
  return `sqlite:///${path.join(path.resolve(dataDir), 'optuna.db')}`;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; kind: 'retryable' | 'nonretryable'; message: string };

interface Waiting {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

/** One running synapse_tune.py; calls may overlap (answered in order, matched by id). */
export class OptunaProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<{ pid: number; optuna: string }>;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private readonly stderrTail: string[] = [];
  private gone: Error | undefined;

  constructor(readonly python: string) {
    this.child = spawn(python, ['-u', TUNE_SERVICE], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let readyResolve!: (v: { pid: number; optuna: string }) => void;
    let readyReject!: (err: unknown) => void;
    this.ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => {});
    let first = true;
    createInterface({ input: this.child.stdout!, crlfDelay: Infinity }).on('line', (line) => {
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        this.die(new OptunaServiceError(`the Optuna process wrote a line that is not the protocol: ${JSON.stringify(line.slice(0, 200))}`));
        return;
      }
      if (first) {
        first = false;
        const hello = message as { ready?: boolean; pid?: number; optuna?: string; message?: string };
        if (hello.ready) readyResolve({ pid: Number(hello.pid), optuna: String(hello.optuna) });
        else {
          const err = new NonRetriableError(
            `optuna cannot be imported by ${python} (${hello.message ?? 'no reason given'}): run scripts/setup.sh, or set SYNAPSE_TOOLS_PYTHON to a Python that has optuna`,
          );
          readyReject(err);
          this.die(err);
        }
        return;
      }
      const reply = message as Reply;
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      clearTimeout(w.timer);
      if (reply.ok) w.resolve(reply.value);
      else w.reject(reply.kind === 'nonretryable' ? new NonRetriableError(`optuna: ${reply.message}`) : new OptunaServiceError(`optuna: ${reply.message}`));
    });
    createInterface({ input: this.child.stderr!, crlfDelay: Infinity }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    this.child.stdin!.on('error', () => {}); // EPIPE after a crash: reported by 'exit'
    this.child.on('error', (err) => {
      const e = new NonRetriableError(`cannot start ${python} for the Optuna service: ${err.message}; run scripts/setup.sh or set SYNAPSE_TOOLS_PYTHON`);
      readyReject(e);
      this.die(e);
    });
    this.child.on('exit', (code, signal) => {
      const tail = this.stderrTail.length ? `; last stderr: ${this.stderrTail.slice(-5).join(' | ')}` : '';
      const err = new OptunaServiceError(
        `the Optuna process (pid ${this.child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${tail}`,
      );
      readyReject(err);
      this.die(err);
    });
    // The worker's own work keeps it alive; an idle Optuna process must not.
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  get alive(): boolean {
    return this.gone === undefined;
  }

  /** One command; rejects with NonRetriableError (refused) or OptunaServiceError (retry). */
  async call<T>(cmd: string, args: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    await this.ready;
    if (this.gone) throw this.gone;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.kill();
        reject(new OptunaServiceError(`the Optuna process did not answer ${cmd} in ${Math.round(timeoutMs / 1000)} s: killed`));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve: (v) => resolve(v as T), reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, cmd, args }) + '\n');
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private die(err: Error): void {
    this.gone ??= err;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
    this.kill();
  }
}

const processes = new Map<string, OptunaProcess>();

/** The worker's Optuna process for this interpreter: the warm one, or a new one after a crash. */
export function optunaProcess(python: string = toolsPython()): OptunaProcess {
  let proc = processes.get(python);
  if (!proc || !proc.alive) {
    proc = new OptunaProcess(python);
    processes.set(python, proc);
  }
  return proc;
}

/** Stops the Optuna processes (worker shutdown, tests). */
export function closeOptunaProcesses(): void {
  for (const p of processes.values()) p.kill();
  processes.clear();
}

process.once('exit', closeOptunaProcesses);

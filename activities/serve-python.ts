/**
 * A replica of a Python deployment (engine/python-serve.ts): one Python runtime process kept
 * for the replica's life. `load` writes the registered model's file to a temporary folder and
 * calls `serve_load` (the trainer's `load`, once); `predict` calls `serve_predict` (the
 * trainer's `predict_request`) per request. The process runs one call at a time, so requests
 * queue here in arrival order. A body the Python code refuses (InvalidInput) is a ParamsError
 * naming the field (the replica answers 400); the process is killed when the replica stops. A
 * process that dies while the replica serves ends the replica's step with a retryable error,
 * so Temporal starts the replica again with a fresh process.
 *
 * The process gets the plugin's scrubbed environment (activities/plugin-host-env.ts
 * pythonProcessEnv: the basics, the interpreter's, CUDA's and BLAS's own variables and what
 * config.yaml `envs` declares), never the worker's database URL or storage keys, as Python
 * trainers (trainer-host.ts). Installing its virtual environment is the worker's own work.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NonRetriableError, ParamsError, type Problem } from '../contracts/errors.js';
import type { PythonEntrypoint } from '../engine/python-serve.js';
import type { ResolvedAction } from '../engine/plugin-loader.js';
import { ensurePythonEnv, PythonProcess, type PythonSink } from './python-runtime.js';
import { pythonProcessEnv } from './plugin-host-env.js';

/** How long a model load may stay silent (importing torch, reading the file). */
const LOAD_SILENCE_MS = 300_000;
/** How long one prediction may take (the gateway gives up after 30 s). */
const PREDICT_SILENCE_MS = 60_000;

export interface PythonServeHost {
  load(modelBytes: () => Promise<Buffer | null>, signal: AbortSignal): Promise<void>;
  /** The response's value; ParamsError for a body the Python code refused. */
  predict(body: unknown): Promise<unknown>;
  close(): void;
  /** Resolves with what happened when the Python process dies while the replica serves (not after close). */
  exited: Promise<string>;
}

type Answer = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

export function pythonServeHost(entry: PythonEntrypoint, action: ResolvedAction, dataDir: string, sink: PythonSink, slot: number): PythonServeHost {
  let proc: PythonProcess | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const never = new AbortController().signal;
  let closed = false;
  let onExit: (why: string) => void = () => {};
  const exited = new Promise<string>((resolve) => (onExit = resolve));
  return {
    exited,
    async load(modelBytes, signal) {
      const python = await ensurePythonEnv(action.plugin, dataDir, (line) => sink.logMessage(line, 'DEBUG'));
      proc = new PythonProcess(python, entry.pluginDir, pythonProcessEnv(action.plugin));
      const started = proc;
      started.child.once('exit', (code, sig) => {
        if (!closed) onExit(`its Python process (pid ${started.pid}) ${sig ? `was killed by ${sig}` : `exited with code ${code}`}`);
      });
      const pid = await proc.ready;
      sink.logMessage(`replica ${slot}: python runtime pid ${pid} started (${python})`);
      sink.log('python_started', { pid, replica: slot });
      const bytes = await modelBytes();
      if (!bytes) throw new NonRetriableError('a Python deployment serves a registered model: set the param `model` (a model id)');
      const dir = await mkdtemp(path.join(tmpdir(), 'synapse-serve-'));
      try {
        const file = path.join(dir, 'model.bin');
        await writeFile(file, bytes);
        await proc.call(
          'serve_load',
          { module: entry.module, class_name: entry.className, model_path: file },
          { sink, signal, silenceLimitMs: LOAD_SILENCE_MS },
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    predict(body) {
      const p = proc;
      if (!p) return Promise.reject(new Error('predict before load'));
      const next = queue.then(async () => {
        const answer = await p.call<Answer>('serve_predict', { body }, { sink, signal: never, silenceLimitMs: PREDICT_SILENCE_MS });
        if (!answer.ok) throw new ParamsError('the body fails the input', answer.problems);
        return answer.value;
      });
      queue = next.catch(() => {});
      return next;
    },
    close() {
      closed = true;
      proc?.kill();
    },
  };
}

/**
 * A real S3-compatible server for tests: versitygw (Apache-2.0) on a free loopback port,
 * POSIX backend with sidecar metadata (extended attributes may be unsupported) in a temp
 * dir. The binary is found as VERSITYGW_PATH, `versitygw` on PATH, $HOME/go/bin/versitygw or
 * $(go env GOPATH)/bin/versitygw, or built with `go install` (a few minutes, once).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../workers/dev-server.js';

export const VERSITYGW_MODULE = 'github.com/versity/versitygw/cmd/versitygw@v1.7.0';

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goBin(): string | undefined {
  const r = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) return undefined;
  return path.join(r.stdout.trim().split(path.delimiter)[0]!, 'bin', 'versitygw');
}

/** The versitygw binary, built with Go when nothing else is found. */
export async function findVersitygw(log: (line: string) => void = () => {}): Promise<string> {
  const fromEnv = process.env.VERSITYGW_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`VERSITYGW_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((d) => path.join(d, 'versitygw'));
  const candidates = [...onPath, path.join(os.homedir(), 'go', 'bin', 'versitygw')];
  const found = candidates.find(isExecutable);
  if (found) return found;
  const target = goBin();
  if (target && isExecutable(target)) return target;
  if (!target) throw new Error(`no versitygw binary and no Go toolchain: install Go, or set VERSITYGW_PATH (go install ${VERSITYGW_MODULE})`);
  log(`building versitygw: go install ${VERSITYGW_MODULE} (a few minutes, once)`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('go', ['install', VERSITYGW_MODULE], { env: { ...process.env, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', resolve);
    child.on('error', () => resolve(-1));
  });
  if (code !== 0 || !isExecutable(target)) throw new Error(`go install ${VERSITYGW_MODULE} failed (exit ${code})`);
  return target;
}

/** Starts versitygw on a free loopback port with a temp data dir; resolves once /health answers. */
export async function startS3Server(options: { log?: (line: string) => void; readyTimeoutMs?: number } = {}): Promise<S3Server> {
  const bin = await findVersitygw(options.log);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-s3-'));
  const meta = path.join(dir, 'meta');
  const data = path.join(dir, 'data');
  mkdirSync(meta);
  mkdirSync(data);
  const port = await freePort();
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const logFile = path.join(dir, 'versitygw.log');
  const out = openSync(logFile, 'a');
  const child = spawn(bin, ['--port', `127.0.0.1:${port}`, '--health', '/health', '--quiet', 'posix', '--sidecar', meta, data], {
    env: { ...process.env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
    stdio: ['ignore', out, out],
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  const logTail = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  for (;;) {
    if (exited !== undefined) {
      const tail = logTail();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`versitygw exited with code ${exited} before it was ready:\n${tail}`);
    }
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      const tail = logTail();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`versitygw did not answer on ${endpoint}/health in time:\n${tail}`);
    }
    await sleep(100);
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    stop: async () => {
      if (exited === undefined) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, sleep(5_000).then(() => child.kill('SIGKILL'))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Finding the Temporal CLI binary, in the order of DESIGN.md section 7:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, $HOME/go/bin/temporal, a `go install` build
 * (v1.5.1 is the newest that `go install` can build), and last the SDK's cached download.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnavailableError } from '../contracts/errors.js';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir && isExecutable(file)) return file;
  }
  return undefined;
}

function goBinDir(): string {
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  const root = gopath.status === 0 && gopath.stdout.trim() ? gopath.stdout.trim().split(path.delimiter)[0]! : path.join(os.homedir(), 'go');
  return path.join(root, 'bin');
}

/** Returns a path to a `temporal` binary, building it with Go when nothing else is found. */
export async function findTemporalCli(log: (line: string) => void = () => {}): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new UnavailableError(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const found = onPath('temporal') ?? [path.join(os.homedir(), 'go', 'bin', 'temporal')].find(isExecutable);
  if (found) return found;
  if (onPath('go')) {
    const target = path.join(goBinDir(), 'temporal');
    if (isExecutable(target)) return target;
    log(`building the Temporal CLI: go install ${TEMPORAL_CLI_MODULE} (a few minutes, once)`);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn('go', ['install', TEMPORAL_CLI_MODULE], {
        env: { ...process.env, CGO_ENABLED: '0' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('exit', resolve);
      child.on('error', () => resolve(-1));
    });
    if (code === 0 && isExecutable(target)) return target;
    log(`go install ${TEMPORAL_CLI_MODULE} failed (exit ${code}); trying the SDK's cached download`);
  }
  const cached = sdkCachedCli();
  if (cached) return cached;
  throw new UnavailableError(
    'no Temporal CLI found: set TEMPORAL_CLI_PATH, put `temporal` on PATH, or install Go so that ' + `\`go install ${TEMPORAL_CLI_MODULE}\` can build it`,
  );
}

/** @temporalio/testing downloads the CLI into the OS temp dir; reuse one if it is there. */
function sdkCachedCli(): string | undefined {
  const dir = path.join(os.tmpdir());
  if (!existsSync(dir)) return undefined;
  const candidates = ['temporal-sdk-typescript-cli', 'temporal-cli'].map((n) => path.join(dir, n));
  return candidates.find(isExecutable);
}

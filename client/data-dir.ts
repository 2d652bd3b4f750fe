/**
 * Where the embedded defaults keep their data when neither `--data-dir` nor SYNAPSE_DATA_DIR
 * says: found from any folder (issue 17, problem 7), so `cd plugins/my-plugin && synapse run
 * list` sees the same database and dev server as the repository root does.
 *
 * Walking up from the current folder, the first of:
 * 1. a folder holding a `.synapse` directory: that directory (a project's data dir);
 * 2. this repository's root (its package.json, name `synapse-temporal`): `<root>/.synapse`;
 * otherwise the per-user default `$XDG_DATA_HOME/synapse` (`~/.local/share/synapse`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The name in this repository's package.json: its root is a project root. */
export const REPOSITORY_PACKAGE_NAME = 'synapse-temporal';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isRepositoryRoot(dir: string): boolean {
  const pkg = path.join(dir, 'package.json');
  if (!existsSync(pkg)) return false;
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === REPOSITORY_PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** The data dir for a run of the CLI from `cwd` with no explicit one (absolute). */
export function findDataDir(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  let dir = path.resolve(cwd);
  for (;;) {
    const candidate = path.join(dir, '.synapse');
    if (isDir(candidate) || isRepositoryRoot(dir)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const base = env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(base, 'synapse');
}

/**
 * Type-checking a TypeScript plugin as its author's editor does: `@synapse/sdk` resolves to
 * the SDK of the synapse installation that runs the check (its `sdk/index.ts`), so the plugin
 * needs no build and no package of its own for it. `plugin create` writes the same settings as
 * the plugin's tsconfig.json (editors then resolve the SDK anywhere); `plugin check` runs tsc
 * with them and reports each error as `file:line:column` relative to the plugin folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Problem } from '../contracts/errors.js';
import { dependencyTypePaths, ensurePluginDeps } from './plugin-deps.js';

/** The synapse installation this code runs from (the sources or dist/: both sit one level down). */
const INSTALL_ROOT = path.resolve(import.meta.dirname, '..');
/** The SDK's entry, what `@synapse/sdk` means to a plugin. */
export const SDK_ENTRY = path.join(INSTALL_ROOT, 'sdk', 'index.ts');
const TSC = path.join(INSTALL_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * The compiler options of a plugin: strict ES modules as the engine loads them, `@synapse/sdk`
 * mapped to SDK_ENTRY (absolute, so the folder may live anywhere), Node's types from this
 * installation. Shape: a tsconfig.json's `compilerOptions`.
 */
export function pluginCompilerOptions(): Record<string, unknown> {
  return {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    strict: true,
    skipLibCheck: true,
    esModuleInterop: true,
    isolatedModules: true,
    noEmit: true,
    typeRoots: [path.join(INSTALL_ROOT, 'node_modules', '@types')],
    types: ['node'],
    paths: { '@synapse/sdk': [SDK_ENTRY] },
  };
}

/** The tsconfig.json `plugin create` writes into a TypeScript plugin: its files under plugin/. */
export function pluginTsconfigText(): string {
  return `${JSON.stringify({ compilerOptions: pluginCompilerOptions(), include: ['plugin/**/*.ts', '*.ts'] }, null, 2)}\n`;
}

export type TypeCheckResult = { checked: number; problems: Problem[] } | { skipped: string };

/** TypeScript files of a plugin folder (node_modules and dot folders left out). */
function typescriptFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...typescriptFiles(dir, child));
    else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(child);
  }
  return out;
}

/**
 * Type-checks the plugin's TypeScript files with the settings above (whatever tsconfig.json the
 * folder has: the check is the engine's view). `problems` lists every error as
 * `plugin/x.ts:12:5` + `TS2345: message`; none means it type-checks. `skipped` when the folder
 * has no TypeScript (a Python plugin) or this installation has no TypeScript compiler.
 */
export async function typeCheckPlugin(pluginDir: string): Promise<TypeCheckResult> {
  const dir = path.resolve(pluginDir);
  const files = typescriptFiles(dir);
  if (files.length === 0) return { skipped: 'no TypeScript files' };
  if (!existsSync(TSC)) return { skipped: `no TypeScript compiler in ${path.dirname(path.dirname(TSC))} (npm install typescript there)` };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'synapse-typecheck-'));
  try {
    const config = path.join(tmp, 'tsconfig.json');
    // The plugin's own npm dependencies (and their types) from their install (plugin-deps.ts).
    const nodeModules = await ensurePluginDeps(dir);
    const options = pluginCompilerOptions();
    if (nodeModules) options.paths = { ...(options.paths as Record<string, string[]>), ...dependencyTypePaths(dir, nodeModules) };
    writeFileSync(config, JSON.stringify({ compilerOptions: options, files: files.map((f) => path.join(dir, f)) }));
    const { stdout } = await promisify(execFile)(process.execPath, [TSC, '-p', config, '--pretty', 'false'], {
      // tsc names files relative to its working folder: tmp, which the paths are resolved against below.
      cwd: tmp,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; code?: unknown }) => {
      if (typeof err.stdout === 'string' && err.stdout.length > 0) return { stdout: err.stdout };
      throw err;
    });
    const problems: Problem[] = [];
    for (const line of stdout.split('\n')) {
      const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
      if (!m) continue;
      const file = path.resolve(tmp, m[1] as string);
      const rel = path.relative(dir, file);
      // Errors inside the SDK itself are not the plugin's: keep only the plugin's files.
      if (rel.startsWith('..')) continue;
      problems.push({ path: '', location: `${rel.split(path.sep).join('/')}:${m[2]}:${m[3]}`, message: `${m[4]}: ${m[5]}` });
    }
    return { checked: files.length, problems };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

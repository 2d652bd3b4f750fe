/**
 * The lint's rules (eslint.config.js, .dependency-cruiser.cjs) on fixtures meant to break them
 * (test/lint-fixtures/, globally ignored by `npm run lint`), and on the real tree.
 *
 * Each fixture is a small tree of rooms (workflows/, activities/, contracts/, ...). The tools run
 * with the fixture as the current folder and the project's own config files, so the paths the
 * rules name (`^workflows/`, `workflows/**`) match the fixture exactly as they match the tree.
 *
 * - workflow-sandbox/: the old scripts/lint-workflows.mjs cases: Node built-ins, other packages,
 *   imports reaching outside workflows/, `process`, `require`, `setTimeout`, `setInterval`,
 *   `Math.random`, dynamic import(); `import type` from anywhere, contracts/ values, comments
 *   and strings and test files are fine.
 * - cycle/: a value cycle and a type-only cycle; each fails the lint.
 * - rooms/: one import per room rule that must fail, beside imports that are allowed.
 * - clean/: a tree with every room used as intended passes both tools.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'lint-fixtures');
const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  rule: string;
  from: string;
  to: string;
  cycle: string[];
}

interface CruiseResult {
  /** The errors that make `depcruise` (its default `err` output, as in `npm run lint`) exit non-zero: its exit code is this count. */
  errors: number;
  violations: Violation[];
  stderr: string;
}

const cruiseArgs = (folders: string[], output: string) => [
  DEPCRUISE,
  '--config',
  path.join(ROOT, '.dependency-cruiser.cjs'),
  '--output-type',
  output,
  ...folders,
];

/** dependency-cruiser with the project's config, run from `cwd` over `folders`, its findings as JSON. */
function cruise(cwd: string, folders: string[]): CruiseResult {
  // The whole tree's JSON outgrew spawnSync's 1 MiB default buffer (cut mid-string, seen in CI).
  const r = spawnSync(process.execPath, cruiseArgs(folders, 'json'), { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const out = JSON.parse(r.stdout) as {
    summary: { error: number; violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
  };
  return {
    errors: out.summary.error,
    stderr: r.stderr,
    violations: out.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to, cycle: (v.cycle ?? []).map((c) => c.name) })),
  };
}

/** The exit status of dependency-cruiser exactly as `npm run lint` runs it (the `err` output, which exits with its error count). */
function cruiseStatus(cwd: string, folders: string[]): number | null {
  return spawnSync(process.execPath, cruiseArgs(folders, 'err'), { cwd, encoding: 'utf8' }).status;
}

/** `rule: from -> to`, with node_modules paths shortened to the package, sorted. */
function shown(violations: Violation[]): string[] {
  const pkg = (p: string) => p.replace(/^(\.\.\/)*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$2');
  return violations.map((v) => `${v.rule}: ${v.from} -> ${pkg(v.to)}`).sort();
}

/** ESLint with the project's config, run from `cwd` over `patterns`; results keyed by path relative to cwd. */
async function eslint(cwd: string, patterns: string[] = ['.']): Promise<Map<string, ESLint.LintResult>> {
  const engine = new ESLint({ cwd, overrideConfigFile: path.join(ROOT, 'eslint.config.js') });
  const results = await engine.lintFiles(patterns);
  return new Map(results.map((r) => [path.relative(cwd, r.filePath), r]));
}

/** `line rule` per message of one file, in source order. */
function messages(result: ESLint.LintResult | undefined): string[] {
  if (!result) throw new Error('file was not linted');
  return result.messages.map((m) => `${m.line} ${m.ruleId ?? `fatal: ${m.message}`}`);
}

function depcruiseFolders(): string[] {
  // The folders `npm run lint` hands dependency-cruiser: the same list, read from package.json.
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const m = /depcruise --config \.dependency-cruiser\.cjs ([\w ./-]+?)\s*(?:;|&&|$)/.exec(pkg.scripts.lint ?? '');
  if (!m?.[1]) throw new Error(`package.json "lint" does not run depcruise over the rooms: ${pkg.scripts.lint}`);
  return m[1].split(/\s+/);
}

describe('lint: workflow sandbox (the old lint-workflows cases)', () => {
  const dir = path.join(FIXTURES, 'workflow-sandbox');

  it('ESLint reports every forbidden import and global in workflows/bad.ts, line by line', async () => {
    const results = await eslint(dir);
    const bad = results.get('workflows/bad.ts');
    expect(messages(bad)).toEqual([
      '4 @typescript-eslint/no-restricted-imports', // node:fs
      '5 @typescript-eslint/no-restricted-imports', // path
      '6 @typescript-eslint/no-restricted-imports', // ../outside/helper.js
      '7 @typescript-eslint/no-restricted-imports', // zod
      '8 @typescript-eslint/no-import-type-side-effects', // import { type Document } from 'yaml' still loads yaml
      '19 no-restricted-globals', // process
      '20 no-restricted-globals', // setTimeout
      '21 no-restricted-globals', // setInterval
      '22 no-restricted-properties', // Math.random
      '23 no-restricted-globals', // require
      '23 @typescript-eslint/no-require-imports',
      '24 no-restricted-syntax', // import()
      '25 no-restricted-properties', // globalThis.process
    ]);
    const text = (line: number) =>
      bad!.messages
        .filter((m) => m.line === line)
        .map((m) => m.message)
        .join('\n');
    expect(text(4)).toMatch(/'node:fs'.*Node built-ins cannot be used in workflow code/);
    expect(text(5)).toMatch(/'path'.*Node built-ins/);
    expect(text(6)).toMatch(/'\.\.\/outside\/helper\.js'.*only its own files and contracts\//);
    expect(text(7)).toMatch(/'zod'.*only @temporalio\/workflow and @temporalio\/common/);
    expect(text(8)).toMatch(/side effect import/);
    expect(text(19)).toMatch(/`process` is not available/);
    expect(text(20)).toMatch(/use sleep\(\)/);
    expect(text(21)).toMatch(/loop over sleep\(\)/);
    expect(text(22)).toMatch(/non-deterministic.*uuid4\(\)/);
    expect(text(23)).toMatch(/`require` is not allowed/);
    expect(text(24)).toMatch(/No dynamic import\(\)/);
    expect(text(25)).toMatch(/globalThis\.process/);
  });

  it('ESLint passes the allowed forms: Temporal packages, contracts/ values, `import type` from anywhere, comments, strings, test files', async () => {
    const results = await eslint(dir);
    for (const file of ['workflows/good.ts', 'workflows/ok.ts', 'workflows/sub/helper.ts', 'workflows/good.spec.ts', 'activities/index.ts']) {
      expect(messages(results.get(file)), file).toEqual([]);
    }
  });

  it('dependency-cruiser refuses the same loads by resolved path, and only those', () => {
    const r = cruise(dir, ['workflows', 'activities', 'contracts', 'outside']);
    expect(r.stderr).toBe('');
    expect(shown(r.violations)).toEqual([
      'workflows-no-node-builtins: workflows/bad.ts -> fs',
      'workflows-no-node-builtins: workflows/bad.ts -> os',
      'workflows-no-node-builtins: workflows/bad.ts -> path',
      'workflows-only-contracts-and-temporal: workflows/bad.ts -> outside/helper.ts',
      'workflows-only-contracts-and-temporal: workflows/bad.ts -> zod',
    ]);
    expect(r.errors).toBe(5);
  });

  it('a Node built-in in a workflow fails the lint (non-zero exit)', async () => {
    expect(cruiseStatus(dir, ['workflows'])).not.toBe(0);
    const results = await eslint(dir, ['workflows/bad.ts']);
    expect(results.get('workflows/bad.ts')?.errorCount).toBeGreaterThan(0);
  });
});

describe('lint: import cycles', () => {
  const dir = path.join(FIXTURES, 'cycle');

  it('fails on a value cycle and on a cycle made of type-only imports', () => {
    const r = cruise(dir, ['client', 'activities', 'workflows']);
    expect(r.violations.map((v) => v.rule)).toEqual(['no-circular', 'no-circular']);
    const cycles = r.violations.map((v) => [v.from, ...v.cycle].join(' -> ')).sort();
    expect(cycles).toEqual(['activities/steps.ts -> workflows/flow.ts -> activities/steps.ts', 'client/a.ts -> client/b.ts -> client/c.ts -> client/a.ts']);
    expect(r.errors).toBe(2);
  });

  it('each cycle alone fails the lint (non-zero exit)', () => {
    expect(cruiseStatus(dir, ['client'])).not.toBe(0);
    expect(cruiseStatus(dir, ['activities', 'workflows'])).not.toBe(0);
  });
});

describe('lint: room rules', () => {
  it('refuses each forbidden import between rooms and lets the allowed ones through', () => {
    const dir = path.join(FIXTURES, 'rooms');
    const r = cruise(dir, ['sdk', 'engine', 'contracts', 'platform', 'storage', 'client', 'activities', 'workflows', 'gateway', 'cli', 'bin', 'test']);
    expect(r.stderr).toBe('');
    expect(shown(r.violations)).toEqual([
      'client-no-activity-or-workflow-values: client/start.ts -> activities/steps.ts',
      'contracts-only-contracts: contracts/state.ts -> engine/loader.ts',
      'contracts-only-contracts: contracts/state.ts -> path',
      'only-bin-imports-cli: gateway/app.ts -> cli/main.ts',
      'only-bin-imports-cli: test/cli.ts -> cli/main.ts',
      'platform-storage-stay-low: platform/store.ts -> engine/loader.ts',
      'platform-storage-stay-low: storage/s3.ts -> client/start.ts',
      'sdk-no-engine: sdk/action.ts -> engine/loader.ts',
      'sdk-no-engine: sdk/action.ts -> platform/store.ts',
      'workflows-only-contracts-and-temporal: workflows/flow.ts -> engine/loader.ts',
      'workflows-types-only-from-below: workflows/flow.ts -> gateway/app.ts',
    ]);
    expect(r.errors).toBe(11);
  });
});

describe('lint: a clean tree passes', () => {
  const dir = path.join(FIXTURES, 'clean');

  it('dependency-cruiser finds nothing and exits 0', () => {
    const folders = ['contracts', 'sdk', 'platform', 'activities', 'workflows', 'client', 'cli', 'bin'];
    const r = cruise(dir, folders);
    expect(r.violations).toEqual([]);
    expect(r.errors).toBe(0);
    expect(cruiseStatus(dir, folders)).toBe(0);
  });

  it('ESLint finds nothing, `Action<P = any>` in sdk/ included', async () => {
    const results = await eslint(dir);
    expect(results.size).toBeGreaterThanOrEqual(9);
    for (const [file, result] of results) expect(messages(result), file).toEqual([]);
  });
});

describe('lint: the real tree', () => {
  it('keeps its room rules and has no import cycle', () => {
    const r = cruise(ROOT, depcruiseFolders());
    expect(shown(r.violations)).toEqual([]);
    expect(r.errors).toBe(0);
  });

  it('workflows/ passes ESLint', async () => {
    const results = await eslint(ROOT, ['workflows']);
    expect(results.size).toBeGreaterThan(0);
    for (const [file, result] of results) expect(messages(result), file).toEqual([]);
  });

  it('lint ignores its own fixtures when run on the tree', async () => {
    const engine = new ESLint({ cwd: ROOT });
    expect(await engine.isPathIgnored(path.join(FIXTURES, 'workflow-sandbox', 'workflows', 'bad.ts'))).toBe(true);
  });
});

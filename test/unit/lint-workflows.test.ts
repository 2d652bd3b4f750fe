/**
 * scripts/lint-workflows.mjs: the real workflows/ folder passes; a folder with a bad workflow
 * file fails with one `file:line: message` per violation.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'lint-workflows.mjs');

function lint(args: string[], cwd = ROOT): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BAD = `import { proxyActivities, sleep } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type * as activities from '../activities/index.js';
import { readFileSync } from 'node:fs';
import path from 'path';
import {
  helper,
} from '../outside/helper.js';
import { z } from 'zod';
import { type Something } from 'lodash';
import { ok } from './ok.js';
// process.env, setTimeout( and Math.random( in comments are fine
const text = 'process.env Math.random() require("fs")';

export async function badWorkflow(): Promise<number> {
  const home = process.env.HOME;
  setTimeout(() => {}, 10);
  setInterval(() => {}, 10);
  const n = Math.random();
  const m = require('node:os');
  return n;
}
`;

const GOOD = `import { sleep } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type * as activities from '../activities/index.js';
import type { Stats } from 'node:fs';
import { helper } from './sub/helper.js';
export { helper } from './sub/helper.js';
export type { Other } from '../elsewhere.js';

/** Mentions of process.env and setTimeout( here are ignored. */
export async function goodWorkflow(): Promise<void> {
  const label = \`process.env \${helper()}\`;
  await sleep('1s');
}
`;

describe('lint-workflows', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-lint-workflows-'));
    mkdirSync(path.join(dir, 'good', 'sub'), { recursive: true });
    writeFileSync(path.join(dir, 'good', 'good.ts'), GOOD);
    writeFileSync(path.join(dir, 'good', 'sub', 'helper.ts'), 'export const helper = (): string => "hi";\n');
    // Test files are never bundled into the workflow sandbox: not linted.
    writeFileSync(path.join(dir, 'good', 'good.test.ts'), "import { it } from 'vitest';\nimport fs from 'node:fs';\n");
    mkdirSync(path.join(dir, 'bad'));
    writeFileSync(path.join(dir, 'bad', 'bad.ts'), BAD);
    writeFileSync(path.join(dir, 'bad', 'ok.ts'), 'export const ok = 1;\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes on the real workflows/ folder (default and explicit argument)', () => {
    const byDefault = lint([]);
    expect(byDefault.stderr).toBe('');
    expect(byDefault.stdout).toMatch(/^workflows\/ lint: \d+ files OK\n$/);
    expect(byDefault.code).toBe(0);

    // The default folder does not depend on the current folder.
    expect(lint([], os.tmpdir()).code).toBe(0);
    expect(lint(['workflows']).stdout).toMatch(/^workflows\/ lint: \d+ files OK\n$/);
  });

  it('passes on allowed imports: temporal packages, inside-folder relatives, import type from anywhere', () => {
    const r = lint([path.join(dir, 'good')]);
    expect(r.stdout).toContain('lint: 2 files OK');
    expect(r.code).toBe(0);
  });

  it('fails on a bad workflow file, naming file:line for every violation', () => {
    const r = lint([path.join(dir, 'bad')]);
    expect(r.code).toBe(1);
    const file = path.join(dir, 'bad', 'bad.ts');
    const lines = r.stdout.trim().split('\n');
    const violations = lines.filter((l) => l.startsWith(`${file}:`));
    const at = (line: number) => violations.filter((l) => l.startsWith(`${file}:${line}: `)).join('\n');

    expect(at(4)).toMatch(/Node built-in "node:fs"/);
    expect(at(5)).toMatch(/Node built-in "path"/);
    expect(at(6)).toMatch(/"\.\.\/outside\/helper\.js" reaches outside/);
    expect(at(9)).toMatch(/package "zod" is not allowed/);
    expect(at(10)).toMatch(/package "lodash".*import type/);
    expect(at(16)).toMatch(/`process\.`/);
    expect(at(17)).toMatch(/`setTimeout\(`/);
    expect(at(18)).toMatch(/`setInterval\(`/);
    expect(at(19)).toMatch(/`Math\.random\(`/);
    expect(at(20)).toMatch(/`require\(`/);
    // Allowed lines (temporal imports, import type, ./ok.js, comments, strings) are not reported.
    for (const line of [1, 2, 3, 11, 12, 13]) expect(at(line)).toBe('');
    expect(violations).toHaveLength(10);
    expect(lines.at(-1)).toMatch(/lint: 10 problems/);
    // ok.ts is clean.
    expect(r.stdout).not.toContain('ok.ts:');
  });

  it('exits 2 on a folder that does not exist', () => {
    const r = lint([path.join(dir, 'missing')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read');
  });
});

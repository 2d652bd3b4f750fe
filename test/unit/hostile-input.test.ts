/**
 * Hostile input refused before anything starts (issue 18, parts 3 and 4), at the level of the
 * pure checks: params size and depth limits, names that Object.prototype holds, config.yaml
 * limits with the file named, export and upload paths, upload sources confined to declared
 * roots with no existence oracle, and what `plugin publish` leaves out. The same input over the
 * CLI and HTTP is in test/integration/hostile-input.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, NotFoundError } from '../../contracts/errors.js';
import { INPUT_LIMITS, nestingDepth, ownValue, paramsLimitProblems } from '../../contracts/input-limits.js';
import { collectPluginFiles, packPluginDir } from '../../engine/plugin-archive.js';
import { findPlugin, loadAction, readPluginConfig } from '../../engine/plugin-loader.js';
import { parsePluginConfig } from '../../sdk/config.js';
import { checkExportPath, checkUploadSources } from '../../client/input-checks.js';
import { parseTuneParams } from '../../client/shapes/tune.js';
import { ObjectiveTrainer } from '../fixtures/plugins/tune-objective/plugin/objective.js';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-hostile-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function deep(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('params limits', () => {
  it('depth counts objects and arrays without recursing', () => {
    expect(nestingDepth(1)).toBe(0);
    expect(nestingDepth({})).toBe(1);
    expect(nestingDepth({ a: [] })).toBe(2);
    expect(nestingDepth({ a: [1, { b: {} }], c: {} })).toBe(4);
    // 100,000 levels: a recursive walk would overflow the stack.
    expect(nestingDepth(deep(100_000), 40)).toBeGreaterThan(40);
  });

  it('params nested deeper than the limit name the depth limit', () => {
    expect(paramsLimitProblems(deep(INPUT_LIMITS.paramsDepth))).toEqual([]);
    const problems = paramsLimitProblems(deep(10_000));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('params');
    expect(problems[0]?.message).toContain(`params depth limit is ${INPUT_LIMITS.paramsDepth}`);
  });

  it('params larger than the limit name the size limit and their size', () => {
    expect(paramsLimitProblems({ blob: 'x'.repeat(INPUT_LIMITS.paramsBytes - 100) })).toEqual([]);
    const problems = paramsLimitProblems({ blob: 'x'.repeat(5 * 1024 * 1024) });
    expect(problems[0]?.message).toMatch(/^\d+ bytes as JSON, over the params size limit of 262144 bytes \(256 KiB\)$/);
  });

  it('ownValue finds only own keys', () => {
    const record: Record<string, number> = { a: 1 };
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(ownValue(record, name)).toBeUndefined();
    expect(ownValue(record, 'a')).toBe(1);
  });
});

describe('action names that Object.prototype holds', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('%s is an unknown action (NotFoundError naming it)', async (name) => {
    const plugin = await findPlugin('demo-validation');
    let caught: unknown;
    await loadAction(plugin, name).catch((err: unknown) => (caught = err));
    expect(caught).toBeInstanceOf(NotFoundError);
    expect((caught as Error).message).toBe(`plugin demo-validation has no action "${name}" (it has: validation)`);
  });
});

describe('hyperparameter names that Object.prototype holds', () => {
  it('a searched `constructor` is a hyperparameter like any other, not "also fixed" (Object.prototype has one)', () => {
    const params = parseTuneParams(ObjectiveTrainer, {
      name: 'm',
      dataset: 1,
      metric: 'score',
      mode: 'min',
      search_space: { constructor: { type: 'uniform', low: 0, high: 1 } },
      num_trials: 2,
    });
    expect(Object.keys(params.search_space)).toEqual(['constructor']);
  });
});

describe('config.yaml limits', () => {
  const bomb = [
    'code: bomb',
    'name: Bomb',
    'version: 1.0.0',
    'category: data_validation',
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'actions: {}',
  ].join('\n');

  it('an alias bomb is a ConfigError naming the file and the alias limit', () => {
    const err = thrown(() => parsePluginConfig(bomb, '/plugins/bomb/config.yaml'));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('/plugins/bomb/config.yaml');
    expect((err as Error).message).toContain(`more than ${INPUT_LIMITS.yamlAliases} aliases`);
  });

  it('a config.yaml over the size limit is refused before it is parsed, naming the file', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, `code: big\n# ${'x'.repeat(INPUT_LIMITS.configYamlBytes)}\n`);
    let caught: unknown;
    await readPluginConfig(file).catch((err: unknown) => (caught = err));
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toContain(file);
    expect((caught as Error).message).toContain(`over the config.yaml size limit of ${INPUT_LIMITS.configYamlBytes} bytes`);
  });
});

describe('export paths', () => {
  it.each([
    ['..', '".." segments are not allowed'],
    ['a/../b', '".." segments are not allowed'],
    ['out\0x', 'NUL bytes are not allowed'],
    ['out\nx', 'control characters are not allowed'],
    ['a\\b', 'backslashes are not allowed'],
  ])('%j is refused naming the field', (value, message) => {
    const problems = checkExportPath(value);
    expect(problems.map((p) => p.path)).toContain('path');
    expect(problems.map((p) => p.message).join('; ')).toContain(message);
  });

  it.each(['', 'exports', 'exports/2026/', '/exports'])('%j is fine (a folder in the storage)', (value) => {
    expect(checkExportPath(value)).toEqual([]);
  });
});

describe('upload sources', () => {
  const root = tmpDir();
  mkdirSync(path.join(root, 'images'));
  writeFileSync(path.join(root, 'meta.xlsx'), '');

  it('NUL and newlines in any source are refused on every edge', () => {
    const problems = checkUploadSources({ path: `${root}\n`, assets: { image: { path: 'a\0b' } }, excel_metadata_path: 'm\r.xlsx' }, undefined);
    expect(problems.map((p) => p.path).sort()).toEqual(['assets.image.path', 'excel_metadata_path', 'path']);
  });

  it('a local caller (no roots) may name any folder', () => {
    expect(checkUploadSources({ path: '/srv/anywhere', excel_metadata_path: '/etc/meta.xlsx' }, undefined)).toEqual([]);
  });

  it('over HTTP every source must lie under a declared root', () => {
    expect(checkUploadSources({ path: root, excel_metadata_path: 'meta.xlsx' }, [root])).toEqual([]);
    expect(checkUploadSources({ path: path.join(root, 'images') }, [root])).toEqual([]);
    const out = checkUploadSources({ path: root, assets: { image: { path: '/etc' } }, excel_metadata_path: '../../etc/passwd' }, [root]);
    expect(out.map((p) => p.path).sort()).toEqual(['assets.image.path', 'excel_metadata_path']);
    expect(out[0]?.message).toContain('not under a declared upload root');
  });

  it('no roots declared: every local source is refused over HTTP, saying how to declare one', () => {
    const out = checkUploadSources({ path: root }, []);
    expect(out).toHaveLength(1);
    expect(out[0]?.message).toContain('SYNAPSE_UPLOAD_ROOTS');
  });

  it('relative sources over HTTP are refused (whose folder would they be relative to?)', () => {
    expect(checkUploadSources({ path: 'images' }, [root])[0]?.message).toContain('absolute');
  });

  it('the answer is the same whether the file exists or not (no existence oracle)', () => {
    const exists = checkUploadSources({ excel_metadata_path: '/etc/passwd', assets: { image: { path: root } } }, [path.join(root, 'images')]);
    const missing = checkUploadSources({ excel_metadata_path: '/etc/no-such-file', assets: { image: { path: root } } }, [path.join(root, 'images')]);
    const text = (ps: { path: string; message: string }[]) => ps.map((p) => `${p.path}: ${p.message.replace(/\/etc\/\S+/, 'X')}`);
    expect(text(exists)).toEqual(text(missing));
    expect(exists).toHaveLength(2);
  });
});

describe('plugin publish leaves secrets out', () => {
  function pluginDir(): string {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'config.yaml'), 'code: x\n');
    writeFileSync(path.join(dir, 'main.ts'), 'export {};\n');
    for (const f of ['.env', '.env.local', '.env.production', '.npmrc', 'id_rsa', 'id_rsa.pub', 'id_ed25519', 'server.pem', 'tls.key', '.pypirc'])
      writeFileSync(path.join(dir, f), 'SECRET=1\n');
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, '.git', 'config'), '[core]\n');
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', '.env.test'), 'SECRET=1\n');
    writeFileSync(path.join(dir, 'sub', 'data.csv'), 'a,b\n');
    return dir;
  }

  it('leaves out .env*, .npmrc, keys and .git at any depth, and says what it left out', async () => {
    const dir = pluginDir();
    const packed = await packPluginDir(dir);
    expect(packed.files).toEqual(['config.yaml', 'main.ts', 'sub/data.csv']);
    expect(packed.excluded).toEqual(
      expect.arrayContaining([
        '.env',
        '.env.local',
        '.env.production',
        '.npmrc',
        'id_rsa',
        'id_rsa.pub',
        'id_ed25519',
        'server.pem',
        'tls.key',
        '.pypirc',
        '.git',
        'sub/.env.test',
      ]),
    );
  });

  it('honours .synapseignore (gitignore syntax), which is itself published', async () => {
    const dir = pluginDir();
    writeFileSync(path.join(dir, '.synapseignore'), '# local data\n*.csv\nscratch/\n!keep.csv\n');
    mkdirSync(path.join(dir, 'scratch'));
    writeFileSync(path.join(dir, 'scratch', 'notes.md'), 'x\n');
    writeFileSync(path.join(dir, 'keep.csv'), 'x\n');
    const entries = await collectPluginFiles(dir);
    expect(entries.entries.map((e) => e.path)).toEqual(['.synapseignore', 'config.yaml', 'keep.csv', 'main.ts']);
    expect(entries.excluded).toEqual(expect.arrayContaining(['scratch', 'sub/data.csv']));
  });

  it('a .synapseignore cannot bring a secret back in', async () => {
    const dir = pluginDir();
    writeFileSync(path.join(dir, '.synapseignore'), '!.env.local\n!id_rsa\n');
    const packed = await packPluginDir(dir);
    expect(packed.files).not.toContain('.env.local');
    expect(packed.files).not.toContain('id_rsa');
  });
});

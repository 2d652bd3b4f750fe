/**
 * findPlugin reads each config.yaml once and then only stats it (engine/plugin-config-cache.ts):
 * a repeated lookup reads no file, and an edited config.yaml (even one of the same size written
 * within the same millisecond), a replaced one, a new plugin folder, a removed one and a
 * config.yaml broken by an edit are all seen at the next lookup. A caller editing what it got
 * does not change what the next caller finds.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, NotFoundError } from '../../contracts/errors.js';
import { findPlugin } from '../../engine/plugin-loader.js';
import { pluginConfigCacheCounts } from '../../engine/plugin-config-cache.js';

const CONFIG = (code: string, version: string) => `code: ${code}
name: ${code}
version: ${version}
category: data_validation
actions:
  validation:
    entrypoint: plugin.main.Check
    method: job
`;

function searchFolder(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'synapse-config-cache-'));
}

function writePlugin(root: string, folder: string, code: string, version: string): string {
  const dir = path.join(root, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.yaml'), CONFIG(code, version));
  return dir;
}

describe('findPlugin config cache', () => {
  it('a repeated lookup stats the config.yaml files and reads none', async () => {
    const root = searchFolder();
    writePlugin(root, 'a', 'cache-a', '1.0.0');
    writePlugin(root, 'b', 'cache-b', '1.0.0');
    await findPlugin('cache-b', [root]);
    const before = pluginConfigCacheCounts();
    for (let i = 0; i < 5; i++) expect((await findPlugin('cache-b@1.0.0', [root])).config.version).toBe('1.0.0');
    const after = pluginConfigCacheCounts();
    expect(after.reads - before.reads).toBe(0);
    expect(after.hits - before.hits).toBe(10);
  });

  it('an edit of the same size right after a lookup is seen at the next lookup; so is a file replaced by rename', async () => {
    const root = searchFolder();
    const dir = writePlugin(root, 'a', 'cache-edit', '1.0.0');
    expect((await findPlugin('cache-edit', [root])).config.version).toBe('1.0.0');
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('1.0.0', '1.0.1'));
    expect((await findPlugin('cache-edit', [root])).config.version).toBe('1.0.1');
    expect((await findPlugin(dir)).config.version).toBe('1.0.1');
    writeFileSync(`${file}.new`, CONFIG('cache-edit', '2.0.0'));
    renameSync(`${file}.new`, file);
    expect((await findPlugin('cache-edit@2.0.0', [root])).dir).toBe(dir);
  });

  it('a plugin folder added or removed is seen at the next lookup', async () => {
    const root = searchFolder();
    const a = writePlugin(root, 'a', 'cache-move', '1.0.0');
    expect((await findPlugin('cache-move@1.0.0', [root])).dir).toBe(a);
    await expect(findPlugin('cache-move@1.1.0', [root])).rejects.toThrow(NotFoundError);
    const b = path.join(root, 'b');
    cpSync(a, b, { recursive: true });
    writeFileSync(path.join(b, 'config.yaml'), CONFIG('cache-move', '1.1.0'));
    expect((await findPlugin('cache-move@1.1.0', [root])).dir).toBe(b);
    rmSync(a, { recursive: true });
    await expect(findPlugin('cache-move@1.0.0', [root])).rejects.toThrow('has no version 1.0.0');
  });

  it('a config.yaml broken by an edit fails with its problem, and works again once fixed', async () => {
    const root = searchFolder();
    const dir = writePlugin(root, 'cache-broken', 'cache-broken', '1.0.0');
    await findPlugin('cache-broken', [root]);
    writeFileSync(path.join(dir, 'config.yaml'), CONFIG('cache-broken', '1.0.0').replace('method: job', 'method: sometimes'));
    await expect(findPlugin('cache-broken', [root])).rejects.toThrow(ConfigError);
    await expect(findPlugin('cache-broken', [root])).rejects.toThrow(ConfigError);
    writeFileSync(path.join(dir, 'config.yaml'), CONFIG('cache-broken', '1.2.0'));
    expect((await findPlugin('cache-broken', [root])).config.version).toBe('1.2.0');
  });

  it("a caller that edits the config it got does not change the next caller's", async () => {
    const root = searchFolder();
    writePlugin(root, 'a', 'cache-own', '1.0.0');
    const first = await findPlugin('cache-own', [root]);
    first.config.version = '9.9.9';
    expect((await findPlugin('cache-own', [root])).config.version).toBe('1.0.0');
  });
});

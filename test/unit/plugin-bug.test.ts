/**
 * A bug in plugin code is not retried (issue 17 item 4): a TypeError (ReferenceError, ...)
 * thrown by plugin code becomes a NonRetriableError naming its file:line relative to the plugin
 * folder; a TypeError from the network (fetch failed, with a cause) stays retryable.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NonRetriableError } from '../../contracts/errors.js';
import { asPluginBug, pluginLocation } from '../../activities/failures.js';

/** A plugin folder whose plugin/bad.mjs throws a real TypeError from its line 3. */
async function thrownByPlugin(): Promise<{ dir: string; err: Error }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-plugin-bug-'));
  mkdirSync(path.join(dir, 'plugin'));
  const file = path.join(dir, 'plugin', 'bad.mjs');
  writeFileSync(file, 'export function run(params) {\n  const item = params.items[0];\n  return item.name.toUpperCase();\n}\n');
  const mod = (await import(pathToFileURL(file).href)) as { run: (p: unknown) => unknown };
  try {
    mod.run({ items: [{}] });
  } catch (err) {
    return { dir, err: err as Error };
  }
  throw new Error('the plugin did not throw');
}

describe('asPluginBug', () => {
  it('makes a TypeError thrown by plugin code non-retryable, with its file:line in the plugin folder', async () => {
    const { dir, err } = await thrownByPlugin();
    expect(err).toBeInstanceOf(TypeError);
    const bug = asPluginBug(err, dir);
    expect(bug).toBeInstanceOf(NonRetriableError);
    expect((bug as Error).message).toMatch(
      /^TypeError in plugin code at plugin\/bad\.mjs:3:\d+: Cannot read properties of undefined \(reading 'toUpperCase'\) \(a bug in the plugin: not retried\)$/,
    );
  });

  it('reads the class from the stack of an error that crossed the plugin host (a plain Error)', async () => {
    const { dir, err } = await thrownByPlugin();
    const crossed = new Error(err.message);
    crossed.stack = err.stack!;
    expect((asPluginBug(crossed, dir) as Error).message).toMatch(/^TypeError in plugin code at plugin\/bad\.mjs:3:/);
  });

  it('leaves a network TypeError, a plain Error and our own errors retryable as they were', async () => {
    const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    expect(asPluginBug(fetchFailed, '/plugins/x')).toBe(fetchFailed);
    const plain = new Error('the service said 503');
    expect(asPluginBug(plain, '/plugins/x')).toBe(plain);
    const ours = new NonRetriableError('bad data');
    expect(asPluginBug(ours, '/plugins/x')).toBe(ours);
  });

  it('names no location when no frame is in the plugin folder', () => {
    const err = new ReferenceError('x is not defined');
    err.stack = 'ReferenceError: x is not defined\n    at run (/elsewhere/engine.js:1:2)\n    at node:internal/x:3:4';
    expect((asPluginBug(err, '/plugins/x') as Error).message).toBe('ReferenceError in plugin code: x is not defined (a bug in the plugin: not retried)');
  });
});

describe('pluginLocation', () => {
  it('takes the first frame inside the folder, from paths and file URLs, skipping node_modules', () => {
    const stack = [
      'TypeError: boom',
      '    at helper (/p/node_modules/lib/index.js:1:1)',
      '    at Object.<anonymous> (file:///p/plugin/main.ts:12:7)',
      '    at /p/plugin/other.ts:2:2',
    ].join('\n');
    expect(pluginLocation(stack, '/p')).toBe('plugin/main.ts:12:7');
    expect(pluginLocation(stack, '/q')).toBeUndefined();
  });
});

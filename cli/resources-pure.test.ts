/**
 * The pure pieces behind the resource CLI and gateway: semantic-version precedence (which
 * release is the newest), event kinds (unknown ones refused naming the allowed), client
 * text without server paths, `--file-spec` parsing and the plain tables.
 */
import { describe, expect, it } from 'vitest';
import { parseFileSpec } from './data-commands.js';
import { fields, table } from './table.js';
import { parseEventKinds } from '../client/event-kinds.js';
import { InvalidInputError } from '../contracts/errors.js';
import { pluginSearchDirs } from '../engine/plugin-loader.js';
import { clientText } from '../gateway/client-text.js';
import { compareVersions } from '../platform/repositories/summaries.js';

describe('compareVersions (semver.org precedence)', () => {
  it('orders numerically, pre-releases before their release, build metadata ignored', () => {
    const sorted = ['1.10.0', '1.2.0', '1.0.0-alpha', '1.0.0', '1.0.0-alpha.1', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-rc.1', '1.0.0-beta', '2.0.0'].sort(
      compareVersions,
    );
    expect(sorted).toEqual(['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0', '2.0.0']);
    expect(compareVersions('1.0.0+build.5', '1.0.0')).toBe(0);
  });
});

describe('parseEventKinds', () => {
  it('reads comma-separated and repeated kinds; none given is no filter', () => {
    expect(parseEventKinds(undefined)).toBeUndefined();
    expect(parseEventKinds('progress, metrics')).toEqual(new Set(['progress', 'metrics']));
    expect(parseEventKinds(['log', 'status,event'])).toEqual(new Set(['log', 'status', 'event']));
  });

  it('refuses unknown and empty kinds, naming the field and the allowed ones', () => {
    const err = (() => {
      try {
        parseEventKinds('progress,item_checked', 'kind');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems).toEqual([
      { path: 'kind', message: 'unknown kind "item_checked"; use one or more of log, event, progress, metrics, status (comma-separated)' },
    ]);
    expect(() => parseEventKinds('')).toThrow(/an empty kind; use one or more of/);
  });
});

describe('clientText', () => {
  it('maps the plugin folders and other server paths, keeps URL paths', () => {
    expect(clientText(`not found in ${pluginSearchDirs().join(', ')}`)).toBe("not found in the server's plugin folders");
    expect(clientText("Cannot find module '/tmp/x/y.ts' imported from file:///usr/lib/z.js")).toBe(
      "Cannot find module 'a server path' imported from a server path",
    );
    expect(clientText('no route GET /v1/runs/abc; see /docs and /openapi.json, 3/4 done')).toBe(
      'no route GET /v1/runs/abc; see /docs and /openapi.json, 3/4 done',
    );
  });
});

describe('parseFileSpec', () => {
  it('reads name[:required|optional][:exts]', () => {
    expect(parseFileSpec('image', 1)).toEqual({ name: 'image', required: true, extensions: [] });
    expect(parseFileSpec('image:optional:.png,JPG', 1)).toEqual({ name: 'image', required: false, extensions: ['.png', 'JPG'] });
    expect(parseFileSpec('image::png', 1)).toEqual({ name: 'image', required: true, extensions: ['png'] });
  });
  it('names the flag and position of a bad one', () => {
    expect(parseFileSpec('Image', 2)).toEqual({ path: 'file-spec[2]', message: '"Image": a name of 1-64 lowercase letters, digits or "_"' });
    expect(parseFileSpec('a:maybe', 1)).toMatchObject({ path: 'file-spec[1]', message: expect.stringContaining('say required or optional') });
    expect(parseFileSpec('a:required:.p n g', 1)).toMatchObject({ message: expect.stringContaining('extensions such as .png') });
    expect(parseFileSpec('a:b:c:d', 1)).toMatchObject({ message: expect.stringContaining('use name[:required|optional]') });
  });
});

describe('table', () => {
  it('pads columns, right-aligns numbers, trims line ends; no rows, no lines', () => {
    const rows = [
      { id: 1, name: 'a' },
      { id: 1200, name: 'longer' },
    ];
    expect(
      table(rows, [
        { header: 'ID', cell: (r) => r.id },
        { header: 'NAME', cell: (r) => r.name },
      ]),
    ).toEqual(['   ID  NAME', '    1  a', '1,200  longer']);
    expect(table([], [{ header: 'X', cell: () => 1 }])).toEqual([]);
    expect(
      fields([
        ['a', 1],
        ['long key', 'v'],
        ['skipped', undefined],
      ]),
    ).toEqual(['a         1', 'long key  v']);
  });
});

/**
 * The data dir found from any folder (issue 17, problem 7): from a plugin folder inside the
 * repository the CLI uses the repository's `.synapse`, not an empty `./.synapse` there; a
 * project with its own `.synapse` uses that; anywhere else the per-user default.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findDataDir } from '../../client/data-dir.js';
import { loadSettings } from '../../client/settings.js';
import { ROOT } from '../helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'synapse-datadir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('findDataDir', () => {
  it("from a plugin folder of the repository: the repository's .synapse", () => {
    expect(findDataDir(path.join(ROOT, 'plugins', 'demo-validation', 'plugin'), {})).toBe(path.join(ROOT, '.synapse'));
    expect(findDataDir(ROOT, {})).toBe(path.join(ROOT, '.synapse'));
  });

  it('a folder under a project with a .synapse directory: that directory', () => {
    const project = path.join(tmp, 'project');
    mkdirSync(path.join(project, '.synapse'), { recursive: true });
    mkdirSync(path.join(project, 'plugins', 'mine'), { recursive: true });
    expect(findDataDir(path.join(project, 'plugins', 'mine'), {})).toBe(path.join(project, '.synapse'));
  });

  it('a package.json of another project is not a marker; no marker at all: the per-user default', () => {
    const other = path.join(tmp, 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'package.json'), JSON.stringify({ name: 'someone-else' }));
    expect(findDataDir(other, { HOME: '/home/ann' })).toBe('/home/ann/.local/share/synapse');
    expect(findDataDir(other, { XDG_DATA_HOME: '/data/ann' })).toBe('/data/ann/synapse');
  });

  it('--data-dir and SYNAPSE_DATA_DIR still win', () => {
    expect(loadSettings({ dataDir: '/x/y' }, {}).dataDir).toBe('/x/y');
    expect(loadSettings({}, { SYNAPSE_DATA_DIR: '/a/b' }).dataDir).toBe('/a/b');
  });
});

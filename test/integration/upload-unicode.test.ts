/**
 * Issue 12, faults 12 and 13, through a real upload run on local storage: a file named
 * `café.png` as macOS writes it (NFD) matches the Excel row `café` (NFC), whose date cell
 * uses an East Asian built-in date format by id alone; the unit's key is NFC, so the same
 * file from Linux (NFC on disk) under the same upload name is the same data unit, refused as
 * taken instead of registered twice.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { UploadSummary } from '../../activities/upload.js';
import { testSettings, useWorkerAndRuns } from '../helpers.js';
import { dataUnits, finish, setupCollection, sha256, tempDir, writeTree } from '../upload-helpers.js';
import { writeMinimalXlsx } from '../fixtures/excel/minimal-xlsx.js';

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

const settings = testSettings('upload-unicode');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

describe('upload names in any Unicode form, Excel dates in built-in formats', () => {
  beforeAll(async () => {
    await setupCollection(settings, 'cups', [{ name: 'image', required: true, extensions: ['.png'] }]);
  });

  it('matches a Mac file to its Excel row, keys the unit in NFC, and takes the same file from Linux as the same unit', async () => {
    const mac = tempDir('up-nfd');
    writeTree(mac, { [`image/${NFD}.png`]: 'one cup' });
    // The date: serial 45356 in style numFmtId 31 (yyyy"年"m"月"d"日"), no format string in the file.
    writeMinimalXlsx(path.join(mac, 'meta.xlsx'), {
      styles: [0, 31],
      rows: [
        ['filename', 'taken', 'drink'],
        [NFC, { n: 45356, s: 1 }, 'latte'],
      ],
    });
    const first = await finish(
      runs,
      (await runs.start({ plugin: 'upload-files', action: 'upload', params: { name: 'cups', path: mac, storage: 'default', data_collection: 'cups' } })).runId,
    );
    expect(first.status, first.error).toBe('completed');
    expect(first.result as UploadSummary).toMatchObject({ data_units_registered: 1, metadata_rows_matched: 1, metadata_rows_unmatched: 0 });
    const units = await dataUnits(settings, 'cups');
    expect(units.map((u) => [u.uniqueKey, u.meta])).toEqual([[`cups/${NFC}`, { taken: '2024-03-05', drink: 'latte' }]]);
    const key = units[0]!.files.image!.key;
    expect(key).toBe(`uploads/${sha256('one cup').slice(0, 2)}/${sha256('one cup')}/${NFC}.png`);
    expect(readFileSync(path.join(settings.dataDir, 'storage', 'default', key), 'utf8')).toBe('one cup');

    const linux = tempDir('up-nfc');
    writeTree(linux, { [`image/${NFC}.png`]: 'one cup' });
    const { runId } = await runs.start({
      plugin: 'upload-files',
      action: 'upload',
      params: { name: 'cups', path: linux, storage: 'default', data_collection: 'cups' },
    });
    await runs.temporal.workflow
      .getHandle(runId)
      .result()
      .catch(() => undefined);
    const second = await runs.state(runId);
    expect(second.status).toBe('failed');
    expect(second.error).toContain(`data units ${JSON.stringify(`cups/${NFC}`)} exist already`);
    expect(await dataUnits(settings, 'cups')).toHaveLength(1);
  });
});

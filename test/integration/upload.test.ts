/**
 * The upload run shape end to end on local storage: single-path and multi-path, recursive
 * and flat, grouping (incomplete units reported, newest duplicate wins, system files
 * skipped), Excel metadata written by openpyxl, continue-as-new, and bad inputs (a missing
 * required specification, Excel over a limit, a zip bomb, paths escaping the root), each a
 * clear error with nothing registered.
 */
import { readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { InvalidInputError } from '../../contracts/errors.js';
import { openDatabase } from '../../platform/db.js';
import { listPlanParts } from '../../platform/repositories/upload-plans.js';
import type { UploadSummary } from '../../activities/upload.js';
import { runCli, testSettings, useWorkerAndRuns } from '../helpers.js';
import { dataUnits, finish, python, setupCollection, sha256, startUpload, tempDir, UPLOAD_FIXTURE, writeTree, writeXlsx } from '../upload-helpers.js';

const settings = testSettings('upload');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

const storageRoot = () => path.join(settings.dataDir, 'storage', 'default');
const OLD = 1_600_000_000;
const NEW = 1_700_000_000;

/** A single-path tree: image + label per unit, one incomplete unit, a duplicate, system files. */
function singlePathTree(): string {
  const root = tempDir('up-single');
  writeTree(root, {
    'image/a/x1.jpg': 'image a/x1',
    'image/a/x1.png': { body: 'older image a/x1', mtime: OLD },
    'image/a/x2.jpg': 'image a/x2',
    'image/b/y.jpg': 'image b/y',
    'image/top.jpg': 'image top',
    'image/a/.hidden.jpg': 'hidden',
    'image/@eaDir/thumb.jpg': 'nas thumbnail',
    'image/#recycle/old.jpg': 'recycled',
    'image/.DS_Store': 'mac',
    'image/Thumbs.db': 'windows',
    'image/a/notes.txt': 'not an image',
    'label/a/x1.json': '{"l":1}',
    'label/a/x2.json': '{"l":2}',
    'label/b/y.json': '{"l":3}',
    'label/b/z.json': '{"l":4}',
    'label/top.json': '{"l":5}',
  });
  // The .jpg is the newer of the two a/x1 images: it wins.
  writeTree(root, { 'image/a/x1.jpg': { body: 'image a/x1', mtime: NEW } });
  return root;
}

/** The innermost message of a failed run, which `run status` shows too. */
async function failure(runId: string): Promise<string> {
  const err = await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err, 'the run should fail').toBeInstanceOf(Error);
  let message = '';
  for (let c: unknown = err; c instanceof Error; c = c.cause) message = c.message;
  const state = await runs.state(runId);
  expect(state.status).toBe('failed');
  expect(state.error).toBe(message);
  return message;
}

describe('upload runs', () => {
  beforeAll(async () => {
    await setupCollection(settings, 'pairs', [
      { name: 'image', required: true, extensions: ['.jpg', '.png'] },
      { name: 'label', required: true, extensions: ['.json'] },
    ]);
    await setupCollection(settings, 'photos', [
      { name: 'image', required: true, extensions: ['.jpg'] },
      { name: 'caption', required: false, extensions: ['.txt'] },
    ]);
  });

  it('uploads a single-path tree recursively, grouping by folder and stem', async () => {
    const root = singlePathTree();
    const { runId } = await runs.start({
      plugin: 'upload-files',
      action: 'upload',
      params: { name: 'first', path: root, storage: 'default', data_collection: 'pairs' },
    });
    const final = await finish(runs, runId);
    expect(final.status, final.error).toBe('completed');
    const summary = final.result as UploadSummary;
    expect(summary).toMatchObject({
      planned_units: 4,
      uploaded_files: 8,
      failed_files: 0,
      data_units_registered: 4,
      rejected_units: 1,
      duplicates_replaced: 1,
    });
    expect(summary.rejected).toEqual([{ key: 'b/z', reason: 'required file "image" is missing' }]);
    expect(final.progress).toMatchObject({
      analyze_collection: { current: 1, total: 1 },
      upload_data_files: { current: 8, total: 8 },
      generate_data_units: { current: 4, total: 4 },
    });
    expect(final.percent).toBe(100);

    const units = await dataUnits(settings, 'pairs');
    expect(units.map((u) => u.uniqueKey).sort()).toEqual(['first/a/x1', 'first/a/x2', 'first/b/y', 'first/top']);
    const x1 = units.find((u) => u.uniqueKey === 'first/a/x1')!;
    // The newest duplicate, stored under a key from its content, byte for byte.
    expect(x1.files.image!.key).toBe(`uploads/${sha256('image a/x1').slice(0, 2)}/${sha256('image a/x1')}/x1.jpg`);
    expect(x1.files.image!.checksum).toBe(sha256('image a/x1'));
    expect(readFileSync(path.join(storageRoot(), x1.files.image!.key), 'utf8')).toBe('image a/x1');
    expect(readFileSync(path.join(storageRoot(), x1.files.label!.key), 'utf8')).toBe('{"l":1}');
    // Nothing hidden, from a system folder or with another extension was stored.
    const events = await runs.events(runId, 0, 10_000);
    const skipped = events.flatMap((e) => (e.data.kind === 'event' && e.data.event === 'upload_file_skipped' ? [String(e.data.data.file)] : []));
    expect(skipped.map((f) => path.relative(root, f))).toEqual(['image/a/notes.txt']);
    // The plan (in the platform database, not on the worker's disk) is gone; the summary stays for a retried finalize.
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      expect(await listPlanParts(platform.db, runId)).toEqual(['summary']);
    } finally {
      await platform.close();
    }
  });

  it('uploads only the top folder when is_recursive is false', async () => {
    const root = singlePathTree();
    const final = await finish(
      runs,
      (
        await runs.start({
          plugin: 'upload-files',
          action: 'upload',
          params: { name: 'flat', path: root, is_recursive: false, storage: 'default', data_collection: 'pairs' },
        })
      ).runId,
    );
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ planned_units: 1, data_units_registered: 1, rejected_units: 0 });
    expect((await dataUnits(settings, 'pairs')).filter((u) => u.uniqueKey.startsWith('flat/')).map((u) => u.uniqueKey)).toEqual(['flat/top']);
  });

  it('uploads in multi-path mode, each asset recursive or not, an optional specification absent', async () => {
    const base = tempDir('up-multi');
    writeTree(base, {
      'photos/p1.jpg': 'p1',
      'photos/deep/p2.jpg': 'p2',
      'texts/p1.txt': 'caption 1',
      'texts/deep/p2.txt': 'not searched: flat',
    });
    const params = {
      name: 'multi',
      use_single_path: false,
      path: base,
      assets: { image: { path: 'photos', is_recursive: true }, caption: { path: path.join(base, 'texts'), is_recursive: false } },
      storage: 'default',
      data_collection: 'photos',
      extra_params: { meta: { source: 'camera' } },
    };
    const final = await finish(runs, (await runs.start({ plugin: 'upload-files', action: 'upload', params })).runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ planned_units: 2, uploaded_files: 3, data_units_registered: 2 });
    const units = await dataUnits(settings, 'photos');
    const p1 = units.find((u) => u.uniqueKey === 'multi/p1')!;
    const p2 = units.find((u) => u.uniqueKey === 'multi/deep/p2')!;
    expect(Object.keys(p1.files).sort()).toEqual(['caption', 'image']);
    expect(Object.keys(p2.files)).toEqual(['image']);
    expect(p1.meta).toEqual({ source: 'camera' });

    // Multi-path params without assets are refused before anything starts.
    const err = await runs
      .start({ plugin: 'upload-files', action: 'upload', params: { name: 'm2', use_single_path: false, storage: 'default', data_collection: 'photos' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems.map((p) => p.path)).toEqual(['assets']);
  });

  it('attaches Excel metadata written by openpyxl: unicode, numbers, dates, empty cells; by stem, name or path', async () => {
    const root = tempDir('up-excel');
    writeTree(root, { 'image/cat.jpg': 'cat', 'image/sub/dog.jpg': 'dog', 'image/sub/owl.jpg': 'owl', 'image/none.jpg': 'no row' });
    writeXlsx(path.join(root, 'meta.xlsx'), [
      ['filename', 'label', 'count', 'ratio', 'taken', 'note'],
      ['cat', '고양이 🐱', 3, 0.25, { date: '2024-03-05' }, null],
      ['dog.jpg', 'chien', 10, 1.5, { datetime: '2024-03-05T13:45:07' }, 'ok'],
      ['sub/owl.jpg', null, null, null, null, 'path match'],
      ['ghost', 'never matched', 1, 1, null, null],
    ]);
    const final = await finish(
      runs,
      (await runs.start({ plugin: 'upload-files', action: 'upload', params: { name: 'xl', path: root, storage: 'default', data_collection: 'photos' } })).runId,
    );
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({
      data_units_registered: 4,
      metadata_file: path.join(root, 'meta.xlsx'),
      metadata_rows_matched: 3,
      metadata_rows_unmatched: 1,
    });
    const meta = Object.fromEntries((await dataUnits(settings, 'photos')).filter((u) => u.uniqueKey.startsWith('xl/')).map((u) => [u.uniqueKey, u.meta]));
    expect(meta).toEqual({
      'xl/cat': { label: '고양이 🐱', count: '3', ratio: '0.25', taken: '2024-03-05' },
      'xl/sub/dog': { label: 'chien', count: '10', ratio: '1.5', taken: '2024-03-05T13:45:07', note: 'ok' },
      'xl/sub/owl': { note: 'path match' },
      'xl/none': {},
    });
  });

  it('continues as new between small batches and still registers every unit once', async () => {
    const root = tempDir('up-can');
    const files: Record<string, string> = {};
    for (let i = 0; i < 23; i++) files[`image/f${String(i).padStart(2, '0')}.jpg`] = `can ${i}`;
    writeTree(root, files);
    const { runId, firstExecutionRunId } = await startUpload(runs, settings, {
      params: { name: 'can', path: root, storage: 'default', data_collection: 'photos', creating_data_unit_batch_size: 2 },
      budget: { unitsPerBatch: 3, batchesPerRun: 2, batchesInFlight: 2 },
    });
    const handle = runs.temporal.workflow.getHandle(runId);
    const final = await finish(runs, runId);
    expect(final.status, final.error).toBe('completed');
    expect(final.result).toMatchObject({ planned_units: 23, uploaded_files: 23, data_units_registered: 23 });
    expect((await handle.describe()).runId).not.toBe(firstExecutionRunId);
    const units = (await dataUnits(settings, 'photos')).filter((u) => u.uniqueKey.startsWith('can/'));
    expect(units).toHaveLength(23);
    expect(new Set(units.map((u) => u.files.image!.key)).size).toBe(23);
  });

  it('runs from the CLI as the README shows, and refuses bad params with exit 2 naming the field', async () => {
    const root = tempDir('up-cli');
    writeTree(root, { 'image/one.jpg': 'cli one', 'image/two.jpg': 'cli two' });
    const params = JSON.stringify({ name: 'cli', path: root, storage: 'default', data_collection: 'photos' });
    const ok = await runCli(['plugin', 'run', 'upload', params, '--plugin', 'upload-files', '--json'], settings);
    expect(ok.code, ok.stderr).toBe(0);
    const last = JSON.parse(ok.stdout.trim().split('\n').pop()!) as { type: string; state: { status: string; result: UploadSummary } };
    expect(last.type).toBe('end');
    expect(last.state.status).toBe('completed');
    expect(last.state.result).toMatchObject({ uploaded_files: 2, data_units_registered: 2 });
    const bad = await runCli(
      ['plugin', 'run', 'upload', JSON.stringify({ name: 'cli2', storage: 'default', data_collection: 'photos' }), '--plugin', 'upload-files'],
      settings,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('path: required when use_single_path is true');
  });

  describe('bad inputs: a clear error, nothing registered', () => {
    /** Runs an upload expected to fail; returns its error after checking nothing was registered. */
    async function failsWith(params: Record<string, unknown>, plugin = 'upload-files'): Promise<string> {
      const before = (await dataUnits(settings, params.data_collection as string)).length;
      const { runId } = await runs.start({ plugin, action: 'upload', params });
      const error = await failure(runId);
      expect((await dataUnits(settings, params.data_collection as string)).length).toBe(before);
      return error;
    }

    it('a missing required specification (single-path folder, multi-path asset)', async () => {
      const root = tempDir('up-missing');
      writeTree(root, { 'image/a.jpg': 'a' });
      expect(await failsWith({ name: 'miss', path: root, storage: 'default', data_collection: 'pairs' })).toContain(
        `no folder "label" in ${root} for the required file specification "label"`,
      );
      const err = await failsWith({
        name: 'miss2',
        use_single_path: false,
        assets: { image: { path: path.join(root, 'image') } },
        storage: 'default',
        data_collection: 'pairs',
      });
      expect(err).toContain('assets.label: required file specification "label" has no asset path');
    });

    it('a path that escapes the root: an asset, the Excel path, a symlink, a hook', async () => {
      const outside = tempDir('up-outside');
      writeTree(outside, { 'secret.jpg': 'secret', 'meta.xlsx': 'x' });
      const root = tempDir('up-escape');
      writeTree(root, { 'image/a.jpg': 'a', 'photos/b.jpg': 'b' });
      const rel = path.relative(root, outside);
      expect(
        await failsWith({
          name: 'esc1',
          use_single_path: false,
          path: root,
          assets: { image: { path: `${rel}` } },
          storage: 'default',
          data_collection: 'photos',
        }),
      ).toContain(`assets.image.path: "${rel}" escapes the upload root`);
      expect(
        await failsWith({
          name: 'esc2',
          path: root,
          excel_metadata_path: `../${path.basename(outside)}/meta.xlsx`,
          storage: 'default',
          data_collection: 'photos',
        }),
      ).toContain('excel_metadata_path: "../');
      // A symlink inside a specification folder that points outside it.
      symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'image', 'link.jpg'));
      expect(await failsWith({ name: 'esc3', path: root, storage: 'default', data_collection: 'photos' })).toContain(
        `${path.join(root, 'image', 'link.jpg')} is a symlink to`,
      );
      // A specification folder that is itself a link out of the root.
      const root2 = tempDir('up-escape2');
      symlinkSync(outside, path.join(root2, 'image'));
      expect(await failsWith({ name: 'esc4', path: root2, storage: 'default', data_collection: 'photos' })).toContain('outside the upload root');
      // A plugin hook cannot point a file elsewhere either.
      const root3 = tempDir('up-escape3');
      writeTree(root3, { 'image/a.jpg': 'a' });
      expect(
        await failsWith(
          { name: 'esc5', path: root3, storage: 'default', data_collection: 'photos', extra_params: { redirect_to: path.join(outside, 'secret.jpg') } },
          UPLOAD_FIXTURE,
        ),
      ).toContain(`${path.join(outside, 'secret.jpg')} is outside the folder of "image"`);
    });

    it('Excel files over each limit of excel_config', async () => {
      const cases: [string, unknown[][], string][] = [
        [
          'rows',
          [['filename', 'a'], ...Array.from({ length: 6 }, (_, i) => [`f${i}`, i])],
          'has more than 5 data rows (excel_config max_rows); row 7 is over the limit',
        ],
        ['columns', [['filename', 'a', 'b', 'c', 'd']], 'row 1 has a value in column E (5), over the limit of 4 columns (excel_config max_columns)'],
        [
          'cell',
          [
            ['filename', 'a'],
            ['f', 'x'.repeat(21)],
          ],
          'cell B2 has 21 characters, over the limit of 20 (excel_config max_cell_length)',
        ],
        [
          'filename',
          [
            ['filename', 'a'],
            ['abcdefghijklm', 'x'],
          ],
          'the file name in cell A2 has 13 characters, over the limit of 12 (excel_config max_filename_length)',
        ],
        [
          'header',
          [
            ['name', 'a'],
            ['f', 'x'],
          ],
          'the first column\'s header (cell A1) must be "filename" or "file_name", found "name"',
        ],
      ];
      for (const [what, rows, message] of cases) {
        const root = tempDir(`up-xl-${what}`);
        writeTree(root, { 'image/f.jpg': 'f' });
        writeXlsx(path.join(root, 'meta.xlsx'), rows);
        expect(await failsWith({ name: `xl-${what}`, path: root, storage: 'default', data_collection: 'photos' }, UPLOAD_FIXTURE), what).toContain(message);
      }
      // Over the size limit (0.05 MB): a valid workbook carrying incompressible bytes.
      const root = tempDir('up-xl-size');
      writeTree(root, { 'image/f.jpg': 'f' });
      const file = path.join(root, 'big.xlsx');
      writeXlsx(file, [['filename'], ['f']]);
      python(`import zipfile, os, sys\nwith zipfile.ZipFile(sys.argv[1], 'a') as z: z.writestr('xl/media/noise.bin', os.urandom(80000))`, [file]);
      expect(
        await failsWith({ name: 'xl-size', path: root, excel_metadata_path: 'big.xlsx', storage: 'default', data_collection: 'photos' }, UPLOAD_FIXTURE),
      ).toMatch(/big\.xlsx:\n\s+- excel_metadata_path: is 0\.\d MB, over the limit of 0\.05 MB \(excel_config max_file_size_mb\)/);
    });

    it('a crafted xlsx that expands to a huge size, and an .xls file', async () => {
      const root = tempDir('up-bomb');
      writeTree(root, { 'image/f.jpg': 'f' });
      const bomb = path.join(root, 'meta.xlsx');
      writeXlsx(bomb, [
        ['filename', 'a'],
        ['f', '1'],
      ]);
      // 600 MB of zeros in one part: well under 1 MB compressed.
      python(
        `import zipfile, sys\nwith zipfile.ZipFile(sys.argv[1], 'a', compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n  with z.open('xl/worksheets/sheet2.xml', 'w', force_zip64=False) as f:\n    block = bytes(1 << 20)\n    for _ in range(600): f.write(block)`,
        [bomb],
      );
      const error = await failsWith({ name: 'bomb', path: root, storage: 'default', data_collection: 'photos' });
      expect(error).toContain('expands too much: part "xl/worksheets/sheet2.xml"');
      expect(error).toContain('a zip bomb?');

      writeTree(root, { 'old.xls': Buffer.from('d0cf11e0a1b11ae1000000', 'hex') });
      expect(await failsWith({ name: 'xls', path: root, excel_metadata_path: 'old.xls', storage: 'default', data_collection: 'photos' })).toContain(
        'is an Excel 97-2003 (.xls) file, which is not supported: open it in Excel or LibreOffice and save it as .xlsx',
      );
    });

    it('a second upload under a name already used in the collection', async () => {
      const root = tempDir('up-again');
      writeTree(root, { 'image/a.jpg': 'again a' });
      const ok = await finish(
        runs,
        (await runs.start({ plugin: 'upload-files', action: 'upload', params: { name: 'again', path: root, storage: 'default', data_collection: 'photos' } }))
          .runId,
      );
      expect(ok.status, ok.error).toBe('completed');
      writeTree(root, { 'image/a.jpg': 'changed a' });
      expect(await failsWith({ name: 'again', path: root, storage: 'default', data_collection: 'photos' })).toContain(
        'data units "again/a" exist already: use another upload name',
      );
    });
  });
});

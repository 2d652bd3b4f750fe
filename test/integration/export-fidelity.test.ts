/**
 * Exports read exactly by the tools people use (issue 12), on the inputs real datasets have
 * (test/export-fidelity-data.ts): datumaro imports each built-in export with its format's
 * importer and must see the platform's items, labels and boxes under the one border policy;
 * pycocotools loads COCO, masks every box and scores the ground truth against itself at AP 1.0;
 * a reader that follows Ultralytics' rules finds every YOLO image's label from another folder.
 * Each case below failed before the fix it names (same file name in two folders, several
 * assignments of a task, a 255-byte file name, layouts the importers did not detect, boxes at
 * the border, an image size only in the file header, VOC's pixel convention, data.yaml's path,
 * COCO segmentation).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import { imageHeaderSize } from '../../engine/image-header.js';
import { connectRuns, ROOT, startWorker, testSettings } from '../helpers.js';
import { clip, createEdgeData, EDGE_UNITS, LONG_NAME, SECOND_ASSIGNMENT, type EdgeBox, type EdgeData } from '../export-fidelity-data.js';

const TOOLS_PYTHON = process.env.SYNAPSE_TOOLS_PYTHON ?? path.join(ROOT, '.cache', 'python-tools', 'bin', 'python');
const READER = path.join(ROOT, 'test', 'fidelity', 'read_export.py');

/** Runs the reader with the tools venv's Python (datumaro, pycocotools) from `cwd`. */
function tool(args: string[], cwd = os.tmpdir()): unknown {
  return JSON.parse(execFileSync(TOOLS_PYTHON, [READER, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }));
}

type Box = [string, number, number, number, number];
const round = (n: number) => Math.round(n * 100) / 100;

/** Each unit's boxes under the border policy as [class, x, y, w, h], sorted; one list per item, sorted. */
function expectedBoxes(
  units: { width: number; height: number; boxes: EdgeBox[] }[],
  map: (b: NonNullable<ReturnType<typeof clip>>) => Box = (b) => [b.class_name, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0],
): string[] {
  return units
    .map((u) =>
      JSON.stringify(
        u.boxes
          .map((b) => clip(b, u.width, u.height))
          .filter((b) => b !== undefined)
          .map(map)
          .sort(),
      ),
    )
    .sort();
}

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out;
}

describe('export fidelity with the real tools', () => {
  const settings = testSettings('export-fidelity');
  const root = path.join(settings.dataDir, 'storage', 'default');
  let runs: RunsClient;
  let worker: { stop(): Promise<void> };
  let data: EdgeData;

  const run = async (plugin: string, name: string, extra: Record<string, unknown> = {}): Promise<RunState> => {
    const params = {
      name,
      storage: 'default',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: data.versionId },
      save_original_file: true,
      ...extra,
    };
    const { runId } = await runs.start({ plugin, action: 'export', params });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, JSON.stringify(final.error ?? null)).toBe('completed');
    return final;
  };

  beforeAll(async () => {
    data = await createEdgeData(settings);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
  });

  it('COCO: datumaro detects instances_default.json + images/default/; pycocotools masks every box and scores AP 1.0; two same-named files stay apart', async () => {
    const final = await run('export-coco', 'coco');
    expect(final.result).toMatchObject({ total: EDGE_UNITS.length, success: EDGE_UNITS.length, failed: 0 });
    const dir = path.join(root, 'coco');
    const tree = files(dir);
    expect(tree).toContain('annotations/instances_default.json');

    const got = tool(['coco', path.join(dir, 'annotations', 'instances_default.json')]) as {
      images: { id: number; file_name: string; size: [number, number]; boxes: (string | number)[][] }[];
      masks: number;
      ap: number;
    };
    // One image per item, ids unique, each file name its own copy in images/default/ whose
    // header has the size the JSON gives (a's box is paired with a's picture, not b's).
    expect(got.images).toHaveLength(EDGE_UNITS.length);
    expect(new Set(got.images.map((i) => i.id)).size).toBe(EDGE_UNITS.length);
    expect(new Set(got.images.map((i) => i.file_name)).size).toBe(EDGE_UNITS.length);
    for (const image of got.images) {
      const copy = path.join(dir, 'images', 'default', image.file_name);
      expect(existsSync(copy), image.file_name).toBe(true);
      const header = imageHeaderSize(readFileSync(copy))!;
      expect([header.width, header.height]).toEqual(image.size);
    }
    // Sizes from the platform or, for border.png, from the PNG header (never null).
    expect(got.images.map((i) => i.size).sort()).toEqual(EDGE_UNITS.map((u) => [u.width, u.height]).sort());
    // Boxes clipped, the one outside dropped, area of the clipped box.
    const want = expectedBoxes(EDGE_UNITS, (b) => [b.class_name, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0, (b.x1 - b.x0) * (b.y1 - b.y0)] as unknown as Box);
    expect(got.images.map((i) => JSON.stringify(i.boxes.map((b) => b.map((v) => (typeof v === 'number' ? round(v) : v))))).sort()).toEqual(
      want.map((w) => JSON.stringify((JSON.parse(w) as (string | number)[][]).map((b) => b.map((v) => (typeof v === 'number' ? round(v) : v))))).sort(),
    );
    const boxCount = want.reduce((n, w) => n + (JSON.parse(w) as unknown[]).length, 0);
    expect(got.masks).toBe(boxCount);
    expect(got.ap).toBeCloseTo(1.0, 6);

    const dm = tool(['datumaro', 'coco', dir]) as { labels: string[]; items: { id: string; subset: string; boxes: Box[] }[] };
    expect(dm.labels).toEqual(['person', 'car']);
    expect(dm.items).toHaveLength(EDGE_UNITS.length);
    expect(new Set(dm.items.map((i) => i.subset))).toEqual(new Set(['default']));
    expect(dm.items.map((i) => JSON.stringify(i.boxes.map((b) => b.map((v) => (typeof v === 'number' ? round(v) : v))))).sort()).toEqual(
      expectedBoxes(EDGE_UNITS, (b) => [b.class_name, round(b.x0), round(b.y0), round(b.x1 - b.x0), round(b.y1 - b.y0)]),
    );
  });

  it('COCO of assignments: two annotators of one task are two images, each with its own boxes', async () => {
    const final = await run('export-coco', 'coco-assign', { target: 'assignment', filter: { project: data.projectId } });
    expect(final.result).toMatchObject({ total: EDGE_UNITS.length + 1, success: EDGE_UNITS.length + 1 });
    const got = tool(['coco', path.join(root, 'coco-assign', 'annotations', 'instances_default.json')]) as {
      images: { file_name: string; boxes: unknown[] }[];
      ap: number;
    };
    expect(got.images).toHaveLength(EDGE_UNITS.length + 1);
    const cam1 = got.images.filter((i) => i.file_name.startsWith('000001_') && existsSync(path.join(root, 'coco-assign', 'images', 'default', i.file_name)));
    expect(cam1.length).toBe(3); // cam1 twice (alice, bob) and cam2 once
    expect(cam1.map((i) => i.boxes.length).sort()).toEqual([1, 1, SECOND_ASSIGNMENT.length].sort());
    expect(got.ap).toBeCloseTo(1.0, 6);
  });

  it("YOLO: data.yaml works from another folder by Ultralytics' rules, every image has its label, datumaro reads the boxes", async () => {
    const final = await run('export-yolo', 'yolo');
    expect(final.result).toMatchObject({ success: EDGE_UNITS.length, failed: 0 });
    const dir = path.join(root, 'yolo');
    const yaml = readFileSync(path.join(dir, 'data.yaml'), 'utf8');
    expect(yaml).not.toMatch(/^path:/m);
    // From a folder that is not the export's: the yaml's own folder locates the dataset.
    const ul = tool(['ultralytics', path.relative(settings.dataDir, path.join(dir, 'data.yaml'))], settings.dataDir) as {
      names: Record<string, string>;
      splits: Record<string, Record<string, number[][] | null> | { missing: string }>;
    };
    expect(ul.names).toEqual({ 0: 'person', 1: 'car' });
    const train = ul.splits.train as Record<string, number[][] | null>;
    expect(Object.keys(train)).toHaveLength(EDGE_UNITS.length);
    // No image without its label file (the 255-byte name used to leave one: a background image).
    for (const [image, labels] of Object.entries(train)) expect(labels, image).not.toBeNull();
    const long = Object.keys(train).find((f) => f.startsWith('xxxxxxxx'))!;
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    // Two files named 000001.png: two images, two label files.
    expect(Object.keys(train).filter((f) => f.startsWith('000001_'))).toHaveLength(2);

    const dm = tool(['datumaro', 'yolo', dir]) as { labels: string[]; items: { boxes: Box[] }[] };
    expect(dm.labels).toEqual(['person', 'car']);
    expect(dm.items).toHaveLength(EDGE_UNITS.length);
    const r1 = (n: number) => Math.round(n * 10) / 10;
    expect(dm.items.map((i) => JSON.stringify(i.boxes.map(([c, ...v]) => [c, ...v.map(r1)]))).sort()).toEqual(
      expectedBoxes(EDGE_UNITS, (b) => [b.class_name, r1(b.x0), r1(b.y0), r1(b.x1 - b.x0), r1(b.y1 - b.y0)]),
    );
  });

  it('VOC: datumaro reads the classes (dataset_meta.json), integer 1-based boxes by the devkit rule, every XML well-formed', async () => {
    const final = await run('export-voc', 'voc');
    expect(final.result).toMatchObject({ success: EDGE_UNITS.length, failed: 0 });
    const dir = path.join(root, 'voc');
    const tree = files(dir);
    expect(tree).toEqual(expect.arrayContaining(['labelmap.txt', 'dataset_meta.json', 'ImageSets/Main/default.txt']));
    const xmls = tree.filter((f) => f.startsWith('Annotations/'));
    expect(xmls).toHaveLength(EDGE_UNITS.length);
    const xml = readFileSync(
      path.join(
        dir,
        xmls.find((f) => f.includes('frac'))!,
      ),
      'utf8',
    );
    // frac.png's box: x 10.4..40.6, y 20.6..31.1 -> xmin 11, xmax 41, ymin 22, ymax 31.
    expect(xml).toContain('<xmin>11</xmin>');
    expect(xml).toContain('<ymin>22</ymin>');
    expect(xml).toContain('<xmax>41</xmax>');
    expect(xml).toContain('<ymax>31</ymax>');
    expect(Object.values(tool(['xml', ...xmls.map((f) => path.join(dir, f))]) as Record<string, string>)).toEqual(xmls.map(() => 'ok'));

    const dm = tool(['datumaro', 'voc', dir]) as { labels: string[]; items: { boxes: Box[] }[] };
    expect(dm.labels).toContain('person');
    expect(dm.labels).toContain('car');
    expect(dm.labels).not.toContain('aeroplane');
    expect(dm.items).toHaveLength(EDGE_UNITS.length);
    // datumaro reads the numbers as written: x = xmin, w = xmax - xmin.
    const devkit = (b: NonNullable<ReturnType<typeof clip>>): Box => {
      const xmin = Math.round(b.x0) + 1;
      const ymin = Math.round(b.y0) + 1;
      const xmax = Math.max(xmin, Math.round(b.x1));
      const ymax = Math.max(ymin, Math.round(b.y1));
      return [b.class_name, xmin, ymin, xmax - xmin, ymax - ymin];
    };
    expect(dm.items.map((i) => JSON.stringify(i.boxes)).sort()).toEqual(expectedBoxes(EDGE_UNITS, devkit));
  });

  it('VOC of tasks (no boxes): datumaro takes the project classes from labelmap.txt, not the 20 VOC classes', async () => {
    const final = await run('export-voc', 'voc-tasks', { target: 'task', filter: { project: data.projectId }, save_original_file: false });
    expect(final.result).toMatchObject({ success: EDGE_UNITS.length, failed: 0 });
    const dir = path.join(root, 'voc-tasks');
    expect(readFileSync(path.join(dir, 'labelmap.txt'), 'utf8')).toBe('# label:color_rgb:parts:actions\nperson:::\ncar:::\n');
    // datumaro reads dataset_meta.json first: a copy without it checks labelmap.txt alone.
    const copy = mkdtempSync(path.join(os.tmpdir(), 'voc-labelmap-'));
    cpSync(dir, copy, { recursive: true });
    rmSync(path.join(copy, 'dataset_meta.json'));
    for (const at of [dir, copy]) {
      const dm = tool(['datumaro', 'voc', at]) as { labels: string[]; items: unknown[] };
      expect(
        dm.labels.filter((l) => l !== 'background'),
        at,
      ).toEqual(['person', 'car']);
      expect(dm.items).toHaveLength(EDGE_UNITS.length);
    }
  });

  it('subsets from the units\' splits (extra_params.subsets "split"): datumaro sees train/val/test in COCO, YOLO and VOC; data.yaml names each', async () => {
    const want: Record<string, number> = {};
    for (const u of EDGE_UNITS) want[u.split] = (want[u.split] ?? 0) + 1;
    const counts = (items: { subset: string }[]) => {
      const got: Record<string, number> = {};
      for (const i of items) got[i.subset] = (got[i.subset] ?? 0) + 1;
      return got;
    };
    for (const [plugin, format] of [
      ['export-coco', 'coco'],
      ['export-yolo', 'yolo'],
      ['export-voc', 'voc'],
    ] as const) {
      await run(plugin, `split-${format}`, { extra_params: { subsets: 'split' } });
      const dm = tool(['datumaro', format, path.join(root, `split-${format}`)]) as { items: { subset: string }[] };
      expect(counts(dm.items), format).toEqual(want);
    }
    expect(files(path.join(root, 'split-coco', 'annotations'))).toEqual(['instances_test.json', 'instances_train.json', 'instances_val.json']);
    expect(files(path.join(root, 'split-voc', 'ImageSets', 'Main'))).toEqual(['test.txt', 'train.txt', 'val.txt']);
    const yaml = readFileSync(path.join(root, 'split-yolo', 'data.yaml'), 'utf8');
    expect(yaml).toContain('train: "images/train"');
    expect(yaml).toContain('val: "images/val"');
    expect(yaml).toContain('test: "images/test"');
    const ul = tool(['ultralytics', path.join(root, 'split-yolo', 'data.yaml')]) as { splits: Record<string, Record<string, unknown>> };
    expect(Object.keys(ul.splits.train!)).toHaveLength(want.train!);
    expect(Object.keys(ul.splits.val!)).toHaveLength(want.val!);
  });

  it('JSON: one file per item, the 255-byte name shortened with a hash, not failed', async () => {
    const final = await run('export-json', 'json');
    expect(final.result).toMatchObject({ success: EDGE_UNITS.length, failed: 0 });
    const tree = files(path.join(root, 'json'));
    const json = tree.filter((f) => f.startsWith('json/'));
    expect(json).toHaveLength(EDGE_UNITS.length);
    expect(tree.filter((f) => f.startsWith('origin_files/'))).toHaveLength(EDGE_UNITS.length);
    const long = json.find((f) => f.startsWith('json/xxxx'))!;
    expect(long).toMatch(/^json\/x+~[0-9a-f]{8}_\d+\.json$/);
    expect(Buffer.byteLength(path.basename(long))).toBeLessThanOrEqual(255);
    expect(LONG_NAME.length).toBe(255);
    expect(readFileSync(path.join(root, 'json', 'error_file_list.json'), 'utf8')).toBe('[]');
  });
});

/**
 * The detection export formats against their readers: YOLO labels normalised from a known
 * platform row and data.yaml's classes; Pascal VOC XML parsed by Python's xml.etree with the
 * right boxes; and COCO instances loaded by the real pycocotools (installed by scripts/setup.sh).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { RunsClient } from '../../client/runs.js';
import type { Settings } from '../../client/settings.js';
import { openDatabase } from '../../platform/db.js';
import { CLASSES, generateSampleData, IMAGE_SIZE, type GenerateResult } from '../../platform/generate.js';
import { listGroundTruthEvents } from '../../platform/repositories/ground-truth.js';
import type { AnnotationDocument } from '../../sdk/annotations.js';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, startWorker, testSettings } from '../helpers.js';
import { VocExporter } from '../../plugins/export-voc/plugin/export.js';
import { YoloExporter } from '../../plugins/export-yolo/plugin/export.js';

const COUNT = 12;

interface Row {
  stem: string;
  imageKey: string;
  doc: AnnotationDocument;
}

function storageRoot(settings: Settings): string {
  return path.join(settings.dataDir, 'storage', 'default');
}

/** Every file under `<storage root>/<exportPath>`, by relative path. */
function listTree(settings: Settings, exportPath: string): string[] {
  const root = path.join(storageRoot(settings), exportPath);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  walk(root);
  return files;
}

/** Runs a Python snippet with `argv[1]`, expecting JSON on stdout. */
function python(script: string, arg: string): unknown {
  return JSON.parse(execFileSync('python3', ['-c', script, arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('detection export formats', () => {
  const settings = testSettings('export-formats');
  let runs: RunsClient;
  let worker: { stop(): Promise<void> };
  let data: GenerateResult;
  let rows: Row[];

  const run = async (plugin: string, name: string, extra: Record<string, unknown> = {}): Promise<RunState> => {
    const params = { name, storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: data.groundTruth.versionId }, ...extra };
    const { runId } = await runs.start({ plugin, action: 'export', params });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status, JSON.stringify(final.error ?? null)).toBe('completed');
    expect(final.result).toMatchObject({ export_path: name, total: COUNT, success: COUNT, failed: 0 });
    return final;
  };
  const read = (exportPath: string, key: string) => readFileSync(path.join(storageRoot(settings), exportPath, key), 'utf8');

  beforeAll(async () => {
    const platform = await openDatabase({ dataDir: settings.dataDir });
    try {
      data = await generateSampleData(platform, { count: COUNT, seed: 7, projectName: 'fmt', dataDir: settings.dataDir });
      rows = (await listGroundTruthEvents(platform.db, { versionId: data.groundTruth.versionId })).map((r) => {
        const imageKey = (r.dataUnit.files as Record<string, { key: string }>).image!.key;
        // Output stems are `<file stem>_<item id>` (docs/export.md): unique per item.
        return { stem: `${path.basename(imageKey, '.png')}_${r.id}`, imageKey, doc: r.annotations as AnnotationDocument };
      });
    } finally {
      await platform.close();
    }
    expect(rows).toHaveLength(COUNT);
    runs = await connectRuns(settings);
    worker = await startWorker(settings);
  });
  afterAll(async () => {
    await worker?.stop();
    await runs?.close();
  });

  it('YOLO: normalised labels per image, data.yaml with the project classes, images copied', async () => {
    const final = await run('export-yolo', 'yolo', { save_original_file: true });
    const files = listTree(settings, 'yolo');
    expect(files.filter((f) => f.startsWith('labels/'))).toEqual(rows.map((r) => `labels/default/${r.stem}.txt`));
    expect(files.filter((f) => f.startsWith('images/'))).toEqual(rows.map((r) => `images/default/${r.stem}.png`));
    expect(files).toContain('data.yaml');

    for (const row of rows) {
      const box = row.doc.annotations[0]!;
      if (box.type !== 'bbox') throw new Error('the generator makes boxes');
      const { width: W, height: H } = row.doc.size!;
      const lines = read('yolo', `labels/default/${row.stem}.txt`).trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      const [cls, ...values] = lines[0]!.split(' ');
      expect(Number(cls)).toBe(CLASSES.indexOf(box.class_name as (typeof CLASSES)[number]));
      const want = [(box.x + box.width / 2) / W, (box.y + box.height / 2) / H, box.width / W, box.height / H];
      values.forEach((v, i) => expect(Number(v)).toBeCloseTo(want[i]!, 5));
      for (const v of values) {
        expect(Number(v)).toBeGreaterThanOrEqual(0);
        expect(Number(v)).toBeLessThanOrEqual(1);
      }
    }

    const yaml = parseYaml(read('yolo', 'data.yaml')) as Record<string, unknown>;
    expect(yaml).toEqual({ train: 'images/default', val: 'images/default', nc: 3, names: { 0: 'circle', 1: 'square', 2: 'triangle' } });
    // The image copy is the original file's bytes.
    expect(
      readFileSync(path.join(storageRoot(settings), 'yolo', 'images', 'default', `${rows[0]!.stem}.png`)).equals(
        readFileSync(path.join(storageRoot(settings), rows[0]!.imageKey)),
      ),
    ).toBe(true);
    const manifest = JSON.parse(read('yolo', 'manifest.json')) as { files: Record<string, string> };
    expect(manifest.files).toMatchObject({ labels: 'labels/default/', data_yaml: 'data.yaml', origin_files: 'images/default/' });
    expect(final.result).toMatchObject({ skipped: 0 });

    // Python reads the labels the way a YOLO loader does: five floats, values in 0..1.
    const checked = python(
      `import sys, os, json
root = sys.argv[1]
text = open(os.path.join(root, 'data.yaml')).read()
out = {'nc': [l for l in text.splitlines() if l.startswith('nc:')][0].split(':')[1].strip(), 'labels': 0}
for f in sorted(os.listdir(os.path.join(root, 'labels', 'default'))):
    for line in open(os.path.join(root, 'labels', 'default', f)):
        c, *v = line.split()
        v = [float(x) for x in v]
        assert len(v) == 4 and all(0 <= x <= 1 for x in v) and int(c) in range(3), line
        out['labels'] += 1
print(json.dumps(out))`,
      path.join(storageRoot(settings), 'yolo'),
    );
    expect(checked).toEqual({ nc: '3', labels: COUNT });
  });

  it('VOC: one XML per image that xml.etree parses, with the right boxes, and the image set', async () => {
    await run('export-voc', 'voc');
    const files = listTree(settings, 'voc');
    expect(files.filter((f) => f.startsWith('Annotations/'))).toEqual(rows.map((r) => `Annotations/${r.stem}.xml`));
    expect(read('voc', 'ImageSets/Main/default.txt')).toBe(rows.map((r) => `${r.stem}\n`).join(''));

    const parsed = python(
      `import sys, os, json
import xml.etree.ElementTree as ET
root = os.path.join(sys.argv[1], 'Annotations')
out = {}
for f in sorted(os.listdir(root)):
    a = ET.parse(os.path.join(root, f)).getroot()
    assert a.tag == 'annotation'
    size = a.find('size')
    out[f] = {
        'folder': a.findtext('folder'), 'filename': a.findtext('filename'),
        'size': [int(size.findtext(k)) for k in ('width', 'height', 'depth')],
        'objects': [{
            'name': o.findtext('name'), 'pose': o.findtext('pose'),
            'truncated': int(o.findtext('truncated')), 'difficult': int(o.findtext('difficult')),
            'bndbox': [float(o.find('bndbox').findtext(k)) for k in ('xmin', 'ymin', 'xmax', 'ymax')],
        } for o in a.findall('object')],
    }
print(json.dumps(out))`,
      path.join(storageRoot(settings), 'voc'),
    ) as Record<
      string,
      { folder: string; filename: string; size: number[]; objects: { name: string; pose: string; truncated: number; difficult: number; bndbox: number[] }[] }
    >;
    expect(Object.keys(parsed)).toHaveLength(COUNT);
    for (const row of rows) {
      const box = row.doc.annotations[0]!;
      if (box.type !== 'bbox') throw new Error('the generator makes boxes');
      const xml = parsed[`${row.stem}.xml`]!;
      expect(xml.folder).toBe('voc');
      expect(xml.filename).toBe(`${row.stem}.png`);
      expect(xml.size).toEqual([IMAGE_SIZE, IMAGE_SIZE, 3]);
      expect(xml.objects).toHaveLength(1);
      const cut = box.x <= 0 || box.y <= 0 || box.x + box.width >= IMAGE_SIZE || box.y + box.height >= IMAGE_SIZE;
      expect(xml.objects[0]).toEqual({
        name: box.class_name,
        pose: 'Unspecified',
        truncated: cut ? 1 : 0,
        difficult: 0,
        // The VOC devkit's convention: 1-based, inclusive corners.
        bndbox: [box.x + 1, box.y + 1, box.x + box.width, box.y + box.height],
      });
    }
  });

  it('COCO: instances_default.json loads in pycocotools with the right counts and boxes', async () => {
    await run('export-coco', 'coco');
    const row = rows[0]!;
    const box = row.doc.annotations[0]!;
    if (box.type !== 'bbox') throw new Error('the generator makes boxes');
    const got = python(
      `import sys, json, io, contextlib
with contextlib.redirect_stdout(io.StringIO()):
    from pycocotools.coco import COCO
    c = COCO(sys.argv[1])
img = sorted(c.getImgIds())[0]
anns = c.loadAnns(c.getAnnIds(imgIds=[img]))
print(json.dumps({
    'images': len(c.getImgIds()), 'annotations': len(c.getAnnIds()), 'categories': len(c.getCatIds()),
    'names': [c.loadCats(i)[0]['name'] for i in sorted(c.getCatIds())],
    'first': {'file_name': c.loadImgs(img)[0]['file_name'], 'bbox': anns[0]['bbox'], 'category': c.loadCats(anns[0]['category_id'])[0]['name']},
    'circles': len(c.getAnnIds(catIds=c.getCatIds(catNms=['circle']))),
}))`,
      path.join(storageRoot(settings), 'coco', 'annotations', 'instances_default.json'),
    );
    expect(got).toEqual({
      images: COUNT,
      annotations: COUNT,
      categories: 3,
      names: [...CLASSES],
      first: { file_name: `${row.stem}.png`, bbox: [box.x, box.y, box.width, box.height], category: box.class_name },
      circles: rows.filter((r) => r.doc.annotations[0]!.class_name === 'circle').length,
    });
  });
});

describe('detection exporters on odd input', () => {
  const item = (annotations: unknown[]) => ({
    id: 9,
    target: 'ground_truth' as const,
    data: { version: 1, data_type: 'image', size: { width: 100, height: 50 }, annotations },
    files: { image: { storage: 1, key: 'x/a&b.png' } },
    dataUnit: { id: 9, uniqueKey: 'u9', meta: {} },
    extra: {},
  });

  it('VOC escapes names and attributes so xml.etree reads them back', () => {
    const voc = new VocExporter();
    voc.params = { name: 'v<1>', storage: 1, save_original_file: false, path: '', target: 'ground_truth', filter: {}, extra_params: { subsets: 'default' } };
    const xml = voc.toXml(
      voc.convertData(
        item([{ id: 'a', type: 'bbox', class_name: 'cat & "dog" <x>', x: 0, y: 5, width: 10, height: 5, attributes: { pose: "Left'", difficult: true } }]),
      ),
    );
    const got = python(
      `import sys, json
import xml.etree.ElementTree as ET
a = ET.fromstring(sys.argv[1])
o = a.find('object')
print(json.dumps([a.findtext('folder'), a.findtext('filename'), o.findtext('name'), o.findtext('pose'), o.findtext('truncated'), o.findtext('difficult')]))`,
      xml,
    );
    expect(got).toEqual(['v<1>', 'a&b_9.png', 'cat & "dog" <x>', "Left'", '1', '1']);
  });

  it('YOLO clips boxes to the image and drops those outside it', () => {
    const yolo = new YoloExporter();
    yolo.params = { name: 'y', storage: 1, save_original_file: false, path: '', target: 'ground_truth', filter: {}, extra_params: { subsets: 'default' } };
    const out = yolo.convertData(
      item([
        { id: 'a', type: 'bbox', class_name: 'c', x: -10, y: 25, width: 30, height: 50 },
        { id: 'b', type: 'bbox', class_name: 'c', x: 200, y: 0, width: 10, height: 10 },
        { id: 'c', type: 'classification', class_name: 'k' },
      ]),
    );
    expect(out.stem).toBe('a&b_9');
    expect(out.boxes).toHaveLength(1);
    const b = out.boxes[0]!;
    expect([b.cx, b.cy, b.w, b.h].map((v) => Number(v.toFixed(6)))).toEqual([0.1, 0.75, 0.2, 0.5]);
    expect(() => yolo.convertData({ ...item([]), data: { annotations: [] } })).toThrow(/image size is unknown/);
  });
});

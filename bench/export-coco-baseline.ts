/**
 * The baseline of bench/export-coco.ts: a plain single-process COCO export, no Temporal. It
 * reads the ground-truth events of one version page by page (id cursor, through the platform
 * repositories: `listGroundTruthEvents`) and streams the same `annotations/instances_default.json`
 * the export-coco plugin writes (same keys, same order, same numbering: image ids and annotation
 * ids count up in item order, category ids follow the project's classes; file names
 * `<stem>_<event id><ext>`; boxes clipped to the image with the clipped area and a rectangle
 * segmentation) to a local folder. Nothing but one page is held in memory: annotations go to a temp file while
 * the images are written, and are appended after them.
 *
 *   node bin/run-ts.mjs bench/export-coco-baseline.ts --data-dir DIR --version ID --name NAME --out DIR [--page-size 1000] [--item-files]
 *
 * As a script it prints one JSON line: counts, seconds and its own maxRSS (MiB).
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../platform/db.js';
import { getGroundTruthDataset, getGroundTruthVersion, listGroundTruthEvents } from '../platform/repositories/ground-truth.js';
import { getProject } from '../platform/repositories/projects.js';
import { fileStem } from '../sdk/exporter.js';
import { fileExtension, itemOutputStem } from '../sdk/export-names.js';

export interface BaselineOptions {
  dataDir: string;
  versionId: number;
  /** The export's name (COCO `info.description`, as the plugin writes it). */
  name: string;
  /** Folder the export goes in: `<out>/annotations/instances_default.json`. */
  outDir: string;
  pageSize?: number;
  /** Also write `json/<stem>.json` per item, as the plugin does (default off). */
  itemFiles?: boolean;
}

export interface BaselineResult {
  images: number;
  annotations: number;
  categories: number;
  seconds: number;
  file: string;
}

interface Doc {
  size?: { width: number; height: number };
  annotations?: { type: string; class_name: string; x?: number; y?: number; width?: number; height?: number }[];
}

/** Writes with backpressure: waits for 'drain' when the stream's buffer is full. */
async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

export async function exportCocoBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const started = performance.now();
  const pageSize = options.pageSize ?? 1000;
  const platform = await openDatabase({ dataDir: options.dataDir });
  try {
    const { db } = platform;
    const version = await getGroundTruthVersion(db, options.versionId);
    const dataset = await getGroundTruthDataset(db, version.datasetId);
    const classes = dataset.projectId === null ? [] : (await getProject(db, dataset.projectId)).configuration.classes;
    const categories = classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: '' }));
    const categoryId = new Map(categories.map((c) => [c.name, c.id]));

    const annotationsDir = path.join(options.outDir, 'annotations');
    mkdirSync(annotationsDir, { recursive: true });
    if (options.itemFiles) mkdirSync(path.join(options.outDir, 'json'), { recursive: true });
    const file = path.join(annotationsDir, 'instances_default.json');
    const tempFile = path.join(annotationsDir, '.annotations.tmp');
    const out = createWriteStream(file);
    const temp = createWriteStream(tempFile);
    await put(out, `{"info":${JSON.stringify({ description: options.name })},"images":[`);

    let images = 0;
    let annotations = 0;
    for (let afterId = 0; ;) {
      const page = await listGroundTruthEvents(db, { versionId: options.versionId, afterId, limit: pageSize });
      for (const event of page) {
        const doc = (event.annotations ?? {}) as Doc;
        const meta = event.dataUnit.meta;
        const files = event.dataUnit.files as Record<string, { key: string }>;
        const first = Object.keys(files).sort()[0];
        const original = first === undefined ? undefined : (files[first]!.key.split('/').pop() ?? files[first]!.key);
        const stem = itemOutputStem(original === undefined ? undefined : fileStem(original), 'ground_truth', event.id);
        const width = doc.size?.width ?? (meta.width as number);
        const height = doc.size?.height ?? (meta.height as number);
        const image = { id: ++images, file_name: first === undefined ? stem : `${stem}${fileExtension(files[first]!.key)}`, width, height };
        await put(out, (images > 1 ? ',' : '') + JSON.stringify(image));
        const boxes: { class_name: string; bbox: [number, number, number, number]; area: number; segmentation: number[][] }[] = [];
        for (const a of doc.annotations ?? []) {
          if (a.type !== 'bbox') continue;
          const x0 = Math.min(width, Math.max(0, a.x ?? 0));
          const y0 = Math.min(height, Math.max(0, a.y ?? 0));
          const x1 = Math.min(width, Math.max(0, (a.x ?? 0) + (a.width ?? 0)));
          const y1 = Math.min(height, Math.max(0, (a.y ?? 0) + (a.height ?? 0)));
          if (x1 <= x0 || y1 <= y0) continue;
          const box = {
            class_name: a.class_name,
            bbox: [x0, y0, x1 - x0, y1 - y0] as [number, number, number, number],
            area: (x1 - x0) * (y1 - y0),
            segmentation: [[x0, y0, x1, y0, x1, y1, x0, y1]],
          };
          boxes.push(box);
          let id = categoryId.get(a.class_name);
          if (id === undefined) {
            id = categories.length + 1;
            categories.push({ id, name: a.class_name, supercategory: '' });
            categoryId.set(a.class_name, id);
          }
          const annotation = {
            id: ++annotations,
            image_id: image.id,
            category_id: id,
            bbox: box.bbox,
            area: box.area,
            segmentation: box.segmentation,
            iscrowd: 0,
          };
          await put(temp, (annotations > 1 ? ',' : '') + JSON.stringify(annotation));
        }
        if (options.itemFiles) {
          await writeFile(
            path.join(options.outDir, 'json', `${stem}.json`),
            JSON.stringify({ image: { file_name: image.file_name, width, height }, boxes }, null, 4),
          );
        }
      }
      if (page.length < pageSize) break;
      afterId = page[page.length - 1]!.id;
    }
    await close(temp);
    await put(out, '],"annotations":[');
    await pipeline(createReadStream(tempFile), out, { end: false });
    await put(out, `],"categories":${JSON.stringify(categories)}}`);
    await close(out);
    rmSync(tempFile, { force: true });
    return { images, annotations, categories: categories.length, seconds: (performance.now() - started) / 1000, file };
  } finally {
    await platform.close();
  }
}

// As a script (bench/export-coco.ts runs it in a child process, so its peak memory is its own).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      version: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      'page-size': { type: 'string', default: '1000' },
      'item-files': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values['data-dir'] || !values.version || !values.name || !values.out) {
    process.stderr.write(
      'usage: node bin/run-ts.mjs bench/export-coco-baseline.ts --data-dir DIR --version ID --name NAME --out DIR [--page-size N] [--item-files]\n',
    );
    process.exit(2);
  }
  const result = await exportCocoBaseline({
    dataDir: values['data-dir'],
    versionId: Number(values.version),
    name: values.name,
    outDir: values.out,
    pageSize: Number(values['page-size']),
    itemFiles: values['item-files'],
  });
  process.stdout.write(`${JSON.stringify({ ...result, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

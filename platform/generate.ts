/**
 * `synapse dataset generate`: deterministic sample data for the demo, the tests and the
 * benchmarks. For `count` items it writes a data unit (a synthetic 64x64 PNG of a shape in
 * the default local storage, when images are on), a task, an assignment with the shape's
 * class and bounding box, and the same annotations as an event of ground-truth version
 * `v1`: one project, data collection and ground-truth dataset named `projectName`.
 *
 * Item i depends only on (seed, i), so the same seed gives the same rows however they are
 * batched. Batches are written one transaction each, through the repositories (so the data
 * is validated like any other); nothing but one batch is held in memory. Running it again
 * with the same arguments changes nothing (every write is idempotent), so an interrupted
 * run can simply be started again.
 */
import type { AnnotationDocument } from '../sdk/annotations.js';
import { InvalidInputError } from '../contracts/errors.js';
import { openStorage } from '../storage/index.js';
import type { StorageProvider } from '../storage/storage.js';
import type { PlatformDb } from './db.js';
import { encodePng } from './png.js';
import {
  addDataUnits,
  addGroundTruthEvents,
  createDataCollection,
  createGroundTruthDataset,
  createGroundTruthVersion,
  createProject,
  createTasks,
  ensureDefaultStorage,
  inTransaction,
  upsertAssignments,
  type NewDataUnit,
  type ProjectConfiguration,
} from './repositories/index.js';

export const MAX_COUNT = 1_000_000;
/** Above this many items images are off unless asked for. */
export const IMAGES_DEFAULT_MAX = 10_000;
export const IMAGE_SIZE = 64;
export const CLASSES = ['circle', 'square', 'triangle'] as const;
export const COLORS = ['red', 'green', 'blue', 'yellow'] as const;
const RGB: Record<(typeof COLORS)[number], [number, number, number]> = {
  red: [220, 40, 40],
  green: [40, 180, 60],
  blue: [40, 80, 220],
  yellow: [230, 200, 30],
};

export const SAMPLE_CONFIGURATION: ProjectConfiguration = {
  data_type: 'image',
  classes: CLASSES.map((name) => ({
    name,
    type: 'bbox' as const,
    attributes: [{ name: 'color', type: 'select' as const, options: [...COLORS], required: true }],
  })),
};

export interface GenerateOptions {
  count: number;
  seed?: number;
  /** Write PNG files; default on up to 10,000 items. */
  images?: boolean;
  projectName?: string;
  dataDir: string;
  /** Items per transaction (default 1000). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface GenerateResult {
  project: { id: number; name: string };
  collectionId: number;
  groundTruth: { datasetId: number; versionId: number };
  count: number;
  images: number;
  /** Rows written: data units, tasks, assignments and ground-truth events. */
  rows: number;
  seconds: number;
}

/** One generated item, a pure function of (seed, index). */
export interface SampleItem {
  index: number;
  uniqueKey: string;
  imageKey: string;
  className: (typeof CLASSES)[number];
  color: (typeof COLORS)[number];
  split: 'train' | 'val' | 'test';
  box: { x: number; y: number; width: number; height: number };
  annotations: AnnotationDocument;
}

/** mulberry32 seeded by (seed, index): independent, reproducible streams per item. */
function random(seed: number, index: number): () => number {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sampleItem(seed: number, index: number, prefix: string): SampleItem {
  const rnd = random(seed, index);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const className = pick(CLASSES);
  const color = pick(COLORS);
  const width = 12 + Math.floor(rnd() * 36);
  const height = className === 'square' ? width : 12 + Math.floor(rnd() * 36);
  const x = Math.floor(rnd() * (IMAGE_SIZE - width));
  const y = Math.floor(rnd() * (IMAGE_SIZE - height));
  const r = rnd();
  const split = r < 0.8 ? 'train' : r < 0.9 ? 'val' : 'test';
  const name = String(index).padStart(7, '0');
  return {
    index,
    uniqueKey: `${prefix}-${name}`,
    imageKey: `${prefix}/images/${name}.png`,
    className,
    color,
    split,
    box: { x, y, width, height },
    annotations: {
      version: 1,
      data_type: 'image',
      size: { width: IMAGE_SIZE, height: IMAGE_SIZE },
      annotations: [{ id: `${name}-0`, type: 'bbox', class_name: className, x, y, width, height, attributes: { color } }],
    },
  };
}

/** The item drawn: its shape filled in its colour on a light grey background. */
export function renderItem(item: SampleItem): Buffer {
  const s = IMAGE_SIZE;
  const rgb = new Uint8Array(s * s * 3).fill(235);
  const [r, g, b] = RGB[item.color];
  const { x, y, width, height } = item.box;
  for (let py = y; py < y + height; py++) {
    for (let px = x; px < x + width; px++) {
      const u = (px - x + 0.5) / width;
      const v = (py - y + 0.5) / height;
      const inside =
        item.className === 'square' ? true : item.className === 'circle' ? (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25 : v >= 1 - 2 * Math.min(u, 1 - u) * 1;
      if (!inside) continue;
      const o = (py * s + px) * 3;
      rgb[o] = r;
      rgb[o + 1] = g;
      rgb[o + 2] = b;
    }
  }
  return encodePng(s, s, rgb);
}

export async function generateSampleData(platform: PlatformDb, options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const { count } = options;
  const seed = options.seed ?? 1;
  const name = options.projectName ?? `sample-${seed}`;
  const problems = [];
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_COUNT)
    problems.push({ path: 'count', message: `must be a whole number from 1 to ${MAX_COUNT.toLocaleString('en-US')}` });
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) problems.push({ path: 'seed', message: 'must be a whole number from 0 to 4294967295' });
  if (problems.length) throw new InvalidInputError('cannot generate sample data', problems);
  const images = options.images ?? count <= IMAGES_DEFAULT_MAX;
  const batch = Math.max(1, Math.min(options.batchSize ?? 1000, 5000));
  const { db } = platform;

  const storage = await ensureDefaultStorage(db);
  const collection = await createDataCollection(db, {
    name,
    description: `generated sample images (seed ${seed})`,
    files: [{ name: 'image', required: true, extensions: ['.png'] }],
  });
  const project = await createProject(db, { name, collection: collection.id, configuration: SAMPLE_CONFIGURATION });
  const dataset = await createGroundTruthDataset(db, { name, project: project.id, description: `ground truth of ${name}` });
  const version = await createGroundTruthVersion(db, dataset.id, 'v1');
  const files: StorageProvider | undefined = images ? openStorage(storage.config, { dataDir: options.dataDir, name: storage.name }) : undefined;

  let written = 0;
  for (let start = 0; start < count; start += batch) {
    const items: SampleItem[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) items.push(sampleItem(seed, i, name));
    if (files) {
      // Files first: a unit never points at a file that is not there. Rewriting is harmless.
      for (let i = 0; i < items.length; i += 32) {
        await Promise.all(items.slice(i, i + 32).map((item) => files.put(item.imageKey, renderItem(item), { contentType: 'image/png' })));
      }
    }
    await inTransaction(db, async (trx) => {
      const units = await addDataUnits(
        trx,
        collection.id,
        items.map((item): NewDataUnit => ({
          uniqueKey: item.uniqueKey,
          meta: { index: item.index, split: item.split, width: IMAGE_SIZE, height: IMAGE_SIZE, seed },
          files: { image: { storage: storage.id, key: item.imageKey } },
        })),
      );
      const tasks = await createTasks(
        trx,
        project.id,
        units.map((u) => u.id),
        'completed',
      );
      await upsertAssignments(
        trx,
        project.id,
        tasks.map((t, i) => ({ taskId: t.id, annotator: 'generator', status: 'completed', annotations: (items[i] as SampleItem).annotations })),
      );
      await addGroundTruthEvents(
        trx,
        version.id,
        units.map((u, i) => ({ dataUnitId: u.id, annotations: (items[i] as SampleItem).annotations })),
      );
    });
    written += items.length;
    options.onProgress?.(written, count);
  }
  return {
    project: { id: project.id, name: project.name },
    collectionId: collection.id,
    groundTruth: { datasetId: dataset.id, versionId: version.id },
    count,
    images: images ? count : 0,
    rows: count * 4,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The hand-made dataset of the export-fidelity tests: the inputs real datasets have that
 * exports used to lose or corrupt (issue 12). Every box is known here, so a test can compute
 * what each format must hold under the one border policy and compare it with what the real
 * tools (datumaro, pycocotools) read back.
 *
 * - `cam1/000001.png` and `cam2/000001.png`: one file name in two folders, one box each.
 * - `border.png`: no size anywhere on the platform (only its PNG header has it), boxes inside,
 *   crossing the left and the bottom-right border, and one wholly outside.
 * - a file name of 255 bytes (`x` * 251 + `.png`), whose `json/<stem>.json` would be 256.
 * - `frac.png`: a box with fractional edges (VOC writes integers by the devkit's rule).
 * - the task of `cam1/000001.png` has two assignments (two annotators, other boxes).
 */
import { openDatabase } from '../platform/db.js';
import { encodePng } from '../platform/png.js';
import { addDataUnits, createDataCollection } from '../platform/repositories/collections.js';
import { addGroundTruthEvents, createGroundTruthDataset, createGroundTruthVersion } from '../platform/repositories/ground-truth.js';
import { createProject, createTasks, upsertAssignments } from '../platform/repositories/projects.js';
import { ensureDefaultStorage } from '../platform/repositories/storages.js';
import { openStorage } from '../storage/index.js';
import type { Settings } from '../client/settings.js';

export const EDGE_CLASSES = ['person', 'car'] as const;

/** A box as the platform stores it: left, top, width, height in pixels. */
export interface EdgeBox {
  class_name: (typeof EDGE_CLASSES)[number];
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EdgeUnit {
  key: string;
  width: number;
  height: number;
  /** Whether the platform records the size (doc `size` and meta); `false`: only the file's header has it. */
  sizeKnown: boolean;
  /** The data unit's `meta.split`. */
  split: 'train' | 'val' | 'test';
  boxes: EdgeBox[];
}

export const LONG_NAME = `${'x'.repeat(251)}.png`;

export const EDGE_UNITS: EdgeUnit[] = [
  { key: 'cam1/000001.png', width: 100, height: 80, sizeKnown: true, split: 'train', boxes: [{ class_name: 'person', x: 10, y: 20, width: 30, height: 40 }] },
  { key: 'cam2/000001.png', width: 110, height: 80, sizeKnown: true, split: 'val', boxes: [{ class_name: 'car', x: 50, y: 10, width: 20, height: 20 }] },
  {
    key: 'border.png',
    width: 120,
    height: 90,
    sizeKnown: false,
    split: 'train',
    boxes: [
      { class_name: 'person', x: 30, y: 30, width: 20, height: 20 },
      { class_name: 'car', x: -10, y: 5, width: 30, height: 20 },
      { class_name: 'car', x: 100, y: 70, width: 40, height: 40 },
      { class_name: 'person', x: 150, y: 10, width: 10, height: 10 },
    ],
  },
  { key: LONG_NAME, width: 64, height: 48, sizeKnown: true, split: 'test', boxes: [{ class_name: 'car', x: 4, y: 4, width: 20, height: 10 }] },
  { key: 'frac.png', width: 100, height: 100, sizeKnown: true, split: 'val', boxes: [{ class_name: 'person', x: 10.4, y: 20.6, width: 30.2, height: 10.5 }] },
];

/** The second annotator's boxes on the first unit's task. */
export const SECOND_ASSIGNMENT: EdgeBox[] = [
  { class_name: 'car', x: 60, y: 40, width: 20, height: 10 },
  { class_name: 'person', x: 5, y: 5, width: 10, height: 10 },
];

/** A box under the border policy: clipped to the image, undefined when nothing is inside. */
export function clip(b: EdgeBox, w: number, h: number): { class_name: string; x0: number; y0: number; x1: number; y1: number } | undefined {
  const x0 = Math.max(0, Math.min(w, b.x));
  const y0 = Math.max(0, Math.min(h, b.y));
  const x1 = Math.max(0, Math.min(w, b.x + b.width));
  const y1 = Math.max(0, Math.min(h, b.y + b.height));
  return x1 > x0 && y1 > y0 ? { class_name: b.class_name, x0, y0, x1, y1 } : undefined;
}

function doc(unit: EdgeUnit, boxes: EdgeBox[], tag: string) {
  return {
    version: 1,
    data_type: 'image',
    ...(unit.sizeKnown ? { size: { width: unit.width, height: unit.height } } : {}),
    annotations: boxes.map((b, i) => ({ id: `${tag}-${i}`, type: 'bbox', ...b, attributes: {} })),
  };
}

export interface EdgeData {
  projectId: number;
  versionId: number;
  /** Data unit ids in EDGE_UNITS order. */
  unitIds: number[];
  /** Task ids in EDGE_UNITS order. */
  taskIds: number[];
  /** The assignment ids: one per unit, then the second one on the first unit's task. */
  assignmentIds: number[];
}

/** Writes the images and the platform rows into the settings' data dir. */
export async function createEdgeData(settings: Settings, name = 'edge'): Promise<EdgeData> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    const { db } = platform;
    const storage = await ensureDefaultStorage(db);
    const files = openStorage(storage.config, { dataDir: settings.dataDir, name: storage.name });
    for (const unit of EDGE_UNITS) {
      await files.put(`${name}/${unit.key}`, encodePng(unit.width, unit.height, new Uint8Array(unit.width * unit.height * 3).fill(200)));
    }
    const collection = await createDataCollection(db, { name, files: [{ name: 'image', required: true, extensions: ['.png'] }] });
    const project = await createProject(db, {
      name,
      collection: collection.id,
      configuration: { data_type: 'image', classes: EDGE_CLASSES.map((n) => ({ name: n, type: 'bbox', attributes: [] })) },
    });
    const units = await addDataUnits(
      db,
      collection.id,
      EDGE_UNITS.map((u) => ({
        uniqueKey: `${name}:${u.key}`,
        meta: u.sizeKnown ? { width: u.width, height: u.height, split: u.split } : { split: u.split },
        files: { image: { storage: storage.id, key: `${name}/${u.key}` } },
      })),
    );
    const dataset = await createGroundTruthDataset(db, { name, project: project.id });
    const version = await createGroundTruthVersion(db, dataset.id, 'v1');
    await addGroundTruthEvents(
      db,
      version.id,
      units.map((u, i) => ({ dataUnitId: u.id, annotations: doc(EDGE_UNITS[i]!, EDGE_UNITS[i]!.boxes, `gt${i}`) })),
    );
    const tasks = await createTasks(
      db,
      project.id,
      units.map((u) => u.id),
      'completed',
    );
    const assignments = await upsertAssignments(db, project.id, [
      ...tasks.map((t, i) => ({
        taskId: t.id,
        annotator: 'alice',
        status: 'completed' as const,
        annotations: doc(EDGE_UNITS[i]!, EDGE_UNITS[i]!.boxes, `a${i}`),
      })),
      { taskId: tasks[0]!.id, annotator: 'bob', status: 'submitted' as const, annotations: doc(EDGE_UNITS[0]!, SECOND_ASSIGNMENT, 'b0') },
    ]);
    return {
      projectId: project.id,
      versionId: version.id,
      unitIds: units.map((u) => u.id),
      taskIds: tasks.map((t) => t.id),
      assignmentIds: assignments.map((a) => a.id),
    };
  } finally {
    await platform.close();
  }
}

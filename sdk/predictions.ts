/**
 * A deployment's answer as annotations of a project: what to_task's `inference` method
 * writes to a task and what auto_label suggests. One rule for both, so a model's prediction
 * means the same wherever it lands.
 *
 * Answers understood (docs/serving.md):
 * - a classifier's `{ "label": "red", "scores": { "red": 0.9, ... } }` (`confidence` may stand
 *   in for the scores): one annotation of the label's class, confidence `scores[label]`. A
 *   `classification` class gives a classification; a `bbox` class the answer's box of that
 *   label when it has `boxes` (`[{label, x, y, width, height}]`, in the image as sent), else a
 *   box over `region` (the part of the image that was classified) or the whole image (`size`).
 * - a detector's `{ "annotations": [ ... ] }` in the platform's format, each with its
 *   `confidence` (none means 1): boxes and polygons are moved by `region`'s corner, since the
 *   model saw the crop.
 *
 * Annotations below `threshold` are left out and listed in `below`. A label that is not a
 * class of the project, or an answer of another shape, throws an Error saying what came.
 */
import type { AnnotationClass, AnnotationDocumentInput } from './annotations.js';

/** A rectangle in image pixels. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PredictionOptions {
  /** Lowest confidence kept, 0..1. */
  threshold: number;
  /** The project's classes (name and annotation type). */
  classes: readonly AnnotationClass[];
  /** The part of the image the model saw, when it saw a crop. */
  region?: Region;
  /** The whole image's size (a bbox class of a classifier answer without a region). */
  size?: { width: number; height: number };
  /** Prefix of the annotations' ids (`pred` by default): `pred-0`, `pred-1`, ... */
  idPrefix?: string;
}

type AnnotationInput = AnnotationDocumentInput['annotations'][number];

export interface Predictions {
  /** Kept annotations, in the answer's order. */
  annotations: AnnotationInput[];
  /** What the threshold left out. */
  below: { class_name: string; confidence: number }[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first of a classifier's `boxes` with the label (train-image-classifier's shape box), moved by the region's corner. */
function shapeBox(boxes: unknown, label: string, region: Region | undefined): Region | undefined {
  if (!Array.isArray(boxes)) return undefined;
  const b: unknown = boxes.find((x: unknown) => isRecord(x) && x.label === label);
  if (!isRecord(b) || ![b.x, b.y, b.width, b.height].every((v) => typeof v === 'number') || (b.width as number) <= 0 || (b.height as number) <= 0)
    return undefined;
  return { x: (b.x as number) + (region?.x ?? 0), y: (b.y as number) + (region?.y ?? 0), width: b.width as number, height: b.height as number };
}

function show(answer: unknown): string {
  const text = JSON.stringify(answer) ?? String(answer);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A deployment's answer as annotations (see the file header). @throws Error naming what did not fit */
export function predictionAnnotations(answer: unknown, options: PredictionOptions): Predictions {
  const prefix = options.idPrefix ?? 'pred';
  const out: Predictions = { annotations: [], below: [] };
  if (!isRecord(answer)) throw new Error(`the model's answer is not a JSON object: ${show(answer)}`);
  if (typeof answer.label === 'string') {
    const label = answer.label;
    const scores = isRecord(answer.scores) ? answer.scores : {};
    const raw = typeof scores[label] === 'number' ? scores[label] : typeof answer.confidence === 'number' ? answer.confidence : 1;
    const confidence = Math.min(1, Math.max(0, raw as number));
    const cls = options.classes.find((c) => c.name === label);
    if (!cls) throw new Error(`the model's label "${label}" is not a class of the project (${options.classes.map((c) => `"${c.name}"`).join(', ')})`);
    if (confidence < options.threshold) {
      out.below.push({ class_name: label, confidence });
      return out;
    }
    if (cls.type === 'classification') {
      out.annotations.push({ id: `${prefix}-0`, type: 'classification', class_name: label, confidence });
    } else if (cls.type === 'bbox') {
      const box = shapeBox(answer.boxes, label, options.region) ?? options.region ?? (options.size ? { x: 0, y: 0, ...options.size } : undefined);
      if (!box) throw new Error(`class "${label}" is a bbox class: a classifier's label needs a region or the image size`);
      out.annotations.push({ id: `${prefix}-0`, type: 'bbox', class_name: label, confidence, x: box.x, y: box.y, width: box.width, height: box.height });
    } else {
      throw new Error(`class "${label}" is annotated as "${cls.type}": a classifier's label can be a classification or a bbox`);
    }
    return out;
  }
  if (Array.isArray(answer.annotations)) {
    const dx = options.region?.x ?? 0;
    const dy = options.region?.y ?? 0;
    answer.annotations.forEach((a: unknown, i) => {
      if (!isRecord(a) || typeof a.class_name !== 'string' || typeof a.type !== 'string')
        throw new Error(`annotations[${i}] of the model's answer: ${show(a)}`);
      const confidence = typeof a.confidence === 'number' ? a.confidence : 1;
      if (confidence < options.threshold) {
        out.below.push({ class_name: a.class_name, confidence });
        return;
      }
      const moved: Record<string, unknown> = { ...a, id: `${prefix}-${i}`, confidence };
      if (typeof a.x === 'number' && typeof a.y === 'number') Object.assign(moved, { x: a.x + dx, y: a.y + dy });
      if (Array.isArray(a.points)) moved.points = (a.points as [number, number][]).map(([x, y]) => [x + dx, y + dy]);
      out.annotations.push(moved as AnnotationInput);
    });
    return out;
  }
  throw new Error(`the model's answer is neither {label, scores} nor {annotations: [...]}: ${show(answer)}`);
}

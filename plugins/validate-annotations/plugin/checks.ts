/**
 * The checks, as pure functions of one task's annotations, its project and its image size:
 * each problem has a code (what kind), the annotation it is about and a message.
 *
 * - `empty`: the task has no annotations (no assignment, or assignments with none).
 * - `outside_image`: a box not wholly inside the image (x, y >= 0; x + width <= image width, ...).
 * - `unknown_class`, `wrong_type`, `missing_attribute`, `bad_attribute`: against the project's
 *   classes (sdk classProblems).
 * - `duplicate`: two boxes of the same class with IoU >= `duplicateIou` (default 0.95).
 * - `overlap`: two boxes of the same class with IoU >= `overlapIou` (default 0.5) but below
 *   the duplicate threshold.
 * - `missing_file`: a required file of the data unit is not declared, or not in its storage.
 */
import { classProblems, type AnnotationClass, type AnnotationDocument } from '@synapse/sdk';

export interface Problem {
  code: 'empty' | 'outside_image' | 'unknown_class' | 'wrong_type' | 'missing_attribute' | 'bad_attribute' | 'duplicate' | 'overlap' | 'missing_file';
  /** `<annotator>/<annotation id>` when the problem is about one annotation. */
  annotation?: string;
  message: string;
}

export interface BoxLike {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Intersection over union of two boxes (0 when they do not touch). */
export function iou(a: BoxLike, b: BoxLike): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

export interface CheckOptions {
  duplicateIou: number;
  overlapIou: number;
}

/** Problems of one annotator's document. */
export function documentProblems(
  annotator: string,
  doc: AnnotationDocument,
  classes: readonly AnnotationClass[],
  size: { width: number; height: number } | undefined,
  opts: CheckOptions,
): Problem[] {
  const problems: Problem[] = [];
  const ref = (id: string) => `${annotator}/${id}`;
  for (const p of classProblems(doc, classes)) {
    const index = Number(p.path.split('.')[1]);
    const a = doc.annotations[index];
    const code: Problem['code'] = p.path.endsWith('.class_name')
      ? 'unknown_class'
      : p.path.endsWith('.type')
        ? 'wrong_type'
        : p.message.startsWith('required')
          ? 'missing_attribute'
          : 'bad_attribute';
    problems.push({ code, ...(a ? { annotation: ref(a.id) } : {}), message: `${p.path}: ${p.message}` });
  }
  const boxes = doc.annotations.flatMap((a) => (a.type === 'bbox' ? [a] : []));
  if (size) {
    for (const b of boxes) {
      if (b.x < 0 || b.y < 0 || b.x + b.width > size.width || b.y + b.height > size.height) {
        problems.push({
          code: 'outside_image',
          annotation: ref(b.id),
          message: `box (${b.x}, ${b.y}, ${b.width} x ${b.height}) is not inside the ${size.width} x ${size.height} image`,
        });
      }
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      if (a.class_name !== b.class_name) continue;
      const v = iou(a, b);
      if (v >= opts.duplicateIou)
        problems.push({ code: 'duplicate', annotation: ref(b.id), message: `duplicates ${a.id} ("${a.class_name}", IoU ${v.toFixed(2)})` });
      else if (v >= opts.overlapIou)
        problems.push({ code: 'overlap', annotation: ref(b.id), message: `overlaps ${a.id} ("${a.class_name}", IoU ${v.toFixed(2)})` });
    }
  }
  return problems;
}

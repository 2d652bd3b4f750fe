/**
 * The merge rule, a pure function of one task's documents by annotator:
 *
 * 1. Annotators are taken in name order. Each box is matched to the cluster of boxes with
 *    the highest IoU with it (the mean IoU with the cluster's boxes) that is at least
 *    `iou` and has no box of the same annotator yet; else it starts a new cluster.
 * 2. A cluster is kept when more than half of the annotators drew it (with one annotator,
 *    everything is kept; with two, both must agree). A cluster dropped is a disagreement
 *    `unmatched`, naming who drew it.
 * 3. A kept box's class is the class most of its boxes have; a tie goes to the class of the
 *    first annotator (name order) among the tied. A class that was not unanimous is a
 *    disagreement `class`, with the votes. Its coordinates are the mean of its boxes, its
 *    attributes those of the first box with the chosen class.
 * 4. Classifications: a class is kept when more than half of the annotators gave it; the
 *    others are disagreements `classification`.
 * Other annotation types are kept when every annotator has an equal one, else listed
 * (`other`). Merged ids are `m1`, `m2`, ... in order.
 */
import type { Annotation, AnnotationDocument } from '@synapse/sdk';

type Box = Extract<Annotation, { type: 'bbox' }>;

export interface Disagreement {
  kind: 'unmatched' | 'class' | 'classification' | 'other';
  message: string;
  annotators: string[];
  votes?: Record<string, number>;
}

export interface MergeResult {
  document: AnnotationDocument;
  disagreements: Disagreement[];
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

const round = (v: number) => Math.round(v * 1000) / 1000;

export function mergeDocuments(byAnnotator: ReadonlyMap<string, AnnotationDocument>, threshold: number): MergeResult {
  const annotators = [...byAnnotator.keys()].sort();
  const n = annotators.length;
  const first = byAnnotator.get(annotators[0] ?? '');
  const disagreements: Disagreement[] = [];
  const merged: Annotation[] = [];
  const majority = (count: number) => count * 2 > n;

  // Boxes.
  const clusters: { boxes: { annotator: string; box: Box }[] }[] = [];
  for (const annotator of annotators) {
    for (const a of byAnnotator.get(annotator)?.annotations ?? []) {
      if (a.type !== 'bbox') continue;
      let best: (typeof clusters)[number] | undefined;
      let bestIou = 0;
      for (const c of clusters) {
        if (c.boxes.some((b) => b.annotator === annotator)) continue;
        const v = c.boxes.reduce((s, b) => s + iou(a, b.box), 0) / c.boxes.length;
        if (v >= threshold && v > bestIou) {
          best = c;
          bestIou = v;
        }
      }
      if (best) best.boxes.push({ annotator, box: a });
      else clusters.push({ boxes: [{ annotator, box: a }] });
    }
  }
  for (const c of clusters) {
    const who = c.boxes.map((b) => b.annotator);
    if (!majority(c.boxes.length)) {
      const b = c.boxes[0]!.box;
      disagreements.push({
        kind: 'unmatched',
        message: `"${b.class_name}" box at (${b.x}, ${b.y}, ${b.width} x ${b.height}) drawn by ${who.join(', ')} only (${c.boxes.length} of ${n})`,
        annotators: who,
      });
      continue;
    }
    const votes: Record<string, number> = {};
    for (const b of c.boxes) votes[b.box.class_name] = (votes[b.box.class_name] ?? 0) + 1;
    const top = Math.max(...Object.values(votes));
    // Boxes are in annotator name order: the first with a top class decides a tie.
    const chosen = c.boxes.find((b) => votes[b.box.class_name] === top)!;
    if (Object.keys(votes).length > 1) {
      disagreements.push({
        kind: 'class',
        message: `box matched across ${who.join(', ')}: classes ${JSON.stringify(votes)}, "${chosen.box.class_name}" kept`,
        annotators: who,
        votes,
      });
    }
    const mean = (k: 'x' | 'y' | 'width' | 'height') => round(c.boxes.reduce((s, b) => s + b.box[k], 0) / c.boxes.length);
    merged.push({
      ...chosen.box,
      id: '',
      class_name: chosen.box.class_name,
      x: mean('x'),
      y: mean('y'),
      width: mean('width'),
      height: mean('height'),
      attributes: chosen.box.attributes,
    });
  }

  // Classifications.
  const given = new Map<string, string[]>();
  for (const annotator of annotators) {
    for (const a of byAnnotator.get(annotator)?.annotations ?? []) {
      if (a.type !== 'classification') continue;
      const list = given.get(a.class_name) ?? [];
      if (!list.includes(annotator)) list.push(annotator);
      given.set(a.class_name, list);
    }
  }
  for (const [cls, who] of given) {
    if (majority(who.length)) merged.push({ id: '', type: 'classification', class_name: cls, attributes: {} });
    else disagreements.push({ kind: 'classification', message: `"${cls}" given by ${who.join(', ')} only (${who.length} of ${n})`, annotators: who });
  }

  // Anything else: kept only when every annotator has an equal one.
  const others = annotators.map((a) => (byAnnotator.get(a)?.annotations ?? []).filter((x) => x.type !== 'bbox' && x.type !== 'classification'));
  const key = (a: Annotation) => JSON.stringify({ ...a, id: '' });
  for (const a of others[0] ?? []) {
    if (others.every((list) => list.some((b) => key(b) === key(a)))) merged.push({ ...a });
    else
      disagreements.push({ kind: 'other', message: `${a.type} "${a.class_name}" (${a.id}) is not the same for every annotator`, annotators: [annotators[0]!] });
  }

  merged.forEach((a, i) => (a.id = `m${i + 1}`));
  return {
    document: { version: 1, data_type: first?.data_type ?? 'image', ...(first?.size ? { size: first.size } : {}), annotations: merged },
    disagreements,
  };
}

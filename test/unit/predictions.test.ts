/**
 * sdk/predictions.ts: a classifier's answer becomes a classification, or a box over the region
 * (or the whole image) for a bbox class; a detector's annotations are moved by the region's
 * corner; the threshold leaves out and lists what is below it; a label that is not a class and
 * an answer of another shape are errors saying what came.
 */
import { describe, expect, it } from 'vitest';
import type { AnnotationClass } from '../../sdk/annotations.js';
import { predictionAnnotations } from '../../sdk/predictions.js';

const classes: AnnotationClass[] = [
  { name: 'red', type: 'classification', attributes: [] },
  { name: 'circle', type: 'bbox', attributes: [] },
];

describe('predictionAnnotations', () => {
  it("turns a classifier's label into a classification or a box", () => {
    expect(predictionAnnotations({ label: 'red', scores: { red: 0.8, circle: 0.2 } }, { threshold: 0.5, classes })).toEqual({
      annotations: [{ id: 'pred-0', type: 'classification', class_name: 'red', confidence: 0.8 }],
      below: [],
    });
    const region = { x: 10, y: 5, width: 20, height: 30 };
    expect(predictionAnnotations({ label: 'circle', confidence: 0.7 }, { threshold: 0.5, classes, region, idPrefix: 's' }).annotations).toEqual([
      { id: 's-0', type: 'bbox', class_name: 'circle', confidence: 0.7, ...region },
    ]);
    expect(predictionAnnotations({ label: 'circle' }, { threshold: 0.5, classes, size: { width: 64, height: 48 } }).annotations).toEqual([
      { id: 'pred-0', type: 'bbox', class_name: 'circle', confidence: 1, x: 0, y: 0, width: 64, height: 48 },
    ]);
    expect(() => predictionAnnotations({ label: 'circle' }, { threshold: 0.5, classes })).toThrow(/needs a region or the image size/);
    // A classifier's own box of the label (train-image-classifier's `boxes`), moved by the region's corner.
    const boxes = [{ label: 'circle', score: 0.9, x: 3, y: 4, width: 5, height: 6 }];
    expect(predictionAnnotations({ label: 'circle', scores: { circle: 0.9 }, boxes }, { threshold: 0.5, classes, region }).annotations).toEqual([
      { id: 'pred-0', type: 'bbox', class_name: 'circle', confidence: 0.9, x: 13, y: 9, width: 5, height: 6 },
    ]);
  });

  it('keeps what reaches the threshold and lists the rest', () => {
    expect(predictionAnnotations({ label: 'red', scores: { red: 0.4 } }, { threshold: 0.5, classes })).toEqual({
      annotations: [],
      below: [{ class_name: 'red', confidence: 0.4 }],
    });
    const answer = {
      annotations: [
        { type: 'bbox', class_name: 'circle', x: 1, y: 2, width: 3, height: 4, confidence: 0.9 },
        { type: 'bbox', class_name: 'circle', x: 0, y: 0, width: 3, height: 4, confidence: 0.1 },
      ],
    };
    const out = predictionAnnotations(answer, { threshold: 0.5, classes, region: { x: 10, y: 20, width: 30, height: 30 } });
    expect(out.annotations).toEqual([{ id: 'pred-0', type: 'bbox', class_name: 'circle', x: 11, y: 22, width: 3, height: 4, confidence: 0.9 }]);
    expect(out.below).toEqual([{ class_name: 'circle', confidence: 0.1 }]);
  });

  it('says what did not fit', () => {
    expect(() => predictionAnnotations({ label: 'hexagon' }, { threshold: 0, classes })).toThrow(
      'the model\'s label "hexagon" is not a class of the project ("red", "circle")',
    );
    expect(() => predictionAnnotations({ boxes: [] }, { threshold: 0, classes })).toThrow('neither {label, scores} nor {annotations: [...]}: {"boxes":[]}');
    expect(() => predictionAnnotations('red', { threshold: 0, classes })).toThrow('not a JSON object');
  });
});

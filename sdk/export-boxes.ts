/**
 * The one border policy of every built-in detection exporter (COCO, YOLO, VOC), so that one
 * item has the same boxes in each format: a box is clipped to the image, a box with no area
 * left inside it is dropped, and a box's area is the clipped box's area. The image size
 * comes from the annotation document's `size`, else the data unit's `meta.width`/`meta.height`,
 * else the image file's header (read by the engine into `ExportItem.imageSize`).
 */
import type { ExportItem } from './exporter.js';

/** A box in pixels: left and top edges, right and bottom edges (x1 = x + width). */
export interface PixelBox {
  class_name: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** (x1 - x0) * (y1 - y0), in square pixels. */
  area: number;
  /** Whether clipping cut the box (it reached past the image border). */
  clipped: boolean;
  attributes: Record<string, unknown>;
}

export interface ImageSize {
  width: number;
  height: number;
}

interface Doc {
  size?: { width?: unknown; height?: unknown };
  annotations?: { type?: unknown; class_name?: unknown; x?: unknown; y?: unknown; width?: unknown; height?: unknown; attributes?: unknown }[];
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The item's image size in pixels (document `size`, else meta, else the header), or undefined. */
export function exportImageSize(item: ExportItem): ImageSize | undefined {
  const doc = (item.data ?? {}) as Doc;
  if (positive(doc.size?.width) && positive(doc.size?.height)) return { width: doc.size.width, height: doc.size.height };
  const meta = item.dataUnit.meta;
  if (positive(meta.width) && positive(meta.height)) return { width: meta.width, height: meta.height };
  return item.imageSize;
}

/**
 * The item's `bbox` annotations clipped to `size`; boxes with nothing inside are left out.
 * Other annotation types are not boxes and are not returned.
 */
export function clippedBoxes(item: ExportItem, size: ImageSize): PixelBox[] {
  const doc = (item.data ?? {}) as Doc;
  const boxes: PixelBox[] = [];
  for (const a of doc.annotations ?? []) {
    if (a.type !== 'bbox') continue;
    const x = num(a.x);
    const y = num(a.y);
    const w = num(a.width);
    const h = num(a.height);
    const x0 = Math.min(size.width, Math.max(0, x));
    const y0 = Math.min(size.height, Math.max(0, y));
    const x1 = Math.min(size.width, Math.max(0, x + w));
    const y1 = Math.min(size.height, Math.max(0, y + h));
    if (x1 <= x0 || y1 <= y0) continue;
    const attributes = a.attributes !== null && typeof a.attributes === 'object' ? (a.attributes as Record<string, unknown>) : {};
    boxes.push({
      class_name: String(a.class_name),
      x0,
      y0,
      x1,
      y1,
      area: (x1 - x0) * (y1 - y0),
      clipped: x0 !== x || y0 !== y || x1 !== x + w || y1 !== y + h,
      attributes,
    });
  }
  return boxes;
}

/** The size, or an Error naming why it is unknown (the item fails with it). */
export function requireImageSize(item: ExportItem): ImageSize {
  const size = exportImageSize(item);
  if (!size)
    throw new Error(
      'the image size is unknown (no size in the annotations, no width/height in the data unit meta, and no readable PNG/JPEG header in its file)',
    );
  return size;
}

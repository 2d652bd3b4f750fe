import {
  BaseExporter,
  clippedBoxes,
  requireImageSize,
  type ExportFinalizeInput,
  type ExportItem,
  type ExportOutput,
  type ExportResultItem,
} from '@synapse/sdk';

interface CocoBox {
  class_name: string;
  bbox: [number, number, number, number];
  area: number;
  segmentation: number[][];
}

interface CocoItem {
  image: { file_name: string; width: number; height: number };
  boxes: CocoBox[];
}

/**
 * COCO instances, in the layout COCO's own tools and datumaro's `coco` importer detect:
 * `annotations/instances_<subset>.json` and the images, with `save_original_file`, in
 * `images/<subset>/`. Boxes follow the one border policy (sdk/export-boxes.ts: clipped to the
 * image, empty ones dropped, `area` of the clipped box) and carry `segmentation` as the box's
 * rectangle polygon, so pycocotools' annToMask and showAnns work. Each page keeps its items'
 * image and boxes (collect); finalize numbers them: image ids 1.. in item order (one image per
 * exported item, so two assignments of one task are two images), annotation ids likewise,
 * category ids follow the project's classes. The same data gives the same file, however the
 * pages ran.
 */
export class CocoExporter extends BaseExporter {
  /** The hooks keep no state between items: 16 of a page's items are written at once. */
  static override itemConcurrency = 16;

  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/images/${this.subset()}`;
    return paths;
  }

  override convertData(item: ExportItem): CocoItem {
    const size = requireImageSize(item);
    const boxes: CocoBox[] = clippedBoxes(item, size).map((b) => ({
      class_name: b.class_name,
      bbox: [b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0],
      area: b.area,
      segmentation: [[b.x0, b.y0, b.x1, b.y0, b.x1, b.y1, b.x0, b.y1]],
    }));
    const primary = this.originalCopies(item)[0];
    return { image: { file_name: primary?.copyName ?? this.itemStem(item), width: size.width, height: size.height }, boxes };
  }

  override collect(result: ExportResultItem): CocoItem {
    return result.data as CocoItem;
  }

  /**
   * Streams `annotations/instances_<subset>.json`, the same bytes `JSON.stringify({ info,
   * images, annotations, categories })` would give, in two passes over the collected items
   * (images, then annotations), so memory stays flat at a million items. Categories come
   * last: a class the project does not list is added when first seen.
   */
  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const categories = classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: '' }));
    const categoryId = new Map(categories.map((c) => [c.name, c.id]));
    const info = { description: this.params.name };
    async function* instances(): AsyncGenerator<string> {
      yield `{"info":${JSON.stringify(info)},"images":[`;
      let imageId = 0;
      for await (const item of collected() as AsyncIterable<CocoItem>) {
        yield (imageId === 0 ? '' : ',') + JSON.stringify({ id: ++imageId, ...item.image });
      }
      yield '],"annotations":[';
      let annotationId = 0;
      imageId = 0;
      for await (const item of collected() as AsyncIterable<CocoItem>) {
        imageId++;
        const chunk: string[] = [];
        for (const box of item.boxes) {
          let id = categoryId.get(box.class_name);
          if (id === undefined) {
            id = categories.length + 1;
            categories.push({ id, name: box.class_name, supercategory: '' });
            categoryId.set(box.class_name, id);
          }
          const annotation = {
            id: ++annotationId,
            image_id: imageId,
            category_id: id,
            bbox: box.bbox,
            area: box.area,
            segmentation: box.segmentation,
            iscrowd: 0,
          };
          chunk.push((annotationId === 1 ? '' : ',') + JSON.stringify(annotation));
        }
        if (chunk.length) yield chunk.join('');
      }
      yield `],"categories":${JSON.stringify(categories)}}`;
    }
    const key = `annotations/instances_${this.subset()}.json`;
    await output.writeStream(`${output.exportPath}/${key}`, instances());
    return { coco: key, ...(this.params.save_original_file ? { origin_files: `images/${this.subset()}/` } : {}) };
  }
}

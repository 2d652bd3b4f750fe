import {
  BaseExporter,
  clippedBoxes,
  requireImageSize,
  subsetOfSplit,
  SubsetsParam,
  z,
  type ExportFinalizeInput,
  type ExportItem,
  type ExportOutput,
  type ExportResultItem,
} from '@synapse/sdk';

/** `subsets: "split"`: one instances file and image folder per data unit split (train, val, test). */
const Extra = z.strictObject({ subsets: SubsetsParam });

interface CocoBox {
  class_name: string;
  bbox: [number, number, number, number];
  area: number;
  segmentation: number[][];
}

interface CocoItem {
  subset: string;
  image: { file_name: string; width: number; height: number };
  boxes: CocoBox[];
}

/**
 * COCO instances, in the layout COCO's own tools and datumaro's `coco` importer detect:
 * `annotations/instances_<subset>.json` and the images, with `save_original_file`, in
 * `images/<subset>/` (subset `default`, or each data unit's split with `extra_params.subsets:
 * "split"`). Boxes follow the one border policy (sdk/export-boxes.ts: clipped to the image,
 * empty ones dropped, `area` of the clipped box) and carry `segmentation` as the box's
 * rectangle polygon, so pycocotools' annToMask and showAnns work. Each page keeps its items'
 * image and boxes (collect); finalize numbers them: image ids 1.. in item order within a
 * subset's file (one image per exported item, so two assignments of one task are two images),
 * annotation ids likewise, category ids follow the project's classes (the same in every
 * subset's file). The same data gives the same files, however the pages ran.
 */
export class CocoExporter extends BaseExporter.withExtraParams(Extra) {
  /** The hooks keep no state between items: 16 of a page's items are written at once. */
  static override itemConcurrency = 16;

  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/images`;
    return paths;
  }

  override subset(item: ExportItem): string {
    return this.params.extra_params.subsets === 'split' ? subsetOfSplit(item) : 'default';
  }

  override originalFilesFolder(item: ExportItem, output: ExportOutput): string {
    return `${output.exportPath}/images/${this.subset(item)}`;
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
    return { subset: this.subset(item), image: { file_name: primary?.copyName ?? this.itemStem(item), width: size.width, height: size.height }, boxes };
  }

  override collect(result: ExportResultItem): CocoItem {
    return result.data as CocoItem;
  }

  /**
   * Streams `annotations/instances_<subset>.json` per subset, the same bytes
   * `JSON.stringify({ info, images, annotations, categories })` would give, in passes over the
   * collected items (the categories and subsets, then per subset its images and its
   * annotations), so memory stays flat at a million items. A class the project does not list
   * follows the project's classes in the order first seen.
   */
  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const categories = classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: '' }));
    const categoryId = new Map(categories.map((c) => [c.name, c.id]));
    const addCategory = (name: string): number => {
      let id = categoryId.get(name);
      if (id === undefined) {
        id = categories.length + 1;
        categories.push({ id, name, supercategory: '' });
        categoryId.set(name, id);
      }
      return id;
    };
    // One subset: categories are numbered as the annotations stream past. Several: a first
    // pass finds the subsets and numbers the categories, so every file lists the same ones.
    const subsets = new Set<string>();
    if (this.params.extra_params.subsets === 'split') {
      for await (const item of collected() as AsyncIterable<CocoItem>) {
        subsets.add(item.subset);
        for (const box of item.boxes) addCategory(box.class_name);
      }
      if (subsets.size === 0) subsets.add('train');
    } else subsets.add('default');
    const info = { description: this.params.name };
    const files: Record<string, string> = {};
    for (const subset of [...subsets].sort()) {
      async function* instances(): AsyncGenerator<string> {
        yield `{"info":${JSON.stringify(info)},"images":[`;
        let imageId = 0;
        for await (const item of collected() as AsyncIterable<CocoItem>) {
          if (item.subset !== subset) continue;
          yield (imageId === 0 ? '' : ',') + JSON.stringify({ id: ++imageId, ...item.image });
        }
        yield '],"annotations":[';
        let annotationId = 0;
        imageId = 0;
        for await (const item of collected() as AsyncIterable<CocoItem>) {
          if (item.subset !== subset) continue;
          imageId++;
          const chunk: string[] = [];
          for (const box of item.boxes) {
            const annotation = {
              id: ++annotationId,
              image_id: imageId,
              category_id: addCategory(box.class_name),
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
      const key = `annotations/instances_${subset}.json`;
      await output.writeStream(`${output.exportPath}/${key}`, instances());
      files[subset] = key;
    }
    const only = subsets.size === 1 ? [...subsets][0] : undefined;
    return {
      coco: only !== undefined ? files[only] : files,
      ...(this.params.save_original_file ? { origin_files: only !== undefined ? `images/${only}/` : 'images/<subset>/' } : {}),
    };
  }
}

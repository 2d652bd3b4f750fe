import { BaseExporter, type ExportFinalizeInput, type ExportItem, type ExportOutput, type ExportResultItem } from '@synapse/sdk';

interface CocoBox {
  class_name: string;
  bbox: [number, number, number, number];
  area: number;
}

interface CocoItem {
  image: { id: number; file_name: string; width: number | null; height: number | null };
  boxes: CocoBox[];
}

interface Doc {
  size?: { width: number; height: number };
  annotations?: { type: string; class_name: string; x?: number; y?: number; width?: number; height?: number }[];
}

/**
 * COCO instances. Each item's boxes become `json/<stem>.json`; each page keeps its items'
 * image and boxes (collect), and finalize numbers them: image ids are data unit ids,
 * annotation ids count up in item order, category ids follow the project's classes. The
 * same data gives the same file, however the pages ran.
 */
export class CocoExporter extends BaseExporter {
  override convertData(item: ExportItem): CocoItem {
    const doc = (item.data ?? {}) as Doc;
    const meta = item.dataUnit.meta;
    const boxes: CocoBox[] = [];
    for (const a of doc.annotations ?? []) {
      if (a.type !== 'bbox') continue;
      const w = a.width ?? 0;
      const h = a.height ?? 0;
      boxes.push({ class_name: a.class_name, bbox: [a.x ?? 0, a.y ?? 0, w, h], area: w * h });
    }
    const width = doc.size?.width ?? (typeof meta.width === 'number' ? meta.width : null);
    const height = doc.size?.height ?? (typeof meta.height === 'number' ? meta.height : null);
    return { image: { id: item.dataUnit.id, file_name: this.getOriginalFileName(item.files) ?? `${item.dataUnit.uniqueKey}`, width, height }, boxes };
  }

  override collect(result: ExportResultItem): CocoItem {
    return result.data as CocoItem;
  }

  /**
   * Streams `annotations/instances.json`, the same bytes `JSON.stringify({ info, images,
   * annotations, categories })` would give, in two passes over the collected items (images,
   * then annotations), so memory stays flat at a million items. Categories come last: a class
   * the project does not list is added when first seen.
   */
  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const categories = classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: '' }));
    const categoryId = new Map(categories.map((c) => [c.name, c.id]));
    const info = { description: this.params.name };
    async function* instances(): AsyncGenerator<string> {
      yield `{"info":${JSON.stringify(info)},"images":[`;
      let first = true;
      for await (const item of collected() as AsyncIterable<CocoItem>) {
        yield (first ? '' : ',') + JSON.stringify(item.image);
        first = false;
      }
      yield '],"annotations":[';
      let annotationId = 0;
      for await (const item of collected() as AsyncIterable<CocoItem>) {
        const chunk: string[] = [];
        for (const box of item.boxes) {
          let id = categoryId.get(box.class_name);
          if (id === undefined) {
            id = categories.length + 1;
            categories.push({ id, name: box.class_name, supercategory: '' });
            categoryId.set(box.class_name, id);
          }
          const annotation = { id: ++annotationId, image_id: item.image.id, category_id: id, bbox: box.bbox, area: box.area, iscrowd: 0 };
          chunk.push((annotationId === 1 ? '' : ',') + JSON.stringify(annotation));
        }
        if (chunk.length) yield chunk.join('');
      }
      yield `],"categories":${JSON.stringify(categories)}}`;
    }
    const key = 'annotations/instances.json';
    await output.writeStream(`${output.exportPath}/${key}`, instances());
    return { coco: key };
  }
}

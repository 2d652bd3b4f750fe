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

  override async finalize({ parts, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const categories = classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: '' }));
    const categoryId = new Map(categories.map((c) => [c.name, c.id]));
    const images: CocoItem['image'][] = [];
    const annotations: Record<string, unknown>[] = [];
    for (const item of parts as CocoItem[]) {
      images.push(item.image);
      for (const box of item.boxes) {
        let id = categoryId.get(box.class_name);
        if (id === undefined) {
          id = categories.length + 1;
          categories.push({ id, name: box.class_name, supercategory: '' });
          categoryId.set(box.class_name, id);
        }
        annotations.push({ id: annotations.length + 1, image_id: item.image.id, category_id: id, bbox: box.bbox, area: box.area, iscrowd: 0 });
      }
    }
    const key = 'annotations/instances.json';
    await output.write(`${output.exportPath}/${key}`, JSON.stringify({ info: { description: this.params.name }, images, annotations, categories }));
    return { coco: key };
  }
}

import { BaseExporter, z, type ExportFinalizeInput, type ExportItem, type ExportOutput, type ExportResultItem } from '@synapse/sdk';

const Extra = z.strictObject({
  /** The `path` entry of data.yaml: the dataset root as the trainer will see it. */
  data_path: z.string().min(1).default('.'),
});

interface YoloBox {
  class_name: string;
  /** Centre x, centre y, width, height, each 0..1 of the image size. */
  cx: number;
  cy: number;
  w: number;
  h: number;
}

interface YoloItem {
  stem: string;
  width: number;
  height: number;
  boxes: YoloBox[];
}

interface Doc {
  size?: { width: number; height: number };
  annotations?: { type: string; class_name: string; x?: number; y?: number; width?: number; height?: number }[];
}

const WRITE_CONCURRENCY = 32;

/** A number as a label value: 6 decimals, trailing zeros dropped. */
function fmt(n: number): string {
  return String(Number(n.toFixed(6)));
}

const clamp01 = (n: number) => Math.min(1, Math.max(0, n));

/** A YAML double-quoted scalar (JSON's string syntax is a subset of it). */
function yamlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * YOLO detection labels. Each item's boxes are normalised in convertData (clipped to the
 * image; boxes with nothing left inside are dropped) and collected; finalize, which knows the
 * project's classes, numbers the classes (project order, then any other class in the order
 * first seen) and writes `labels/<stem>.txt` per item and `data.yaml`. Original files go to
 * `images/` (the base class's original-file copy, pointed there), so labels and images share stems.
 */
export class YoloExporter extends BaseExporter.withExtraParams(Extra) {

  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json`, labels_output_path: `${uniqueExportPath}/labels` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/images`;
    return paths;
  }

  override convertData(item: ExportItem): YoloItem {
    const doc = (item.data ?? {}) as Doc;
    const meta = item.dataUnit.meta;
    const width = doc.size?.width ?? (typeof meta.width === 'number' ? meta.width : undefined);
    const height = doc.size?.height ?? (typeof meta.height === 'number' ? meta.height : undefined);
    if (!width || !height || width <= 0 || height <= 0) throw new Error('the image size is unknown (no size in the annotations, no width/height in the data unit meta)');
    const boxes: YoloBox[] = [];
    for (const a of doc.annotations ?? []) {
      if (a.type !== 'bbox') continue;
      const x0 = clamp01((a.x ?? 0) / width);
      const y0 = clamp01((a.y ?? 0) / height);
      const x1 = clamp01(((a.x ?? 0) + (a.width ?? 0)) / width);
      const y1 = clamp01(((a.y ?? 0) + (a.height ?? 0)) / height);
      if (x1 <= x0 || y1 <= y0) continue;
      boxes.push({ class_name: a.class_name, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, w: x1 - x0, h: y1 - y0 });
    }
    return { stem: this.itemStem({ id: item.id, files: item.files, data: null }), width, height, boxes };
  }

  override collect(result: ExportResultItem): YoloItem {
    return result.data as YoloItem;
  }

  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const names = classes.map((c) => c.name);
    const classId = new Map(names.map((n, i) => [n, i]));
    const labels = output.paths.labels_output_path ?? `${output.exportPath}/labels`;
    // One pass: a class is numbered when first seen, and an item's labels only name classes
    // seen by then, so each label file can be written as its item streams past.
    let batch: YoloItem[] = [];
    const writeBatch = async (): Promise<void> => {
      await Promise.all(
        batch.map((item) => {
          const lines = item.boxes.map((b) => `${classId.get(b.class_name)} ${fmt(b.cx)} ${fmt(b.cy)} ${fmt(b.w)} ${fmt(b.h)}\n`);
          return output.write(`${labels}/${item.stem}.txt`, lines.join(''));
        }),
      );
      batch = [];
    };
    for await (const item of collected() as AsyncIterable<YoloItem>) {
      for (const box of item.boxes) {
        if (!classId.has(box.class_name)) {
          classId.set(box.class_name, names.length);
          names.push(box.class_name);
        }
      }
      batch.push(item);
      if (batch.length >= WRITE_CONCURRENCY) await writeBatch();
    }
    await writeBatch();
    const yaml = [
      `# YOLO dataset of export ${yamlString(this.params.name)}: images/ and labels/ share file stems.`,
      `path: ${yamlString(this.params.extra_params.data_path)}`,
      'train: images',
      'val: images',
      `nc: ${names.length}`,
      names.length ? 'names:' : 'names: {}',
      ...names.map((n, i) => `  ${i}: ${yamlString(n)}`),
      '',
    ].join('\n');
    await output.write(`${output.exportPath}/data.yaml`, yaml);
    return { labels: 'labels/', data_yaml: 'data.yaml', ...(this.params.save_original_file ? { origin_files: 'images/' } : {}) };
  }
}

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

const Extra = z.strictObject({
  /**
   * The `path` entry of data.yaml: the absolute folder the export will be at where it is
   * trained. Omitted by default: Ultralytics then resolves `train`/`val` against the folder of
   * data.yaml itself, so the file works from any current directory. A relative path would be
   * resolved against Ultralytics' datasets folder, so it is refused.
   */
  data_path: z
    .string()
    .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path (or left out: data.yaml then locates the dataset itself)')
    .optional(),
  /** `split`: images/ and labels/ per data unit split (train, val, test); `default`: one folder. */
  subsets: SubsetsParam,
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
  subset: string;
  boxes: YoloBox[];
}

const WRITE_CONCURRENCY = 32;

/** A number as a label value: 6 decimals, trailing zeros dropped. */
function fmt(n: number): string {
  return String(Number(n.toFixed(6)));
}

/** A YAML double-quoted scalar (JSON's string syntax is a subset of it). */
function yamlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * YOLO detection labels in the Ultralytics layout (which datumaro's `yolo` importer detects):
 * `images/<subset>/<stem>.<ext>`, `labels/<subset>/<stem>.txt` and `data.yaml`. Boxes follow
 * the one border policy (sdk/export-boxes.ts: clipped to the image, empty ones dropped) and
 * are normalised in convertData; finalize, which knows the project's classes, numbers the
 * classes (project order, then any other class in the order first seen) and writes the label
 * files and `data.yaml`.
 */
export class YoloExporter extends BaseExporter.withExtraParams(Extra) {
  /** The hooks keep no state between items: 16 of a page's items are written at once. */
  static override itemConcurrency = 16;

  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json`, labels_output_path: `${uniqueExportPath}/labels` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/images`;
    return paths;
  }

  override subset(item: ExportItem): string {
    return this.params.extra_params.subsets === 'split' ? subsetOfSplit(item) : 'default';
  }

  override originalFilesFolder(item: ExportItem, output: ExportOutput): string {
    return `${output.exportPath}/images/${this.subset(item)}`;
  }

  override convertData(item: ExportItem): YoloItem {
    const { width, height } = requireImageSize(item);
    const boxes: YoloBox[] = clippedBoxes(item, { width, height }).map((b) => ({
      class_name: b.class_name,
      cx: (b.x0 + b.x1) / 2 / width,
      cy: (b.y0 + b.y1) / 2 / height,
      w: (b.x1 - b.x0) / width,
      h: (b.y1 - b.y0) / height,
    }));
    return { stem: this.itemStem(item), subset: this.subset(item), boxes };
  }

  override collect(result: ExportResultItem): YoloItem {
    return result.data as YoloItem;
  }

  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const names = classes.map((c) => c.name);
    const classId = new Map(names.map((n, i) => [n, i]));
    const labels = output.paths.labels_output_path ?? `${output.exportPath}/labels`;
    const subsets = new Set<string>();
    // One pass: a class is numbered when first seen, and an item's labels only name classes
    // seen by then, so each label file can be written as its item streams past.
    let batch: YoloItem[] = [];
    const writeBatch = async (): Promise<void> => {
      await Promise.all(
        batch.map((item) => {
          const lines = item.boxes.map((b) => `${classId.get(b.class_name)} ${fmt(b.cx)} ${fmt(b.cy)} ${fmt(b.w)} ${fmt(b.h)}\n`);
          return output.write(`${labels}/${item.subset}/${item.stem}.txt`, lines.join(''));
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
      subsets.add(item.subset);
      batch.push(item);
      if (batch.length >= WRITE_CONCURRENCY) await writeBatch();
    }
    await writeBatch();
    // Ultralytics needs train and val: a missing val (or an export with no items) falls back
    // to train's images; `test` only when there is a test subset.
    const first = subsets.has('train') ? 'train' : ([...subsets].sort()[0] ?? (this.params.extra_params.subsets === 'split' ? 'train' : 'default'));
    const folder = (subset: string) => `images/${subsets.has(subset) ? subset : first}`;
    const dataPath = this.params.extra_params.data_path;
    const yaml = [
      `# YOLO dataset of export ${yamlString(this.params.name)}: images/ and labels/ share file stems.`,
      ...(dataPath !== undefined ? [`path: ${yamlString(dataPath)}`] : ['# no path: train and val are relative to the folder of this file']),
      `train: ${yamlString(folder('train'))}`,
      `val: ${yamlString(folder('val'))}`,
      ...(subsets.has('test') ? [`test: ${yamlString('images/test')}`] : []),
      `nc: ${names.length}`,
      names.length ? 'names:' : 'names: {}',
      ...names.map((n, i) => `  ${i}: ${yamlString(n)}`),
      '',
    ].join('\n');
    await output.write(`${output.exportPath}/data.yaml`, yaml);
    const where = subsets.size === 1 ? `${[...subsets][0]}/` : '<subset>/';
    return {
      labels: `labels/${where}`,
      data_yaml: 'data.yaml',
      subsets: [...subsets].sort(),
      ...(this.params.save_original_file ? { origin_files: `images/${where}` } : {}),
    };
  }
}

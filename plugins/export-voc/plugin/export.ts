import {
  BaseExporter,
  clippedBoxes,
  requireImageSize,
  subsetOfSplit,
  SubsetsParam,
  z,
  xmlDocument,
  type ErrorFileEntry,
  type ExportFinalizeInput,
  type ExportItem,
  type ExportOutput,
  type ExportResultItem,
  type ExportStatus,
  type XmlElement,
} from '@synapse/sdk';

interface VocObject {
  name: string;
  pose: string;
  truncated: 0 | 1;
  difficult: 0 | 1;
  /** The VOC devkit's pixel indices: 1-based, inclusive. */
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

interface VocItem {
  stem: string;
  subset: string;
  filename: string;
  width: number;
  height: number;
  depth: number;
  objects: VocObject[];
}

/** What a page keeps per item for finalize: the image-set line and the classes used. */
interface VocCollected {
  stem: string;
  subset: string;
  classes: string[];
}

/** `subsets: "split"`: an image set per data unit split (`ImageSets/Main/train.txt`, ...). */
const Extra = z.strictObject({ subsets: SubsetsParam });

const flag = (v: unknown): 0 | 1 => (v === true || v === 1 || v === '1' ? 1 : 0);

/** A class name labelmap.txt can hold: `name:color:parts:actions`, stripped, `#` a comment. */
const labelmapSafe = (name: string): boolean => !name.includes(':') && !/[\r\n]/.test(name) && name.trim() === name && !name.startsWith('#');

/**
 * Pascal VOC detection annotations in the devkit's layout, which datumaro's `voc` importer
 * detects: `Annotations/<stem>.xml`, `ImageSets/Main/<subset>.txt`, `JPEGImages/` (with
 * `save_original_file`), and the classes in `labelmap.txt` and `dataset_meta.json`.
 *
 * Boxes follow the one border policy (sdk/export-boxes.ts: clipped, empty ones dropped) and are
 * written in the devkit's integer convention: pixels are numbered from 1 and both corners are
 * inclusive, so a box with edges x0..x1 (pixel edges, 0 = the image's left edge) is `xmin =
 * round(x0) + 1`, `xmax = round(x1)` (at least xmin: a box thinner than a pixel keeps the one
 * pixel it rounds to). `truncated`/`difficult` come from boolean attributes of those names,
 * else a box cut by or touching the image border is truncated; `pose` from a `pose` attribute,
 * else "Unspecified". The XML is built with sdk/xml.ts: well-formed by construction, and a
 * text XML cannot hold fails the item with the reason.
 */
export class VocExporter extends BaseExporter.withExtraParams(Extra) {
  /** The hooks keep no state between items: 16 of a page's items are written at once. */
  static override itemConcurrency = 16;

  override subset(item: ExportItem): string {
    return this.params.extra_params.subsets === 'split' ? subsetOfSplit(item) : 'default';
  }

  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json`, annotations_output_path: `${uniqueExportPath}/Annotations` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/JPEGImages`;
    return paths;
  }

  override convertData(item: ExportItem): VocItem {
    const size = requireImageSize(item);
    const meta = item.dataUnit.meta;
    const depth = typeof meta.depth === 'number' ? meta.depth : typeof meta.channels === 'number' ? meta.channels : 3;
    const objects: VocObject[] = clippedBoxes(item, size).map((b) => {
      const xmin = Math.round(b.x0) + 1;
      const ymin = Math.round(b.y0) + 1;
      const touches = b.clipped || b.x0 <= 0 || b.y0 <= 0 || b.x1 >= size.width || b.y1 >= size.height;
      return {
        name: b.class_name,
        pose: typeof b.attributes.pose === 'string' && b.attributes.pose ? b.attributes.pose : 'Unspecified',
        truncated: 'truncated' in b.attributes ? flag(b.attributes.truncated) : touches ? 1 : 0,
        difficult: flag(b.attributes.difficult),
        xmin,
        ymin,
        xmax: Math.max(xmin, Math.round(b.x1)),
        ymax: Math.max(ymin, Math.round(b.y1)),
      };
    });
    const stem = this.itemStem(item);
    return {
      stem,
      subset: this.subset(item),
      filename: this.originalCopies(item)[0]?.copyName ?? stem,
      width: size.width,
      height: size.height,
      depth,
      objects,
    };
  }

  toXml(item: VocItem): string {
    const t = (name: string, text: string | number): XmlElement => ({ name, text });
    const root: XmlElement = {
      name: 'annotation',
      children: [
        t('folder', this.params.name),
        t('filename', item.filename),
        { name: 'size', children: [t('width', item.width), t('height', item.height), t('depth', item.depth)] },
        t('segmented', 0),
        ...item.objects.map((o): XmlElement => ({
          name: 'object',
          children: [
            t('name', o.name),
            t('pose', o.pose),
            t('truncated', o.truncated),
            t('difficult', o.difficult),
            { name: 'bndbox', children: [t('xmin', o.xmin), t('ymin', o.ymin), t('xmax', o.xmax), t('ymax', o.ymax)] },
          ],
        })),
      ],
    };
    return xmlDocument(root);
  }

  /** `Annotations/<stem>.xml`, then the default `json/<stem>.json`; the XML first, so an XML that cannot be written fails the item before anything is on disk. */
  override async saveAsJson(result: ExportResultItem, output: ExportOutput, errorFileList: ErrorFileEntry[]): Promise<ExportStatus> {
    const item = result.data as VocItem;
    const xml = this.toXml(item);
    await output.write(`${output.paths.annotations_output_path ?? `${output.exportPath}/Annotations`}/${item.stem}.xml`, xml);
    return super.saveAsJson(result, output, errorFileList);
  }

  override collect(result: ExportResultItem): VocCollected {
    const item = result.data as VocItem;
    return { stem: item.stem, subset: item.subset, classes: [...new Set(item.objects.map((o) => o.name))] };
  }

  override async finalize({ collected, classes }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const names = classes.map((c) => c.name);
    const known = new Set(names);
    // First pass: the subsets and the classes used; then one image set per subset.
    const subsets = new Set<string>();
    for await (const item of collected() as AsyncIterable<VocCollected>) {
      subsets.add(item.subset);
      for (const name of item.classes) {
        if (!known.has(name)) {
          known.add(name);
          names.push(name);
        }
      }
    }
    if (subsets.size === 0) subsets.add(this.params.extra_params.subsets === 'split' ? 'train' : 'default');
    const imageSets: string[] = [];
    for (const subset of [...subsets].sort()) {
      async function* lines(): AsyncGenerator<string> {
        let chunk = '';
        for await (const item of collected() as AsyncIterable<VocCollected>) {
          if (item.subset !== subset) continue;
          chunk += `${item.stem}\n`;
          if (chunk.length >= 64 * 1024) {
            yield chunk;
            chunk = '';
          }
        }
        yield chunk;
      }
      const key = `ImageSets/Main/${subset}.txt`;
      await output.writeStream(`${output.exportPath}/${key}`, lines());
      imageSets.push(key);
    }
    const key = imageSets.length === 1 ? imageSets[0] : imageSets;
    const files: Record<string, unknown> = { annotations: 'Annotations/', image_set: key, dataset_meta: 'dataset_meta.json' };
    await output.write(`${output.exportPath}/dataset_meta.json`, JSON.stringify({ labels: names }, null, 2));
    // labelmap.txt cannot hold a name with ':' (its field separator), a line break, a leading
    // '#' or surrounding spaces; dataset_meta.json (read first by datumaro) holds every name.
    const unsafe = names.filter((n) => !labelmapSafe(n));
    if (unsafe.length === 0) {
      await output.write(`${output.exportPath}/labelmap.txt`, ['# label:color_rgb:parts:actions', ...names.map((n) => `${n}:::`), ''].join('\n'));
      files.labelmap = 'labelmap.txt';
    } else {
      files.labelmap_omitted = `class names labelmap.txt cannot hold: ${unsafe.map((n) => JSON.stringify(n)).join(', ')}`;
    }
    return { ...files, ...(this.params.save_original_file ? { origin_files: 'JPEGImages/' } : {}) };
  }
}

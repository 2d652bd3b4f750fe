import {
  BaseExporter,
  type ErrorFileEntry,
  type ExportFinalizeInput,
  type ExportItem,
  type ExportOutput,
  type ExportResultItem,
  type ExportStatus,
} from '@synapse/sdk';

interface VocObject {
  name: string;
  pose: string;
  truncated: 0 | 1;
  difficult: 0 | 1;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

interface VocItem {
  stem: string;
  filename: string;
  width: number | null;
  height: number | null;
  depth: number;
  objects: VocObject[];
}

interface Doc {
  size?: { width: number; height: number };
  annotations?: { type: string; class_name: string; x?: number; y?: number; width?: number; height?: number; attributes?: Record<string, unknown> }[];
}

/** Text and attribute values for XML: the five predefined entities. */
function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

const flag = (v: unknown): 0 | 1 => (v === true || v === 1 || v === '1' ? 1 : 0);

/**
 * Pascal VOC detection annotations. Boxes keep their pixel edges: `xmin = x`, `xmax = x +
 * width` (and likewise for y). `truncated`/`difficult` come from boolean attributes of those
 * names, else a box cut by the image border is truncated; `pose` from a `pose` attribute, else
 * "Unspecified". Each item's XML is written by its page (saveAsJson, beside the default JSON);
 * finalize writes the image set.
 */
export class VocExporter extends BaseExporter {
  override setupOutputDirectories(uniqueExportPath: string, saveOriginalFile: boolean): Record<string, string> {
    const paths: Record<string, string> = { json_output_path: `${uniqueExportPath}/json`, annotations_output_path: `${uniqueExportPath}/Annotations` };
    if (saveOriginalFile) paths.origin_files_output_path = `${uniqueExportPath}/JPEGImages`;
    return paths;
  }

  override convertData(item: ExportItem): VocItem {
    const doc = (item.data ?? {}) as Doc;
    const meta = item.dataUnit.meta;
    const width = doc.size?.width ?? (typeof meta.width === 'number' ? meta.width : null);
    const height = doc.size?.height ?? (typeof meta.height === 'number' ? meta.height : null);
    const depth = typeof meta.depth === 'number' ? meta.depth : typeof meta.channels === 'number' ? meta.channels : 3;
    const objects: VocObject[] = [];
    for (const a of doc.annotations ?? []) {
      if (a.type !== 'bbox') continue;
      const attrs = a.attributes ?? {};
      const xmin = a.x ?? 0;
      const ymin = a.y ?? 0;
      const xmax = xmin + (a.width ?? 0);
      const ymax = ymin + (a.height ?? 0);
      const cut = xmin <= 0 || ymin <= 0 || (width !== null && xmax >= width) || (height !== null && ymax >= height);
      objects.push({
        name: a.class_name,
        pose: typeof attrs.pose === 'string' && attrs.pose ? attrs.pose : 'Unspecified',
        truncated: 'truncated' in attrs ? flag(attrs.truncated) : cut ? 1 : 0,
        difficult: flag(attrs.difficult),
        xmin,
        ymin,
        xmax,
        ymax,
      });
    }
    const stem = this.itemStem({ id: item.id, files: item.files, data: null });
    return { stem, filename: this.getOriginalFileName(item.files) ?? stem, width, height, depth, objects };
  }

  toXml(item: VocItem): string {
    const e = xmlEscape;
    const lines = [
      '<?xml version="1.0" encoding="utf-8"?>',
      '<annotation>',
      `  <folder>${e(this.params.name)}</folder>`,
      `  <filename>${e(item.filename)}</filename>`,
      '  <size>',
      `    <width>${item.width ?? 0}</width>`,
      `    <height>${item.height ?? 0}</height>`,
      `    <depth>${item.depth}</depth>`,
      '  </size>',
      '  <segmented>0</segmented>',
    ];
    for (const o of item.objects) {
      lines.push(
        '  <object>',
        `    <name>${e(o.name)}</name>`,
        `    <pose>${e(o.pose)}</pose>`,
        `    <truncated>${o.truncated}</truncated>`,
        `    <difficult>${o.difficult}</difficult>`,
        '    <bndbox>',
        `      <xmin>${o.xmin}</xmin>`,
        `      <ymin>${o.ymin}</ymin>`,
        `      <xmax>${o.xmax}</xmax>`,
        `      <ymax>${o.ymax}</ymax>`,
        '    </bndbox>',
        '  </object>',
      );
    }
    lines.push('</annotation>', '');
    return lines.join('\n');
  }

  /** The default `json/<stem>.json`, then `Annotations/<stem>.xml`. */
  override async saveAsJson(result: ExportResultItem, output: ExportOutput, errorFileList: ErrorFileEntry[]): Promise<ExportStatus> {
    const status = await super.saveAsJson(result, output, errorFileList);
    if (status !== 'success') return status;
    const item = result.data as VocItem;
    const fileName = `${item.stem}.xml`;
    try {
      await output.write(`${output.paths.annotations_output_path ?? `${output.exportPath}/Annotations`}/${fileName}`, this.toXml(item));
      return 'success';
    } catch (err) {
      errorFileList.push([fileName, err instanceof Error ? err.message : String(err)]);
      return 'failed';
    }
  }

  override collect(result: ExportResultItem): string {
    return (result.data as VocItem).stem;
  }

  override async finalize({ collected }: ExportFinalizeInput, output: ExportOutput): Promise<Record<string, unknown>> {
    const key = 'ImageSets/Main/default.txt';
    async function* lines(): AsyncGenerator<string> {
      let chunk = '';
      for await (const stem of collected() as AsyncIterable<string>) {
        chunk += `${stem}\n`;
        if (chunk.length >= 64 * 1024) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
    }
    await output.writeStream(`${output.exportPath}/${key}`, lines());
    return { annotations: 'Annotations/', image_set: key, ...(this.params.save_original_file ? { origin_files: 'JPEGImages/' } : {}) };
  }
}

/**
 * Annotation files to_task reads, each parsed and checked into the platform's annotation
 * document (boxes in pixels, top-left origin). Every error names the file and where in it:
 *
 * - `synapse`: the platform's own annotation JSON (sdk/annotations.ts), as is.
 * - `coco`: COCO instances JSON (`images`, `annotations`, `categories`; `bbox` is
 *   `[x, y, width, height]` in pixels). A file may hold many images: the one whose
 *   `file_name` has the stem of the task's image (or the data unit's key) is taken; a file
 *   with a single image is that image.
 * - `yolo`: one line per box, `class cx cy w h`, centre and size relative to the image
 *   (0..1); classes are indices into `classes` (obj.names order), the image size comes from
 *   the task's image.
 * - `voc`: Pascal VOC XML (`<size>`, `<object><name>`, `<bndbox>` xmin ymin xmax ymax);
 *   xmax - xmin is the width, as datumaro and most tools write it.
 */
import { parseAnnotations, type AnnotationDocument } from '@synapse/sdk';

export const FORMATS = ['auto', 'synapse', 'coco', 'yolo', 'voc'] as const;
export type Format = (typeof FORMATS)[number];

export interface ParseContext {
  /** The file's key, for messages. */
  file: string;
  /** The task image's file stem (`img0` of `images/img0.png`) and the data unit's key. */
  stems: string[];
  /** Image size in pixels, when known (YOLO needs it). */
  size?: { width: number; height: number };
  /** YOLO class names by index. */
  classes?: readonly string[];
}

/** Which format a file is, from its name and, for JSON, its top-level keys. */
export function detectFormat(key: string, body: Buffer): Exclude<Format, 'auto'> {
  const lower = key.toLowerCase();
  if (lower.endsWith('.xml')) return 'voc';
  if (lower.endsWith('.txt')) return 'yolo';
  if (lower.endsWith('.json')) {
    const json = parseJson(body, key);
    return json && typeof json === 'object' && 'images' in json && 'categories' in json ? 'coco' : 'synapse';
  }
  throw new Error(`${key}: cannot tell the annotation format from the name (expected .json, .xml or .txt); set pre_processor`);
}

export function parseAnnotationFile(format: Exclude<Format, 'auto'>, body: Buffer, ctx: ParseContext): AnnotationDocument {
  switch (format) {
    case 'synapse':
      return parseAnnotations(parseJson(body, ctx.file), `${ctx.file}: not a valid annotation document`);
    case 'coco':
      return parseCoco(parseJson(body, ctx.file), ctx);
    case 'yolo':
      return parseYolo(body.toString('utf8'), ctx);
    case 'voc':
      return parseVoc(body.toString('utf8'), ctx);
  }
}

function parseJson(body: Buffer, file: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function stemOf(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? name;
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(0, dot) : last;
}

function box(id: string, className: string, x: number, y: number, width: number, height: number) {
  return { id, type: 'bbox' as const, class_name: className, x, y, width, height, attributes: {} };
}

function finite(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${where}: expected a number, got ${JSON.stringify(value)}`);
  return value;
}

function parseCoco(json: unknown, ctx: ParseContext): AnnotationDocument {
  const f = ctx.file;
  if (!json || typeof json !== 'object') throw new Error(`${f}: a COCO file is a JSON object`);
  const coco = json as { images?: unknown; annotations?: unknown; categories?: unknown };
  if (!Array.isArray(coco.images)) throw new Error(`${f}: "images" must be a list`);
  if (!Array.isArray(coco.annotations)) throw new Error(`${f}: "annotations" must be a list`);
  if (!Array.isArray(coco.categories)) throw new Error(`${f}: "categories" must be a list`);
  const categories = new Map<number, string>();
  coco.categories.forEach((c: { id?: unknown; name?: unknown }, i) => {
    if (typeof c?.name !== 'string') throw new Error(`${f}: categories.${i}.name must be text`);
    categories.set(finite(c.id, `${f}: categories.${i}.id`), c.name);
  });
  const images = coco.images as { id?: unknown; file_name?: unknown; width?: unknown; height?: unknown }[];
  const image = images.length === 1 ? images[0] : images.find((im) => typeof im.file_name === 'string' && ctx.stems.includes(stemOf(im.file_name)));
  if (!image) throw new Error(`${f}: no image with file name ${ctx.stems.map((s) => `"${s}.*"`).join(' or ')} among its ${images.length} images`);
  const imageId = finite(image.id, `${f}: image id`);
  const size = { width: finite(image.width, `${f}: image ${imageId} width`), height: finite(image.height, `${f}: image ${imageId} height`) };
  const annotations = (coco.annotations as { id?: unknown; image_id?: unknown; category_id?: unknown; bbox?: unknown }[])
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => a.image_id === imageId)
    .map(({ a, i }, n) => {
      const at = `${f}: annotations.${i}`;
      const className = categories.get(finite(a.category_id, `${at}.category_id`));
      if (className === undefined) throw new Error(`${at}.category_id: no category ${String(a.category_id)}`);
      if (!Array.isArray(a.bbox) || a.bbox.length !== 4) throw new Error(`${at}.bbox: expected [x, y, width, height]`);
      const [x, y, w, h] = (a.bbox as unknown[]).map((v, k) => finite(v, `${at}.bbox.${k}`)) as [number, number, number, number];
      return box(`coco-${typeof a.id === 'number' ? a.id : n}`, className, x, y, w, h);
    });
  return parseAnnotations({ data_type: 'image', size, annotations }, `${f}: the boxes do not make a valid document`);
}

function parseYolo(text: string, ctx: ParseContext): AnnotationDocument {
  const f = ctx.file;
  if (!ctx.size) throw new Error(`${f}: YOLO boxes are relative; the image size is unknown (no readable PNG image for the task)`);
  if (!ctx.classes?.length) throw new Error(`${f}: YOLO classes are indices; set pre_processor_params.classes (obj.names order)`);
  const { width: W, height: H } = ctx.size;
  const annotations = text
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line !== '' && !line.startsWith('#'))
    .map(({ line, n }) => {
      const parts = line.split(/\s+/);
      if (parts.length !== 5) throw new Error(`${f}:${n}: expected "class cx cy w h", got ${parts.length} values`);
      const [cls, cx, cy, w, h] = parts.map(Number) as [number, number, number, number, number];
      if (!Number.isInteger(cls) || cls < 0) throw new Error(`${f}:${n}: class "${parts[0]}" is not an index`);
      const className = ctx.classes?.[cls];
      if (className === undefined) throw new Error(`${f}:${n}: class index ${cls} is out of range (${ctx.classes?.length} classes)`);
      for (const [v, name] of [
        [cx, 'cx'],
        [cy, 'cy'],
        [w, 'w'],
        [h, 'h'],
      ] as const) {
        if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`${f}:${n}: ${name} must be a number from 0 to 1`);
      }
      // Rounded to 1/1000 px: YOLO's six decimals carry no more.
      const r = (v: number) => Math.round(v * 1000) / 1000;
      return box(`yolo-${n}`, className, r((cx - w / 2) * W), r((cy - h / 2) * H), r(w * W), r(h * H));
    });
  return parseAnnotations({ data_type: 'image', size: ctx.size, annotations }, `${f}: the boxes do not make a valid document`);
}

/** The text of each `<tag>...</tag>` directly findable in `xml` (VOC's flat structure needs no more). */
function elements(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] ?? '');
}

function text(xml: string, tag: string, where: string): string {
  const found = elements(xml, tag)[0];
  if (found === undefined) throw new Error(`${where}: missing <${tag}>`);
  return found
    .trim()
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function number(xml: string, tag: string, where: string): number {
  const raw = text(xml, tag, where);
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v)) throw new Error(`${where}: <${tag}> "${raw}" is not a number`);
  return v;
}

function parseVoc(xml: string, ctx: ParseContext): AnnotationDocument {
  const f = ctx.file;
  if (!/<annotation[\s>]/.test(xml)) throw new Error(`${f}: not a Pascal VOC file (no <annotation>)`);
  const sizeXml = elements(xml, 'size')[0];
  const size = sizeXml !== undefined ? { width: number(sizeXml, 'width', `${f}: <size>`), height: number(sizeXml, 'height', `${f}: <size>`) } : ctx.size;
  const annotations = elements(xml, 'object').map((obj, i) => {
    const at = `${f}: object ${i + 1}`;
    const name = text(obj, 'name', at);
    const bnd = elements(obj, 'bndbox')[0];
    if (bnd === undefined) throw new Error(`${at} ("${name}"): missing <bndbox>`);
    const [xmin, ymin, xmax, ymax] = (['xmin', 'ymin', 'xmax', 'ymax'] as const).map((t) => number(bnd, t, `${at} ("${name}")`)) as [
      number,
      number,
      number,
      number,
    ];
    if (xmax <= xmin || ymax <= ymin) throw new Error(`${at} ("${name}"): an empty box (${xmin},${ymin})-(${xmax},${ymax})`);
    return box(`voc-${i + 1}`, name, xmin, ymin, xmax - xmin, ymax - ymin);
  });
  return parseAnnotations({ data_type: 'image', ...(size ? { size } : {}), annotations }, `${f}: the boxes do not make a valid document`);
}

/** Width and height of a PNG from its header, or undefined when `body` is not a PNG. */
export function pngSize(body: Buffer): { width: number; height: number } | undefined {
  if (body.length < 24 || body.readUInt32BE(0) !== 0x89504e47 || body.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: body.readUInt32BE(16), height: body.readUInt32BE(20) };
}

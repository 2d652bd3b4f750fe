/**
 * The annotation format: one JSON document per data unit, spoken by export, training and
 * auto-labelling alike (and stored as is in assignments and ground-truth versions).
 *
 * ```json
 * {
 *   "version": 1,
 *   "data_type": "image",
 *   "size": { "width": 64, "height": 64 },
 *   "annotations": [
 *     { "id": "a1", "type": "bbox", "class_name": "cat", "x": 10, "y": 12, "width": 30, "height": 20,
 *       "attributes": { "occluded": false } },
 *     { "id": "a2", "type": "classification", "class_name": "indoor" }
 *   ]
 * }
 * ```
 *
 * Coordinates are pixels of the original file, origin top-left; `x`/`y` of a box are its
 * top-left corner. Each annotation has an `id` unique in its document, a `class_name` and
 * free-form `attributes`; `confidence` (0..1) marks machine-made ones. Image shapes:
 * `classification`, `bbox`, `polygon`, `polyline`, `keypoints`. The other data types of the
 * platform: `text_span` (text, character offsets), `segment` (audio/video, seconds),
 * `cuboid` (pcd, metres) and, for video, any image shape with a `frame` number.
 */
import { z } from 'zod';
import { zodProblems } from '../contracts/problems.js';
import { InvalidInputError, type Problem } from '../contracts/errors.js';

export const ANNOTATION_FORMAT_VERSION = 1;

export const DATA_TYPES = ['image', 'video', 'text', 'pcd', 'audio'] as const;
export type DataType = (typeof DATA_TYPES)[number];

const coordinate = z.number().finite();
const Point = z.tuple([coordinate, coordinate]);
const Vector3 = z.tuple([coordinate, coordinate, coordinate]);

/** Attribute values: text, a number, a flag, several choices, or nothing. */
export const AttributeValueSchema = z.union([z.string(), z.number().finite(), z.boolean(), z.array(z.string()), z.null()]);
export const AttributesSchema = z.record(z.string().min(1), AttributeValueSchema);

const base = {
  /** Unique inside the document; stable across edits of the same object. */
  id: z.string().min(1).max(200),
  class_name: z.string().min(1).max(200),
  attributes: AttributesSchema.default({}),
  /** Set by models (auto-labelling, inference); absent for people's annotations. */
  confidence: z.number().min(0).max(1).optional(),
  /** Video: the frame this shape is on. */
  frame: z.number().int().min(0).optional(),
  /** Video: shapes of one object across frames share a track id. */
  track_id: z.string().min(1).optional(),
};

export const ClassificationSchema = z.strictObject({ ...base, type: z.literal('classification') });
export const BoundingBoxSchema = z.strictObject({
  ...base,
  type: z.literal('bbox'),
  x: coordinate,
  y: coordinate,
  width: z.number().finite().positive(),
  height: z.number().finite().positive(),
  /** Degrees clockwise around the box centre. */
  rotation: z.number().finite().optional(),
});
export const PolygonSchema = z.strictObject({ ...base, type: z.literal('polygon'), points: z.array(Point).min(3) });
export const PolylineSchema = z.strictObject({ ...base, type: z.literal('polyline'), points: z.array(Point).min(2) });
export const KeypointsSchema = z.strictObject({
  ...base,
  type: z.literal('keypoints'),
  points: z.array(z.strictObject({ name: z.string().min(1), x: coordinate, y: coordinate, visible: z.boolean().default(true) })).min(1),
});
export const TextSpanSchema = z
  .strictObject({ ...base, type: z.literal('text_span'), start: z.number().int().min(0), end: z.number().int().min(0) })
  .refine((s) => s.end > s.start, { message: 'end must be greater than start', path: ['end'] });
export const SegmentSchema = z
  .strictObject({ ...base, type: z.literal('segment'), start_seconds: z.number().finite().min(0), end_seconds: z.number().finite().min(0) })
  .refine((s) => s.end_seconds > s.start_seconds, { message: 'end_seconds must be greater than start_seconds', path: ['end_seconds'] });
export const CuboidSchema = z.strictObject({
  ...base,
  type: z.literal('cuboid'),
  center: Vector3,
  /** Width, length, height. */
  size: z.tuple([z.number().finite().positive(), z.number().finite().positive(), z.number().finite().positive()]),
  /** Roll, pitch, yaw in radians. */
  rotation: Vector3.default([0, 0, 0]),
});

export const AnnotationSchema = z.discriminatedUnion('type', [
  ClassificationSchema,
  BoundingBoxSchema,
  PolygonSchema,
  PolylineSchema,
  KeypointsSchema,
  TextSpanSchema,
  SegmentSchema,
  CuboidSchema,
]);
export type Annotation = z.infer<typeof AnnotationSchema>;
export type AnnotationType = Annotation['type'];
export const ANNOTATION_TYPES = [
  'classification',
  'bbox',
  'polygon',
  'polyline',
  'keypoints',
  'text_span',
  'segment',
  'cuboid',
] as const satisfies readonly AnnotationType[];

/** Which annotation types each data type may carry. */
export const TYPES_BY_DATA_TYPE: Record<DataType, readonly AnnotationType[]> = {
  image: ['classification', 'bbox', 'polygon', 'polyline', 'keypoints'],
  video: ['classification', 'bbox', 'polygon', 'polyline', 'keypoints', 'segment'],
  text: ['classification', 'text_span'],
  pcd: ['classification', 'cuboid'],
  audio: ['classification', 'segment'],
};

export const AnnotationDocumentSchema = z
  .strictObject({
    version: z.literal(ANNOTATION_FORMAT_VERSION).default(ANNOTATION_FORMAT_VERSION),
    data_type: z.enum(DATA_TYPES),
    /** Image and video: the size of the original in pixels. */
    size: z.strictObject({ width: z.number().int().positive(), height: z.number().int().positive() }).optional(),
    annotations: z.array(AnnotationSchema),
  })
  .superRefine((doc, ctx) => {
    const seen = new Map<string, number>();
    doc.annotations.forEach((a, i) => {
      const first = seen.get(a.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['annotations', i, 'id'], message: `duplicate id "${a.id}" (also annotations.${first})` });
      else seen.set(a.id, i);
      if (!TYPES_BY_DATA_TYPE[doc.data_type].includes(a.type)) {
        ctx.addIssue({ code: 'custom', path: ['annotations', i, 'type'], message: `a ${doc.data_type} cannot carry "${a.type}" annotations` });
      }
      if (a.frame !== undefined && doc.data_type !== 'video') {
        ctx.addIssue({ code: 'custom', path: ['annotations', i, 'frame'], message: 'frame is only for video' });
      }
    });
  });
export type AnnotationDocument = z.infer<typeof AnnotationDocumentSchema>;
/** What a writer may leave out (version, empty attributes). */
export type AnnotationDocumentInput = z.input<typeof AnnotationDocumentSchema>;

/** One attribute an annotation class may carry. */
export const AttributeDefSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['text', 'number', 'boolean', 'select', 'multiselect']),
  options: z.array(z.string()).optional(),
  required: z.boolean().default(false),
});
export type AttributeDef = z.infer<typeof AttributeDefSchema>;

/** A class a project annotates: its name, the tool (annotation type) and its attributes. */
export const AnnotationClassSchema = z.strictObject({
  name: z.string().min(1).max(200),
  type: z.enum(ANNOTATION_TYPES),
  attributes: z.array(AttributeDefSchema).default([]),
});
export type AnnotationClass = z.infer<typeof AnnotationClassSchema>;

/** Validates an annotation document; InvalidInputError lists every problem with its path. */
export function parseAnnotations(input: unknown, subject = 'malformed annotations'): AnnotationDocument {
  const parsed = AnnotationDocumentSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(subject, zodProblems(parsed.error));
  return parsed.data;
}

/**
 * Problems of a (valid) document against a project's classes: unknown classes, a class
 * used with another type than its own, undeclared or mistyped attributes, missing required ones.
 */
export function classProblems(doc: AnnotationDocument, classes: readonly AnnotationClass[]): Problem[] {
  const byName = new Map(classes.map((c) => [c.name, c]));
  const problems: Problem[] = [];
  doc.annotations.forEach((a, i) => {
    const at = `annotations.${i}`;
    const cls = byName.get(a.class_name);
    if (!cls) {
      problems.push({
        path: `${at}.class_name`,
        message: `unknown class "${a.class_name}" (the project has ${[...byName.keys()].map((n) => `"${n}"`).join(', ') || 'none'})`,
      });
      return;
    }
    if (cls.type !== a.type) problems.push({ path: `${at}.type`, message: `class "${cls.name}" is annotated as "${cls.type}", not "${a.type}"` });
    const defs = new Map(cls.attributes.map((d) => [d.name, d]));
    for (const [name, value] of Object.entries(a.attributes)) {
      const def = defs.get(name);
      if (!def) {
        problems.push({ path: `${at}.attributes.${name}`, message: `class "${cls.name}" has no attribute "${name}"` });
        continue;
      }
      const why = attributeProblem(def, value);
      if (why) problems.push({ path: `${at}.attributes.${name}`, message: why });
    }
    for (const def of cls.attributes) {
      if (def.required && (a.attributes[def.name] === undefined || a.attributes[def.name] === null)) {
        problems.push({ path: `${at}.attributes.${def.name}`, message: `required by class "${cls.name}"` });
      }
    }
  });
  return problems;
}

function attributeProblem(def: AttributeDef, value: z.infer<typeof AttributeValueSchema>): string | undefined {
  if (value === null) return undefined;
  switch (def.type) {
    case 'text':
      return typeof value === 'string' ? undefined : 'must be text';
    case 'number':
      return typeof value === 'number' ? undefined : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'select':
      if (typeof value !== 'string') return 'must be one of the options';
      return !def.options || def.options.includes(value) ? undefined : `"${value}" is not one of ${def.options.join(', ')}`;
    case 'multiselect': {
      if (!Array.isArray(value)) return 'must be a list of options';
      const bad = value.filter((v) => def.options && !def.options.includes(v));
      return bad.length ? `${bad.map((v) => `"${v}"`).join(', ')} not among ${def.options?.join(', ')}` : undefined;
    }
  }
}

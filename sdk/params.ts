/** Param schemas the category architectures share (export, upload). */
import { z } from 'zod';

/** A platform record by id or by name (storage, data collection, project). */
export const RecordRef = z.union([z.number().int().positive(), z.string().min(1)]);

/** A run's output name that becomes one folder or key segment (an export's or an upload's `name`). */
export const PathSegmentName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^/\\\0]+$/, 'a name is one path segment: no "/", "\\" or NUL')
  .refine((n) => n !== '.' && n !== '..', 'a name cannot be "." or ".."');

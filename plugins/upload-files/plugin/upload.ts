import { BaseUploader, z, type UploadUnit } from '@synapse/sdk';

/**
 * The default uploader: every hook is BaseUploader's, except that `extra_params.meta` (an
 * object) is added to every data unit's metadata, under the Excel row's values.
 */
const Extra = z.strictObject({
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

export class Uploader extends BaseUploader.withExtraParams(Extra) {
  override processFiles(units: UploadUnit[]): UploadUnit[] {
    const extra = this.params.extra_params.meta;
    if (Object.keys(extra).length === 0) return units;
    return units.map((u) => ({ ...u, meta: { ...extra, ...u.meta } }));
  }
}

import { BaseExporter, type ExportItem } from '@synapse/sdk';

/**
 * The default exporter: each item's annotations, with the data unit they belong to, as
 * `json/<stem of the original file>.json`. Every hook is BaseExporter's except convertData.
 */
export class Exporter extends BaseExporter {
  /** The hooks keep no state between items: 16 of a page's items are written at once. */
  static override itemConcurrency = 16;

  override convertData(item: ExportItem) {
    return {
      id: item.id,
      target: item.target,
      data_unit: { id: item.dataUnit.id, unique_key: item.dataUnit.uniqueKey, meta: item.dataUnit.meta },
      files: item.files,
      ...item.extra,
      annotations: item.data,
    };
  }
}

/**
 * The export run shape: an `export` plugin whose action is a BaseExporter runs as the export
 * workflow (prepare, pages, finalize; docs/export.md). Its params are the seed's export
 * params; the plugin's own schema checks `extra_params`.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { isExporterClass, parseExportParams } from '../../sdk/exporter.js';
import { defineRunShape } from '../run-shape.js';

export const exportShape = defineRunShape({
  name: 'export',
  matches: (action) => action.plugin.config.category === 'export' && isExporterClass(action.cls),
  parseParams: (action, raw) =>
    parseExportParams(action.cls as unknown as Parameters<typeof parseExportParams>[0], raw, `invalid params for ${action.plugin.config.code} ${action.name}`),
  workflow: WORKFLOW_TYPES.export,
});

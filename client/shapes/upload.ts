/**
 * The upload run shape: an `upload` plugin whose action is a BaseUploader runs as the upload
 * workflow (discover, batches, data units, finalize; docs/upload.md). Its params are the
 * seed's upload params; relative paths are taken from the caller's directory.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { isUploaderClass, parseUploadParams } from '../../sdk/uploader.js';
import { defineRunShape } from '../run-shape.js';

export const uploadShape = defineRunShape({
  name: 'upload',
  matches: (action) => action.plugin.config.category === 'upload' && isUploaderClass(action.cls),
  parseParams: (action, raw) =>
    parseUploadParams(
      action.cls as unknown as Parameters<typeof parseUploadParams>[0],
      raw,
      `invalid params for ${action.plugin.config.code} ${action.name}`,
      process.cwd(),
    ),
  workflow: WORKFLOW_TYPES.upload,
});

/**
 * The upload run shape: an `upload` plugin whose action is a BaseUploader runs as the upload
 * workflow (discover, batches, data units, finalize; docs/upload.md). Its params are the
 * seed's upload params. From a local caller (the CLI) relative paths are taken from the
 * caller's directory; from the gateway (`edge.localRoots` set) nothing is relative and every
 * source must lie under a declared upload root (client/input-checks.ts). Either way a NUL or a
 * newline in a path is a params error before the run exists.
 */
import { ParamsError } from '../../contracts/errors.js';
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { isUploaderClass, parseUploadParams } from '../../sdk/uploader.js';
import { checkUploadSources } from '../input-checks.js';
import { defineRunShape } from '../run-shape.js';
import { uploadPreflight } from './upload-preflight.js';

export const uploadShape = defineRunShape({
  name: 'upload',
  matches: (action) => action.plugin.config.category === 'upload' && isUploaderClass(action.cls),
  parseParams: (action, raw, edge) => {
    const subject = `invalid params for ${action.plugin.config.code} ${action.name}`;
    const roots = edge?.localRoots;
    const params = parseUploadParams(
      action.cls as unknown as Parameters<typeof parseUploadParams>[0],
      raw,
      subject,
      roots === undefined ? process.cwd() : undefined,
    );
    const problems = checkUploadSources(params, roots);
    if (problems.length) throw new ParamsError(subject, problems);
    return params;
  },
  workflow: WORKFLOW_TYPES.upload,
  preflight: uploadPreflight,
});

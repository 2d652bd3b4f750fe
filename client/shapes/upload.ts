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
import type { UploadParams } from '../../sdk/uploader.js';
import { checkUploadSources } from '../input-checks.js';
import { defineRunShape } from '../run-shape.js';
import { uploadPreflight } from './upload-preflight.js';

export const uploadShape = defineRunShape<UploadParams>({
  name: 'upload',
  // Relative paths were resolved from the caller's folder by the parser when the caller is local
  // (run-start.ts passes its folder as the parse's baseDir only without upload roots).
  parser: 'upload',
  checkParams: (action, params, edge) => {
    const problems = checkUploadSources(params, edge.localRoots);
    if (problems.length) throw new ParamsError(`invalid params for ${action.plugin.config.code} ${action.name}`, problems);
    return params;
  },
  workflow: WORKFLOW_TYPES.upload,
  preflight: uploadPreflight,
});

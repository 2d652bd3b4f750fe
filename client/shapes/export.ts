/**
 * The export run shape: an `export` plugin whose action is a BaseExporter runs as the export
 * workflow (prepare, pages, finalize; docs/export.md). Its params are the seed's export
 * params; the plugin's own schema checks `extra_params`. Before the run starts, the preflight
 * checks what the params refer to (the storage, the project or ground-truth version, a task
 * or assignment filter), so a wrong reference is a params error (exit 2, HTTP 400) and no run;
 * the export `path` is checked as a storage folder (client/input-checks.ts) when params are parsed.
 */
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import { NotFoundError, ParamsError, type Problem } from '../../contracts/errors.js';
import { openDatabase } from '../../platform/db.js';
import { getGroundTruthVersion } from '../../platform/repositories/ground-truth.js';
import { getProject, listTaskIds } from '../../platform/repositories/projects.js';
import { getStorage } from '../../platform/repositories/storages.js';
import type { ExportParams } from '../../sdk/exporter.js';
import { checkExportPath } from '../input-checks.js';
import { defineRunShape, type PreflightContext } from '../run-shape.js';

const subject = (code: string, name: string) => `invalid params for ${code} ${name}`;

export const exportShape = defineRunShape<ExportParams>({
  name: 'export',
  // The export params with the plugin's extra_params (engine/run-params.ts, where the class is).
  parser: 'export',
  checkParams: (action, params) => {
    // A `..`, NUL or newline in the folder is refused here, before the run exists.
    const problems = checkExportPath(params.path);
    if (problems.length) throw new ParamsError(subject(action.plugin.config.code, action.name), problems);
    return params;
  },
  preflight: exportPreflight,
  workflow: WORKFLOW_TYPES.export,
});

/** Every reference of the params, checked at once; all problems named by their params path. */
async function exportPreflight({ action, params: p, settings }: PreflightContext<ExportParams>): Promise<void> {
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    const problems: Problem[] = [];
    const check = async (path: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (err instanceof NotFoundError) problems.push({ path, message: err.message });
        else throw err;
      }
    };
    const id = (key: string) => Number(p.filter[key]);
    await check('storage', () => getStorage(platform.db, p.storage));
    if (p.target === 'ground_truth') {
      await check('filter.ground_truth_dataset_version', () => getGroundTruthVersion(platform.db, id('ground_truth_dataset_version')));
    } else {
      await check('filter.project', () => getProject(platform.db, id('project')));
      const projectId = id('project');
      if (p.target === 'task' && p.filter.assignment !== undefined) {
        const tasks = await listTaskIds(platform.db, { projectId, assignmentId: id('assignment'), limit: 1 });
        if (tasks.length === 0) problems.push({ path: 'filter.assignment', message: `project ${projectId} has no assignment ${id('assignment')}` });
      }
      if (p.target === 'assignment' && p.filter.task !== undefined) {
        // The project's first task at or after the id is that task exactly when it exists.
        const tasks = await listTaskIds(platform.db, { projectId, limit: 1, afterId: id('task') - 1 });
        if (tasks[0] !== id('task')) problems.push({ path: 'filter.task', message: `project ${projectId} has no task ${id('task')}` });
      }
    }
    if (problems.length) throw new ParamsError(subject(action.plugin.config.code, action.name), problems);
  } finally {
    await platform.close();
  }
}

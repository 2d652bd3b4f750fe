/**
 * `synapse plugin create --runtime python` for the annotation categories: a working Python
 * task-page action (runtimes/python/synapse_task_pages.py) per action, each a small real
 * example over the platform through `ctx.platform`, so a new plugin runs as soon as it is made:
 *
 *   pre_annotation/to_task         ToTaskPages: the task's `annotation` file (the platform's JSON) written to it
 *   pre_annotation/pre_annotation  PreAnnotationUnitPages: a task for each data unit without one
 *   data_validation/validation     ValidationTaskPages: a task without boxes fails; a report file in finish
 *   post_annotation               PostAnnotationTaskPages: completed assignments into a ground-truth version
 *
 * smart_tool (auto_label) is served, not paged: its Python form is not built (the scaffold refuses it).
 */

/** The Python task-page actions a scaffold can make, by category. */
export const PYTHON_TASK_PAGE_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  pre_annotation: ['pre_annotation', 'to_task'],
  data_validation: ['validation'],
  post_annotation: ['post_annotation'],
};

export function isPythonTaskPageAction(category: string | undefined, action: string): boolean {
  return category !== undefined && (PYTHON_TASK_PAGE_ACTIONS[category] ?? []).includes(action);
}

interface PythonTemplate {
  name: string;
  action: string;
  cls: string;
}

/** The params of each action in config.yaml (JSON Schema, added to the base params and checked before a run starts). */
export function pythonTaskPagesParams(action: string): string {
  const own: Record<string, string> = {
    to_task: 'specification: { type: string, minLength: 1, default: annotation }',
    validation: 'min_boxes: { type: integer, minimum: 0, default: 1 }',
    post_annotation: 'dataset: { type: string, minLength: 1, default: reviewed }',
  };
  const line = own[action];
  if (!line) return '';
  return `    # This action's own params (JSON Schema), besides project and task_filters: unknown keys
    # and bad values are refused before a run starts; the code reads them as ctx.params.
    params:
      type: object
      properties:
        ${line}
`;
}

/** How to run it, for the README: task pages run on a worker (no --debug for this shape yet). */
export function pythonTaskPagesRunLine(action: string): string {
  const params = action === 'pre_annotation' ? '{"project": 1, "data_unit_filters": {}}' : '{"project": 1, "task_filters": {"status": "pending"}}';
  return `synapse plugin run ${action} '${params}' --plugin .   # task pages on a worker (docs/annotation.md)`;
}

const HEADER = (t: PythonTemplate, what: string) => `"""${t.name}: ${what}

Run by the engine's Python runtime as task pages (runtimes/python/synapse_task_pages.py,
docs/annotation.md): the engine pages through the project's items and calls the hook per item;
a hook that raises fails that item only and the run goes on. \`ctx.platform\` reads and writes
the platform (get_project, list_tasks / list_assignments / list_data_units with the seed's
filters, assignments_of, read_file, write_file, write_annotations, create_tasks,
write_ground_truth, write_results, predict); records are dicts as in the TypeScript SDK.
Params: \`project\` and \`task_filters\` (to_task, validation, post_annotation) or
\`data_unit_filters\` (pre_annotation), and the action's own under \`params\` in config.yaml,
all checked before the run starts.
"""
`;

/** The module `plugin/<action>.py` of a Python task-page action. */
export function pythonTaskPagesModule(t: PythonTemplate): string {
  switch (t.action) {
    case 'to_task':
      return `${HEADER(t, "each task's annotation file written to the task.")}
import json

from synapse_task_pages import ToTaskPages

class ${t.cls}(ToTaskPages):
    def process_task(self, task, ctx):
        # params.specification (config.yaml): the file specification holding the platform's annotation JSON.
        file = task["dataUnit"]["files"].get(ctx.params["specification"])
        if file is None:
            return None  # skipped: nothing to import for this task
        document = json.loads(ctx.platform.read_file(file).decode("utf-8"))
        # The engine checks the document against the project's classes before writing it.
        return {"annotations": document, "data": {"boxes": len(document.get("annotations", []))}}
`;
    case 'pre_annotation':
      return `${HEADER(t, 'a task for each data unit of the project that has none.')}
from synapse_task_pages import PreAnnotationUnitPages


class ${t.cls}(PreAnnotationUnitPages):
    def process_data_unit(self, unit, ctx):
        # A unit that has a task keeps it: running again creates nothing twice.
        [task_id] = ctx.platform.create_tasks(ctx.params["project"], [unit["id"]])
        return {"data": {"task": task_id}}
`;
    case 'validation':
      return `${HEADER(t, 'a task without boxes, or with a class the project does not have, fails.')}
import json

from synapse_task_pages import NonRetriableError, ValidationTaskPages

# The storage the report is written to, under reports/<run id>.json.
REPORT_STORAGE = "default"


class ${t.cls}(ValidationTaskPages):
    def prepare(self, ctx):
        # Fatal checks run before any page: nothing is written when they fail.
        if not ctx.platform.get_project(ctx.params["project"])["classes"]:
            raise NonRetriableError("the project has no classes to check against")

    def process_task(self, task, ctx):
        classes = {c["name"] for c in ctx.platform.get_project(task["projectId"])["classes"]}
        assignments = ctx.platform.assignments_of([task["id"]]).get(task["id"], [])
        boxes = [a for assignment in assignments for a in assignment["annotations"]["annotations"]]
        unknown = sorted({b["class_name"] for b in boxes} - classes)
        few = len(boxes) < ctx.params["min_boxes"]  # params.min_boxes (config.yaml)
        problems = (["%d boxes, fewer than %d" % (len(boxes), ctx.params["min_boxes"])] if few else []) + ["unknown class %s" % c for c in unknown]
        if problems:
            return {"status": "failed", "data": {"boxes": len(boxes), "problems": problems}}
        return {"data": {"boxes": len(boxes)}}

    def finish(self, summary, ctx):
        failed = [r["item"] for r in summary.results() if r["status"] == "failed"]
        key = "reports/%s.json" % ctx.run_id
        report = {"total": summary.total, "valid": summary.success, "failed": failed}
        ctx.platform.write_file(REPORT_STORAGE, key, json.dumps(report, indent=2))
        return {"report": key}
`;
    case 'post_annotation':
      return `${HEADER(t, "each task's completed assignment put into a ground-truth version.")}
from synapse_task_pages import PostAnnotationTaskPages

class ${t.cls}(PostAnnotationTaskPages):
    def process_task(self, task, ctx):
        done = [a for a in ctx.platform.assignments_of([task["id"]]).get(task["id"], []) if a["status"] == "completed"]
        if not done:
            return None  # skipped: nobody has completed it
        # More than one annotator: the first by name wins here; merge them for real in your plugin.
        chosen = sorted(done, key=lambda a: a["annotator"])[0]
        # params.dataset (config.yaml): the ground-truth dataset (made when missing); one version per run.
        version = ctx.platform.write_ground_truth(
            task["projectId"], ctx.params["dataset"], "run-%s" % ctx.run_id, [{"dataUnitId": task["dataUnit"]["id"], "annotations": chosen["annotations"]}]
        )
        return {"data": {"version": version, "annotator": chosen["annotator"], "annotators": len(done)}}
`;
    default:
      throw new Error(`no Python task-page template for ${t.action}`);
  }
}

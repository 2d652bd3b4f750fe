"""Task-page actions in Python: the annotation categories' bases (sdk/task-pages.ts) and ctx.platform.

The engine (activities/python-task-pages.ts) runs a Python plugin's task pages through the
plugin's warm runtime process (synapse_runtime.py), one `task_page` call per hook:

    {"type": "call", "cmd": "task_page", "args": {"module": "plugin/check.py", "class_name": "Check",
        "base": "ValidationTaskPages", "hook": "prepare" | "process_task" | "process_data_unit" | "finish",
        "item": {...}, "summary": {...}, "run_id": "...", "params": {...}, "attempt": 1}}

While a hook runs, `ctx.platform` asks the engine (the same calls as the TypeScript PlatformApi,
answered by activities/platform-api.ts over the platform database and storages):

    runtime -> engine, fd 3:  {"type": "platform", "id": 4, "method": "listTasks", "args": [...]}
    engine -> runtime, stdin: {"type": "reply", "id": 4, "ok": true, "value": ...}
                              {"type": "reply", "id": 4, "ok": false, "kind": "InvalidInputError", "message": "..."}

Records are the TypeScript SDK's JSON as dicts (`task["dataUnit"]["files"]["image"]`,
`page["items"]`, `page["nextAfterId"]`). A hook that raises fails its item only (the engine
records it and the run goes on); `Unavailable` (a deployment with no ready replica) fails the
page, which the engine retries; NonRetriableError from `prepare` stops the run before any write.

    from synapse_task_pages import ValidationTaskPages

    class Check(ValidationTaskPages):
        def process_task(self, task, ctx):
            assignments = ctx.platform.assignments_of([task["id"]]).get(task["id"], [])
            boxes = sum(len(a["annotations"]["annotations"]) for a in assignments)
            return {"data": {"boxes": boxes}} if boxes else {"status": "failed", "data": {"boxes": 0}}
"""

import base64
import importlib
import traceback

import synapse_runtime
from synapse_runtime import NonRetriableError

__all__ = [
    "TaskPages",
    "ToTaskPages",
    "ValidationTaskPages",
    "PostAnnotationTaskPages",
    "PreAnnotationUnitPages",
    "Platform",
    "PlatformError",
    "Unavailable",
    "TaskContext",
    "NonRetriableError",
    "TASK_PAGES_PROGRESS_CATEGORY",
]

# The seed's progress category of task-page runs (the engine reports it).
TASK_PAGES_PROGRESS_CATEGORY = "annotate_task_data"


class PlatformError(NonRetriableError):
    """A platform call the engine refused: `kind` is its error class (InvalidInputError for an
    unknown filter key, NotFoundError for an unknown project or file, ...), the message names
    the field. A retry cannot fix it: raised from prepare it stops the run; from process_task
    it fails that item. Other failures (the database away) raise RuntimeError (retried)."""

    def __init__(self, kind, message):
        super().__init__("%s: %s" % (kind, message))
        self.kind = kind
        self.message = message


class Unavailable(Exception):
    """A service the run needs is down (a deployment with no ready replica): the page fails and is retried."""


class TaskPages:
    """Base of the task-page actions. Hooks: prepare(ctx), process_task(task, ctx) (or
    process_data_unit(unit, ctx)), finish(summary, ctx). process_* returns a dict
    `{"annotations"?, "status"?, "data"?}` (no status: success), or None (skipped)."""

    source = "tasks"

    def prepare(self, ctx):
        """Once before any page: fatal checks raise NonRetriableError and nothing is written."""

    def finish(self, summary, ctx):
        """Once after every page: `summary.total/success/failed/skipped`, `summary.results()`
        (every item's result). The dict it returns joins the run's result."""
        return None


class ToTaskPages(TaskPages):
    """pre_annotation/to_task over a project's tasks."""

    def process_task(self, task, ctx):
        raise NotImplementedError("process_task")


class ValidationTaskPages(TaskPages):
    """data_validation/validation over a project's tasks."""

    def process_task(self, task, ctx):
        raise NotImplementedError("process_task")


class PostAnnotationTaskPages(TaskPages):
    """post_annotation/post_annotation over a project's tasks."""

    def process_task(self, task, ctx):
        raise NotImplementedError("process_task")


class PreAnnotationUnitPages(TaskPages):
    """pre_annotation/pre_annotation over a project's collection's data units (no annotations to write)."""

    source = "data_units"

    def process_data_unit(self, unit, ctx):
        raise NotImplementedError("process_data_unit")


BASES = {c.__name__: c for c in (ToTaskPages, ValidationTaskPages, PostAnnotationTaskPages, PreAnnotationUnitPages)}


# The engine's errors that mean "no" rather than "not now" (contracts/errors.ts).
REFUSALS = ("InvalidInputError", "ParamsError", "ConfigError", "NotFoundError", "NonRetriableError", "ConflictError", "TypeError")


def _page(after_id, limit):
    page = {}
    if after_id is not None:
        page["afterId"] = int(after_id)
    if limit is not None:
        page["limit"] = int(limit)
    return page


class Platform:
    """ctx.platform: the TypeScript PlatformApi's calls (sdk/platform-api.ts), answered by the engine.

    Lists page by id: pass `after_id` (default 0) and `limit` (1..1000, default 100), read
    `page["items"]` and `page["nextAfterId"]` (None on the last page). Filters are dicts with
    the seed's keys (`status`, `status__in`, `assignee`, `data_collection`, `created_at__gte`,
    ...); an unknown key raises PlatformError("InvalidInputError", ...) naming it."""

    def __init__(self, channel):
        self._channel = channel

    def _call(self, method, *args):
        reply = self._channel.ask({"type": "platform", "method": method, "args": list(args)})
        if reply.get("ok"):
            return reply.get("value")
        kind = reply.get("kind") or "Error"
        if kind == "UnavailableError":
            raise Unavailable(reply.get("message"))
        if kind in REFUSALS:
            raise PlatformError(kind, reply.get("message"))
        raise RuntimeError("ctx.platform.%s failed: %s: %s" % (method, kind, reply.get("message")))

    def get_project(self, ref):
        return self._call("getProject", ref)

    def list_tasks(self, project, filters=None, after_id=None, limit=None):
        return self._call("listTasks", project, filters or {}, _page(after_id, limit))

    def list_assignments(self, project, filters=None, after_id=None, limit=None):
        return self._call("listAssignments", project, filters or {}, _page(after_id, limit))

    def list_data_units(self, collection, filters=None, after_id=None, limit=None):
        return self._call("listDataUnits", collection, filters or {}, _page(after_id, limit))

    def assignments_of(self, task_ids):
        """Every assignment of these tasks, as {task id (int): [assignment, ...]}."""
        grouped = self._call("assignmentsOf", [int(t) for t in task_ids])
        return {int(k): v for k, v in grouped.items()}

    def file_exists(self, file):
        return bool(self._call("fileExists", file))

    def read_file(self, file):
        """A data unit file's bytes (`file` as in `unit["files"]["image"]`)."""
        return base64.b64decode(self._call("readFile", file))

    def write_file(self, storage, key, body):
        """Writes `body` (str or bytes) under `key` of a storage (id or name)."""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._call("writeFile", storage, key, {"base64": base64.b64encode(data).decode("ascii")})

    def write_annotations(self, project, items, annotator=None):
        """items: [{"taskId": 3, "annotations": {...}, "status"?: "completed"}], all or nothing."""
        self._call("writeAnnotations", project, list(items), {"annotator": annotator} if annotator else {})

    def create_tasks(self, project, data_unit_ids):
        return self._call("createTasks", project, [int(u) for u in data_unit_ids])

    def write_ground_truth(self, project, dataset, version, items):
        """items: [{"dataUnitId": 7, "annotations": {...}}]; returns the version id."""
        return self._call("writeGroundTruth", project, dataset, version, list(items))

    def write_results(self, items):
        """items: [{"item": "task:3", "status": "success" | "failed" | "skipped", "data"?: {...}}]."""
        self._call("writeResults", list(items))

    def get_deployment(self, deployment_id):
        return self._call("getDeployment", deployment_id)

    def predict(self, deployment, body, timeout_ms=None):
        return self._call("predict", deployment, body, {"timeoutMs": int(timeout_ms)} if timeout_ms else {})


class TaskContext:
    """A hook's context: run_id, params, attempt, logging and ctx.platform."""

    def __init__(self, channel, args):
        self._channel = channel
        self.run_id = args.get("run_id")
        self.params = args.get("params") or {}
        self.attempt = args.get("attempt", 1)
        self.platform = Platform(channel)

    def log_message(self, message, level="INFO"):
        self._channel.send({"type": "log", "level": level, "message": str(message)})

    def log(self, event, data=None):
        self._channel.send({"type": "event", "event": str(event), "data": data or {}})

    def set_metrics(self, values, category):
        self._channel.send({"type": "metrics", "values": values, "category": category})

    def heartbeat(self):
        self._channel.send({"type": "heartbeat"})

    @property
    def cancelled(self):
        return self._channel.cancelled.is_set()


class Summary:
    """What finish() gets: the run's counts (each item once) and results() streaming every item's result."""

    def __init__(self, platform, counts):
        self._platform = platform
        self.total = counts.get("total", 0)
        self.success = counts.get("success", 0)
        self.failed = counts.get("failed", 0)
        self.skipped = counts.get("skipped", 0)

    def results(self):
        after = ""
        while True:
            page = self._platform._call("runResults", after)
            for r in page["items"]:
                yield r
            if page.get("next") is None:
                return
            after = page["next"]


_instances = {}


def _action(args):
    key = (args["module"], args["class_name"])
    action = _instances.get(key)
    if action is None:
        module_name = args["module"][:-3].replace("/", ".") if args["module"].endswith(".py") else args["module"]
        module = importlib.import_module(module_name)
        cls = getattr(module, args["class_name"], None)
        base = BASES.get(args.get("base"))
        if base is None:
            raise NonRetriableError("unknown task-page base %r" % args.get("base"))
        if cls is None or not isinstance(cls, type) or not issubclass(cls, base):
            raise NonRetriableError(
                "%s: class %s must subclass synapse_task_pages.%s (this action's base)" % (args["module"], args["class_name"], base.__name__)
            )
        action = cls()
        _instances[key] = action
    return action


def _outcome(value, hook):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("%s must return a dict {annotations?, status?, data?} or None, got %s" % (hook, type(value).__name__))
    unknown = sorted(set(value) - {"annotations", "status", "data"})
    if unknown:
        raise TypeError("%s returned unknown keys %s (it takes annotations, status, data)" % (hook, ", ".join(unknown)))
    if "status" in value and value["status"] not in ("success", "failed", "skipped"):
        raise TypeError("%s: status must be success, failed or skipped, got %r" % (hook, value["status"]))
    if "data" in value and not isinstance(value["data"], dict):
        raise TypeError("%s: data must be a dict, got %s" % (hook, type(value["data"]).__name__))
    return value


def call(channel, args):
    """One `task_page` call. An item hook's own exception comes back as {"raised": ...} (that
    item fails, the process stays); Unavailable as {"unavailable": ...} (the page is retried)."""
    action = _action(args)
    hook = args["hook"]
    ctx = TaskContext(channel, args)
    if hook == "prepare":
        action.prepare(ctx)
        return None
    if hook == "finish":
        extra = action.finish(Summary(ctx.platform, args.get("summary") or {}), ctx)
        if extra is not None and not isinstance(extra, dict):
            raise NonRetriableError("finish must return a dict or None, got %s" % type(extra).__name__)
        return extra
    if hook not in ("process_task", "process_data_unit"):
        raise NonRetriableError("unknown task-page hook %r" % hook)
    try:
        return {"outcome": _outcome(getattr(action, hook)(args["item"], ctx), hook)}
    except Unavailable as err:
        return {"unavailable": str(err)}
    except synapse_runtime.Cancelled:
        raise
    except Exception as err:  # noqa: BLE001 - the item fails, the run goes on
        return {"raised": "%s: %s" % (type(err).__name__, err), "traceback": traceback.format_exc()}

"""The Python runtime of synapse-temporal: runs a plugin's Python trainer for the engine.

The TypeScript activity starts `python -u -c "import synapse_runtime; synapse_runtime.main()"`
(so plugins importing `synapse_runtime` share this module) with the plugin folder as its
working directory and keeps the process for the next steps of the same plugin (importing
torch takes seconds; an epoch may take less). It speaks a line protocol:

  engine -> runtime, stdin, one JSON object a line:
    {"type": "call", "id": 1, "cmd": "train_epoch" | "evaluate" | "predict" | "serve_load" | "serve_predict" | "task_page", "args": {...}}

  `task_page` runs a hook of a task-page action (synapse_task_pages.py), whose ctx.platform
  asks the engine with {"type": "platform", "id": 4, "method", "args"} on fd 3 and reads
  {"type": "reply", "id": 4, "ok", "value" | "kind", "message"} on stdin.

  A deployment replica (activities/serve-python.ts) keeps one process: `serve_load` loads the
  registered model once (the trainer's `load`), then one `serve_predict` per request calls the
  trainer's `predict_request(ctx, model, body)`.
    {"type": "cancel"}                 the current call should stop (ctx.cancelled is True)
    {"type": "ack", "id": 7}           checkpoint 7 (its own id, not the call's) is durable

  runtime -> engine, file descriptor 3 (so the plugin's prints cannot corrupt it):
    {"type": "ready", "pid": 123, "python": "3.11.2", "torch": "1.13.0"}
    {"type": "log", "level": "INFO", "message": "..."}
    {"type": "event", "event": "name", "data": {...}}
    {"type": "progress", "current": 3, "total": 10, "category": "epoch"}
    {"type": "metrics", "values": {...}, "category": "train"}
    {"type": "heartbeat"}
    {"type": "checkpoint", "id": 7, "step": 40, "path": "/.../partial.ckpt"}   waits for {"type": "ack", "id": 7}
    {"type": "result", "id": 1, "value": ...}
    {"type": "error", "id": 1, "kind": "retryable" | "nonretryable" | "cancelled", "message": "...", "traceback": "..."}

stdout and stderr of the process go to the run's log. When stdin closes (the engine died),
the runtime exits.

A plugin subclasses `Trainer` (the same interface as the TypeScript TrainAction):

    from synapse_runtime import Trainer

    class MyTrainer(Trainer):
        def create_model(self, ctx, dataset): ...
        def train_epoch(self, ctx, state): ...          # returns a dict of metrics
        def evaluate(self, ctx, model, dataset, split): ...
        def save(self, model, path): ...
        def load(self, path, dataset): ...

Its hyperparameters are declared as JSON Schema in config.yaml (`actions.train.hyperparameters`)
and checked by the engine before a run starts; `state.hyperparameters` has their defaults filled.
"""

import importlib
import json
import math
import os
import platform
import queue
import sys
import threading
import time
import traceback

__all__ = ["Trainer", "InvalidInput", "Context", "EpochState", "Dataset", "NonRetriableError", "Cancelled", "EPOCH_PROGRESS"]

# The progress category of the steps inside an epoch (sdk/trainer.ts EPOCH_PROGRESS), and the
# train run's own categories, which the engine reports (TRAIN_PROGRESS_CATEGORIES there).
EPOCH_PROGRESS = "epoch"
ENGINE_PROGRESS = ("dataset", "train", "model_upload")


class NonRetriableError(Exception):
    """Raise it for a failure retrying cannot fix (bad hyperparameters, unusable data)."""


class InvalidInput(Exception):
    """Raise it from predict_request for a request body that is not what it takes: a 400 naming `field`."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = str(field)
        self.message = str(message)


class Cancelled(Exception):
    """Raised by ctx.check_cancelled() once the run is cancelled."""


class Dataset:
    """A ground-truth version in the engine's local cache: `items` (dicts), `classes`, `dir`."""

    def __init__(self, index_path):
        with open(index_path, "r", encoding="utf-8") as f:
            index = json.load(f)
        self.dir = os.path.dirname(index_path)
        self.version_id = index["versionId"]
        self.classes = list(index["classes"])
        self.items = []
        for item in index["items"]:
            files = {name: os.path.join(self.dir, rel) for name, rel in item["files"].items()}
            self.items.append({**item, "files": files})

    def split(self, name):
        """Items of one split (`train`, `val`, `test`); `all` gives every item."""
        return list(self.items) if name == "all" else [i for i in self.items if i["split"] == name]


class EpochState:
    def __init__(self, epoch, epochs, seed, model, start_step, dataset, hyperparameters, totals=None):
        self.epoch = epoch
        self.epochs = epochs
        self.seed = seed
        self.model = model
        self.start_step = start_step
        self.dataset = dataset
        self.hyperparameters = hyperparameters
        # Running sums saved with the mid-epoch checkpoint this epoch resumes from
        # (ctx.checkpoint_step(step, totals)); {} at step 0. Start the epoch's sums from them.
        self.totals = dict(totals or {})


class Trainer:
    """Base of a Python trainer. The engine owns the loop; each method is one step of it."""

    def prepare(self, ctx, dataset):
        """Called once per dataset in this process before its first epoch (decode, build tensors)."""

    def create_model(self, ctx, dataset):
        raise NotImplementedError("create_model")

    def train_epoch(self, ctx, state):
        raise NotImplementedError("train_epoch")

    def evaluate(self, ctx, model, dataset, split):
        raise NotImplementedError("evaluate")

    def save(self, model, path):
        raise NotImplementedError("save")

    def load(self, path, dataset):
        raise NotImplementedError("load")

    def predict(self, ctx, model, items, classes):
        raise NonRetriableError("this trainer has no predict()")

    def predict_request(self, ctx, model, body):
        """One prediction of a deployment (restapi): `body` is the request's JSON, the return
        value (JSON) the response. Raise InvalidInput(field, message) for a bad body (a 400)."""
        raise NonRetriableError("this trainer has no predict_request(): it cannot serve a deployment")


class _Channel:
    """Writes protocol lines to fd 3 and reads engine messages from stdin on a thread."""

    def __init__(self):
        self._out = os.fdopen(3, "w", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()
        self.calls = queue.Queue()
        self.cancelled = threading.Event()
        self._acks = {}
        self._next_ack = 0
        self._acks_lock = threading.Lock()
        self._replies = {}
        self.busy = False
        threading.Thread(target=self._read, name="synapse-stdin", daemon=True).start()

    def send(self, message):
        line = json.dumps(message, allow_nan=False, default=_json_default)
        with self._lock:
            self._out.write(line + "\n")

    def _read(self):
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            kind = message.get("type")
            if kind == "call":
                self.cancelled.clear()
                self.calls.put(message)
            elif kind == "cancel":
                self.cancelled.set()
            elif kind == "ack":
                with self._acks_lock:
                    event = self._acks.get(message.get("id"))
                if event is not None:
                    event.set()
            elif kind == "reply":
                # The answer to a platform request (synapse_task_pages.py): kept for ask().
                with self._acks_lock:
                    slot = self._replies.get(message.get("id"))
                if slot is not None:
                    slot["reply"] = message
                    slot["event"].set()
        # stdin closed: the engine is gone. Nothing to report to; stop at once.
        os._exit(0 if not self.busy else 70)

    def request(self, message):
        """Sends a message the engine acknowledges (a checkpoint) and waits for its ack.

        The message gets an id of its own, and the ack's event is registered BEFORE the
        message goes out: the engine may ack at once, before this thread would otherwise
        start waiting, and an ack nobody waits for yet would be dropped (the process then
        went silent until it was killed as hung)."""
        event = threading.Event()
        with self._acks_lock:
            self._next_ack += 1
            ack_id = self._next_ack
            self._acks[ack_id] = event
        try:
            self.send({**message, "id": ack_id})
            while not event.wait(0.5):
                if self.cancelled.is_set():
                    raise Cancelled("cancelled while saving a checkpoint")
        finally:
            with self._acks_lock:
                self._acks.pop(ack_id, None)


    def ask(self, message):
        """Sends a request the engine answers with a reply (a platform call: {"type": "platform",
        "method", "args"}) and returns the reply. Registered before it goes out, like request()."""
        slot = {"event": threading.Event(), "reply": None}
        with self._acks_lock:
            self._next_ack += 1
            ask_id = self._next_ack
            self._replies[ask_id] = slot
        try:
            self.send({**message, "id": ask_id})
            while not slot["event"].wait(0.5):
                if self.cancelled.is_set():
                    raise Cancelled("cancelled while waiting for the platform")
            return slot["reply"]
        finally:
            with self._acks_lock:
                self._replies.pop(ask_id, None)


def _drain(call_id):
    """Flushes the plugin's prints, then marks the end of this call's output on stdout and
    stderr: the engine settles a call only after both marks, so no print arrives after it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a plugin may have closed or replaced it
            pass
    mark = ("\x1esynapse-sync %d\n" % call_id).encode("utf-8")
    os.write(1, mark)
    os.write(2, mark)


def _json_default(value):
    # numpy / torch scalars in metrics
    if hasattr(value, "item"):
        return value.item()
    raise TypeError("not JSON serialisable: %r" % type(value).__name__)


class Context:
    """What plugin code may do during a step: the RunContext calls of the TypeScript SDK."""

    def __init__(self, channel, call_id, args, trainer, state_box):
        self._channel = channel
        self._call_id = call_id
        self._trainer = trainer
        self._state_box = state_box
        self.run_id = args.get("run_id")
        self.params = args.get("params") or {}
        self.attempt = args.get("attempt", 1)
        self.num_cpus = args.get("num_cpus") or os.cpu_count() or 1

    def log_message(self, message, level="INFO"):
        self._channel.send({"type": "log", "level": level, "message": str(message)})

    def log(self, event, data=None):
        self._channel.send({"type": "event", "event": str(event), "data": data or {}})

    def set_progress(self, current, total, category=EPOCH_PROGRESS):
        """Progress of the steps inside this epoch (category `epoch`), or of a category of the
        plugin's own. The engine's categories (dataset, train = epochs done, model_upload) are
        refused: the workflow reports them."""
        if category in ENGINE_PROGRESS:
            raise NonRetriableError(
                'progress category "%s" is the engine\'s (%s; "train" counts finished epochs): report steps inside an epoch as "%s" (the default)'
                % (category, ", ".join(ENGINE_PROGRESS), EPOCH_PROGRESS)
            )
        self._channel.send({"type": "progress", "current": current, "total": total, "category": category})

    def set_metrics(self, values, category):
        self._channel.send({"type": "metrics", "values": values, "category": category})

    def heartbeat(self):
        """Says the step is alive during long work that reports nothing else."""
        self._channel.send({"type": "heartbeat"})

    @property
    def cancelled(self):
        return self._channel.cancelled.is_set()

    def check_cancelled(self):
        if self.cancelled:
            raise Cancelled("run cancelled")

    def checkpoint_step(self, step, totals=None):
        """Saves the model after `step` steps of this epoch; returns once it is durable.

        `totals`: running sums over the steps done (a dict of finite numbers, e.g. loss_sum,
        correct, seen); a resumed epoch gets them back as `state.totals`.
        """
        state = self._state_box.get("state")
        path = self._state_box.get("partial_path")
        if state is None or path is None:
            raise RuntimeError("checkpoint_step() is only available inside train_epoch")
        message = {"type": "checkpoint", "step": int(step), "path": path}
        if totals is not None:
            if not isinstance(totals, dict):
                raise NonRetriableError("checkpoint_step(step, totals): totals must be a dict of numbers")
            checked = {}
            for k, v in totals.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise NonRetriableError("checkpoint_step(step, totals): totals[%r] must be a finite number, got %r" % (k, v))
                checked[str(k)] = float(v)
            message["totals"] = checked
        self._trainer.save(state.model, path)
        self._channel.request(message)


class _Runtime:
    def __init__(self, channel):
        self.channel = channel
        self.trainers = {}
        self.datasets = {}
        self.prepared = set()
        # The deployment replica this process serves: (trainer, model, context), set by serve_load.
        self.served = None

    def trainer(self, args):
        key = (args["module"], args["class_name"])
        if key not in self.trainers:
            module_name = args["module"][:-3].replace("/", ".") if args["module"].endswith(".py") else args["module"]
            module = importlib.import_module(module_name)
            cls = getattr(module, args["class_name"], None)
            if cls is None or not isinstance(cls, type) or not issubclass(cls, Trainer):
                raise NonRetriableError("%s has no Trainer subclass %s" % (args["module"], args["class_name"]))
            self.trainers[key] = cls()
        return self.trainers[key]

    def dataset(self, args):
        path = args["dataset_index"]
        stamp = os.stat(path).st_mtime_ns
        cached = self.datasets.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, Dataset(path))
            self.datasets[path] = cached
        return cached[1]

    def ready(self, ctx, trainer, dataset, args):
        self._threads(args)
        key = (id(trainer), dataset.dir, id(dataset))
        if key not in self.prepared:
            trainer.prepare(ctx, dataset)
            self.prepared.add(key)

    def _threads(self, args):
        n = args.get("num_cpus")
        if n and "torch" in sys.modules:
            torch = sys.modules["torch"]
            if torch.get_num_threads() != n:
                torch.set_num_threads(int(n))

    def model(self, ctx, trainer, dataset, path):
        return trainer.load(path, dataset) if path else trainer.create_model(ctx, dataset)

    def serve_load(self, call_id, args):
        """Loads the model of a deployment replica once: the trainer's `load` of the registered
        model's file (no dataset: the saved model carries its classes). Later serve_predict
        calls answer with it."""
        trainer = self.trainer(args)
        ctx = Context(self.channel, call_id, args, trainer, {})
        self._threads(args)
        path = args.get("model_path")
        if not path:
            raise NonRetriableError("a Python deployment needs a registered model: set the param `model`")
        model = trainer.load(path, None)
        self.served = (trainer, model, ctx)
        return {"loaded": True}

    def serve_predict(self, args):
        """One request: {"ok": true, "value": ...} or {"ok": false, "problems": [{path, message}]}."""
        if self.served is None:
            raise NonRetriableError("serve_predict before serve_load")
        trainer, model, ctx = self.served
        try:
            return {"ok": True, "value": trainer.predict_request(ctx, model, args.get("body"))}
        except InvalidInput as err:
            return {"ok": False, "problems": [{"path": err.field, "message": err.message}]}

    def call(self, message):
        cmd = message["cmd"]
        args = message.get("args") or {}
        call_id = message["id"]
        if cmd == "serve_load":
            return self.serve_load(call_id, args)
        if cmd == "serve_predict":
            return self.serve_predict(args)
        if cmd == "task_page":
            # A task-page action's hook (synapse_task_pages.py); it may ask the engine for platform data.
            import synapse_task_pages

            return synapse_task_pages.call(self.channel, args)
        state_box = {}
        trainer = self.trainer(args)
        ctx = Context(self.channel, call_id, args, trainer, state_box)
        dataset = self.dataset(args)
        self.ready(ctx, trainer, dataset, args)
        if cmd == "train_epoch":
            model = self.model(ctx, trainer, dataset, args.get("model_in"))
            state = EpochState(args["epoch"], args["epochs"], args["seed"], model, args.get("start_step", 0), dataset, args.get("hyperparameters") or {}, args.get("start_totals"))
            state_box["state"] = state
            state_box["partial_path"] = args["partial_path"]
            metrics = trainer.train_epoch(ctx, state)
            ctx.check_cancelled()
            trainer.save(state.model, args["model_out"])
            return _metrics(metrics, "train_epoch")
        if cmd == "evaluate":
            model = self.model(ctx, trainer, dataset, args["model_in"])
            return _metrics(trainer.evaluate(ctx, model, dataset, args["split"]), "evaluate")
        if cmd == "predict":
            model = self.model(ctx, trainer, dataset, args["model_in"])
            wanted = set(args["item_ids"])
            items = [i for i in dataset.items if i["id"] in wanted]
            return list(trainer.predict(ctx, model, items, dataset.classes))
        raise NonRetriableError("unknown command %r" % cmd)

    def serve(self):
        while True:
            message = self.channel.calls.get()
            self.channel.busy = True
            started = time.perf_counter()
            try:
                value = self.call(message)
                self.channel.send({"type": "log", "level": "DEBUG", "message": "%s took %.3f s in Python" % (message["cmd"], time.perf_counter() - started)})
                _drain(message["id"])
                self.channel.send({"type": "result", "id": message["id"], "value": value})
            except Cancelled as err:
                _drain(message["id"])
                self.channel.send({"type": "error", "id": message["id"], "kind": "cancelled", "message": str(err) or "cancelled"})
            except NonRetriableError as err:
                _drain(message["id"])
                self.channel.send({"type": "error", "id": message["id"], "kind": "nonretryable", "message": str(err)})
            except Exception as err:  # noqa: BLE001 - every plugin failure is reported, then retried by the engine
                _drain(message["id"])
                self.channel.send(
                    {
                        "type": "error",
                        "id": message["id"],
                        "kind": "retryable",
                        "message": "%s: %s" % (type(err).__name__, err),
                        "traceback": traceback.format_exc(),
                    }
                )
            finally:
                self.channel.busy = False


def _metrics(values, where):
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise NonRetriableError("%s must return a dict of metrics, got %s" % (where, type(values).__name__))
    out = {}
    for key, value in values.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # JSON has no NaN; a diverged loss shows as null
        if value is not None and not isinstance(value, (int, float, str, bool)):
            raise NonRetriableError("%s: metric %r is a %s, not a number, string or bool" % (where, key, type(value).__name__))
        out[str(key)] = value
    return out


def main():
    # The plugin folder is the working directory: `plugin.train` imports from it.
    sys.path.insert(0, os.getcwd())
    channel = _Channel()
    versions = {"type": "ready", "pid": os.getpid(), "python": platform.python_version()}
    channel.send(versions)
    _Runtime(channel).serve()


if __name__ == "__main__":
    main()

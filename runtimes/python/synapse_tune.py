"""The Optuna service of synapse-temporal's tune run shape: ask-and-tell over a durable study.

The tune activities (activities/tune-optuna.ts) start `python synapse_tune.py` once per
worker and keep it warm (importing optuna takes a second or two; a call takes milliseconds).
The workflow owns the loop; this process only answers, one JSON object a line:

  engine -> service, stdin:   {"id": 1, "cmd": "open" | "ask" | "report" | "tell" | "trials", "args": {...}}
  service -> engine, stdout:  {"id": 1, "ok": true, "value": ...}
                              {"id": 1, "ok": false, "kind": "retryable" | "nonretryable", "message": "..."}
  first line:                 {"ready": true, "pid": 123, "python": "3.11.2", "optuna": "5.0.0"}
                              {"ready": false, "message": "No module named 'optuna'"}

Every call names its study (`args.study`: name, direction, space, sampler, pruner,
concurrency) and its storage URL (`args.storage`), so a fresh process after a crash serves
the same study: the study lives in Optuna's RDB storage (SQLite or PostgreSQL) or a journal
file, never only here. The calls are idempotent, so a retried activity changes nothing twice:

  ask n     returns trial n's params; it creates trials only while the study has n or fewer.
  report    an epoch's value of trial n (epoch e is Optuna's step e - 1, so pruner settings
            mean what Optuna's documentation says); an epoch reported before is ignored
            (Optuna keeps the first); answers whether the pruner stops the trial.
  tell      the end of trial n (complete with a value, pruned, or fail); a no-op once finished.

stderr carries Optuna's own warnings; the engine keeps its tail for error messages.
"""

import json
import math
import os
import platform
import sys
import traceback

try:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState
except ImportError as err:  # reported to the engine, which names the fix
    sys.stdout.write(json.dumps({"ready": False, "message": str(err)}) + "\n")
    sys.stdout.flush()
    sys.exit(3)


class Refused(Exception):
    """A call that no retry can fix (a study made with another space, a trial that cannot exist)."""


STATES = {
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "fail",
}


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its stop(): outside optimize() stop() raises after the
    last grid point is told, and the workflow decides when the search ends anyway."""

    def after_trial(self, study, trial, state, values):
        pass


def distributions(space):
    out = {}
    for name, d in space.items():
        kind = d["type"]
        if kind in ("choice", "grid"):
            out[name] = CategoricalDistribution(d["values"])
        elif kind == "uniform":
            out[name] = FloatDistribution(d["low"], d["high"])
        elif kind == "loguniform":
            out[name] = FloatDistribution(d["low"], d["high"], log=True)
        elif kind == "randint":
            out[name] = IntDistribution(d["low"], d["high"] - 1)
        elif kind == "quniform":
            steps = int((d["high"] - d["low"]) / d["q"] + 1e-9)
            out[name] = FloatDistribution(d["low"], d["low"] + steps * d["q"], step=d["q"])
        else:
            raise Refused("unknown dimension type %r of %s" % (kind, name))
    return out


def make_sampler(spec, space, concurrency):
    kind = spec["type"]
    seed = spec.get("seed")
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return GridSampler({k: d["values"] for k, d in space.items()}, seed=seed)
    if kind == "tpe":
        options = {"seed": seed}
        if spec.get("n_startup_trials") is not None:
            options["n_startup_trials"] = spec["n_startup_trials"]
        # Trials running at once: assume a poor value for the running ones, so that the next
        # ask does not pick the same region again (Optuna's advice for parallel TPE).
        if concurrency > 1:
            options["constant_liar"] = True
        return optuna.samplers.TPESampler(**options)
    raise Refused("unknown sampler %r" % kind)


def make_pruner(spec):
    kind = spec["type"]
    if kind == "none":
        return optuna.pruners.NopPruner()
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=spec["n_startup_trials"],
            n_warmup_steps=spec["n_warmup_steps"],
            interval_steps=spec["interval_steps"],
            n_min_trials=spec["n_min_trials"],
        )
    if kind == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=spec["min_resource"],
            reduction_factor=spec["reduction_factor"],
            min_early_stopping_rate=spec["min_early_stopping_rate"],
        )
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=spec["min_resource"],
            max_resource=spec["max_resource"],
            reduction_factor=spec["reduction_factor"],
        )
    raise Refused("unknown pruner %r" % kind)


def make_storage(url):
    """An Optuna storage for a URL: `journal:<path>` is a journal file, anything else RDB.
    PostgreSQL keeps Optuna's tables in their own schema `optuna`, apart from the platform's."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
    engine_kwargs = {}
    if url.startswith("postgresql"):
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE SCHEMA IF NOT EXISTS optuna"))
        engine.dispose()
        engine_kwargs = {"connect_args": {"options": "-csearch_path=optuna"}}
    elif url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        # Several worker processes may share the file: wait for a lock instead of failing.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


class Service:
    def __init__(self):
        self.storages = {}
        self.studies = {}

    def storage(self, url):
        if url not in self.storages:
            self.storages[url] = make_storage(url)
        return self.storages[url]

    def study(self, args):
        spec = args["study"]
        url = args["storage"]
        key = json.dumps([url, spec], sort_keys=True)
        cached = self.studies.get(key)
        if cached is not None:
            return cached
        storage = self.storage(url)
        space = spec["space"]
        study = optuna.create_study(
            storage=storage,
            study_name=spec["name"],
            direction=spec["direction"],
            sampler=make_sampler(spec["sampler"], space, spec.get("concurrency", 1)),
            pruner=make_pruner(spec["pruner"]),
            load_if_exists=True,
        )
        if study.direction.name.lower() != spec["direction"]:
            verb = {"minimize": "minimizes", "maximize": "maximizes"}
            raise Refused("study %s %s its metric; this tune %s it" % (spec["name"], verb[study.direction.name.lower()], verb[spec["direction"]]))
        made = study.user_attrs.get("synapse_space")
        if made is None:
            study.set_user_attr("synapse_space", space)
        elif made != space:
            raise Refused("study %s was made with another search space: %s" % (spec["name"], json.dumps(made, sort_keys=True)))
        entry = (study, distributions(space))
        self.studies[key] = entry
        return entry

    # ----- commands -------------------------------------------------------------------------

    def open(self, args):
        study, _ = self.study(args)
        return [frozen(t) for t in study.get_trials(deepcopy=False)]

    def ask(self, args):
        study, dists = self.study(args)
        number = int(args["number"])
        trials = by_number(study)
        # Trials are asked in order, so the study has `number` of them; more when an earlier
        # attempt of this ask created it already (its answer was lost): then it is returned.
        while number not in trials:
            if len(trials) < number:
                raise Refused("trial %d asked, but study %s has only %d trials" % (number, study.study_name, len(trials)))
            study.ask(dists)
            trials = by_number(study)
        return frozen(trials[number])

    def report(self, args):
        study, _ = self.study(args)
        number = int(args["number"])
        step = int(args["step"])
        t = trial_of(study, number)
        if t.state.is_finished():
            return {"prune": t.state == TrialState.PRUNED, "state": STATES[t.state]}
        trial = optuna.trial.Trial(study, t._trial_id)
        # Optuna counts steps from 0 (its pruners' n_warmup_steps, min_resource and
        # max_resource mean that): epoch 1 is step 0.
        if step - 1 not in t.intermediate_values:
            trial.report(float(args["value"]), step - 1)
        return {"prune": bool(trial.should_prune()), "state": STATES[t.state]}

    def tell(self, args):
        study, _ = self.study(args)
        number = int(args["number"])
        t = trial_of(study, number)
        if not t.state.is_finished():
            for key, value in (args.get("attrs") or {}).items():
                study._storage.set_trial_user_attr(t._trial_id, key, value)
            state = args["state"]
            if state == "complete":
                study.tell(number, float(args["value"]), skip_if_finished=True)
            elif state == "pruned":
                study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
            elif state == "fail":
                study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            else:
                raise Refused("unknown trial state %r" % state)
        return frozen(trial_of(study, number))

    def trials(self, args):
        study, _ = self.study(args)
        return [frozen(t) for t in study.get_trials(deepcopy=False)]


def by_number(study):
    return {t.number: t for t in study.get_trials(deepcopy=False)}


def trial_of(study, number):
    t = by_number(study).get(number)
    if t is None:
        raise Refused("study %s has no trial %d" % (study.study_name, number))
    return t


def finite(value):
    """JSON has no NaN or infinity: those show as null."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def frozen(t):
    return {
        "number": t.number,
        "state": STATES.get(t.state, str(t.state)),
        "params": t.params,
        "value": finite(t.value) if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        "intermediate": {str(k + 1): finite(v) for k, v in sorted(t.intermediate_values.items()) if finite(v) is not None},
        "attrs": dict(t.user_attrs),
    }


def retryable(err):
    """Database trouble (locked, connection lost) passes; everything else is a refusal."""
    name = type(err).__module__ + "." + type(err).__name__
    return name.startswith("sqlalchemy.") or isinstance(err, (OSError, TimeoutError))


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = sys.stdout
    # Our own prints (none expected) must not corrupt the protocol: they go to stderr.
    sys.stdout = sys.stderr
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "python": platform.python_version(), "optuna": optuna.__version__}) + "\n")
    out.flush()
    service = Service()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        message = json.loads(line)
        call_id = message.get("id")
        try:
            handler = getattr(service, message["cmd"], None)
            if handler is None or message["cmd"].startswith("_") or message["cmd"] in ("study", "storage"):
                raise Refused("unknown command %r" % message["cmd"])
            reply = {"id": call_id, "ok": True, "value": handler(message.get("args") or {})}
        except Refused as err:
            reply = {"id": call_id, "ok": False, "kind": "nonretryable", "message": str(err)}
        except Exception as err:  # noqa: BLE001 - reported to the engine, which retries or fails the step
            kind = "retryable" if retryable(err) else "nonretryable"
            sys.stderr.write(traceback.format_exc())
            reply = {"id": call_id, "ok": False, "kind": kind, "message": "%s: %s" % (type(err).__name__, err)}
        out.write(json.dumps(reply, allow_nan=False, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

"""The tune bench's baseline: Optuna's own study.optimize(n_jobs=2) on the same objective.

bench/tune.ts runs 20 trials of tune-objective (test/fixtures/plugins/tune-objective) through
the tune workflow; this runs the same trials with Optuna alone: each trial sleeps
`--epoch-seconds` per epoch (the fixture's epoch_delay_ms), reports
score = (x - 1.5)^2 + 0.5 (y - 0.5)^2 + 1/epoch after each epoch and returns the last one.
The same sampler (TPE, same seed, constant liar for parallel trials) and the same kind of
storage (an RDB study in a SQLite file) as the workflow's study.

  python bench/tune_baseline.py --trials 20 --jobs 2 --epochs 3 --epoch-seconds 0.5 --storage sqlite:////tmp/x.db

Prints one JSON line: wall seconds of optimize(), trials, the best value and params, peak RSS.
"""

import argparse
import json
import resource
import time

import optuna


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--epoch-seconds", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--storage", required=True)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_float("y", -3, 3)
        score = None
        for epoch in range(1, args.epochs + 1):
            time.sleep(args.epoch_seconds)
            score = (x - 1.5) ** 2 + 0.5 * (y - 0.5) ** 2 + 1 / epoch
            trial.report(score, epoch)
        return score

    sampler = optuna.samplers.TPESampler(seed=args.seed, constant_liar=args.jobs > 1)
    study = optuna.create_study(study_name="baseline-%d" % time.time_ns(), storage=args.storage, sampler=sampler, direction="minimize")
    started = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "trials": len(study.trials),
                "best": study.best_value,
                "best_params": study.best_params,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Optuna's per-trial overhead with an SQLite store, for `autotune bench search`.

Runs N trials of a trivial objective (two-variable ZDT1, as autotune's overhead benchmark does)
through `study.optimize` with Optuna's RandomSampler and its TPESampler, every trial persisted
in an SQLite file, and reports the milliseconds per trial over the whole run and over the last
100 trials (records `overhead.optuna_random.ms_per_trial`, `overhead.optuna_tpe.ms_per_trial`,
and `..._last_100`).

Usage: python3 optuna_overhead.py [--trials N] [--json]
"""

import argparse
import math
import os
import sys
import tempfile
import time

from common import emit, log


def objective(trial):
    x0 = trial.suggest_float("x0", 0.0, 1.0)
    x1 = trial.suggest_float("x1", 0.0, 1.0)
    g = 1 + 9 * x1
    return x0, g * (1 - math.sqrt(x0 / g))


def run(sampler_name, trials, directory):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = os.path.join(directory, f"{sampler_name}.sqlite")
    sampler = optuna.samplers.RandomSampler(seed=0) if sampler_name == "random" else optuna.samplers.TPESampler(seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler,
                                storage=f"sqlite:///{path}", study_name=sampler_name)
    stamps = []
    study.optimize(lambda t: (stamps.append(time.perf_counter()), objective(t))[1], n_trials=trials)
    end = time.perf_counter()
    total = (end - stamps[0]) / len(stamps) * 1000
    tail = min(100, len(stamps) - 1)
    last = (stamps[-1] - stamps[-1 - tail]) / tail * 1000
    return total, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    records = []
    with tempfile.TemporaryDirectory() as directory:
        for sampler in ("random", "tpe"):
            log(f"optuna {sampler}: {args.trials} trials with SQLite")
            total, last = run(sampler, args.trials, directory)
            records.append(record(f"overhead.optuna_{sampler}.ms_per_trial", total))
            records.append(record(f"overhead.optuna_{sampler}.ms_per_trial_last_100", last))
    import optuna
    emit(records, {"peer": "optuna", "version": optuna.__version__, "threads": 1}, args.json)


def record(name, value):
    return {"suite": "peers", "name": name, "value": value, "unit": "ms", "better": "lower"}


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Optuna's RDB storage on a PostgreSQL server, for `autotune bench storage`.

For each worker count W, a study of N trials of a trivial objective (two-variable ZDT1, the one
autotune's side runs) is run by W processes, each with its own RDBStorage (SQLAlchemy and psycopg,
one connection) and `study.optimize` with a seeded RandomSampler, running its share of the N
trials (N split evenly: no shared budget to check, the cheapest way Optuna runs a fixed number of
trials). The workers load the study, then wait at a start line; each reports the trials it ran
and its start and end on the monotonic clock (the clock autotune's workers read), so process
start-up and connecting are not counted.

Usage: python3 optuna_storage.py --url postgresql://user@host:port/db [--trials N]
       [--workers 1,4,16] [--seed N] [--json]

With --json it prints {"runs": [{"workers": W, "timings": [{"evaluated", "begin", "end"}...]}...]}
for autotune to turn into records; without, a line per worker count.
"""

import argparse
import json
import math
import multiprocessing
import sys
import time

from common import log


def objective(trial):
    x0 = trial.suggest_float("x0", 0.0, 1.0)
    x1 = trial.suggest_float("x1", 0.0, 1.0)
    g = 1 + 9 * x1
    return x0, g * (1 - math.sqrt(x0 / g))


def sqlalchemy_url(url):
    """postgresql://... (libpq's form) as SQLAlchemy's URL for psycopg 3."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    raise SystemExit(f"optuna_storage: not a postgresql:// URL: {url}")


def storage(url):
    import optuna
    return optuna.storages.RDBStorage(sqlalchemy_url(url), skip_compatibility_check=True, skip_table_creation=True)


def worker(url, study_name, trials, seed, ready, go, results):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage(url), sampler=optuna.samplers.RandomSampler(seed=seed))
    ready.put(True)
    go.wait()
    begin = time.monotonic_ns()
    study.optimize(objective, n_trials=trials)
    end = time.monotonic_ns()
    results.put({"evaluated": trials, "begin": begin, "end": end})


def run(url, trials, workers, seed):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"w{workers}"
    optuna.create_study(storage=optuna.storages.RDBStorage(sqlalchemy_url(url)), study_name=name,
                        directions=["minimize", "minimize"])
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    shares = [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]
    processes = [context.Process(target=worker, args=(url, name, share, seed + i, ready, go, results))
                 for i, share in enumerate(shares)]
    for p in processes:
        p.start()
    for _ in processes:
        ready.get()
    go.set()
    timings = [results.get() for _ in processes]
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"optuna_storage: a worker of study {name} exited with status {p.exitcode}")
    done = len(optuna.load_study(study_name=name, storage=storage(url)).get_trials(deepcopy=False))
    if done != trials:
        raise SystemExit(f"optuna_storage: study {name} holds {done} trials, not {trials}")
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the PostgreSQL server (libpq URL)")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--workers", default="1,4,16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.trials < 1 or not counts or min(counts) < 1:
        parser.error("--trials and every --workers count must be at least 1")
    runs = []
    for count in counts:
        log(f"optuna: RDB storage, {count} worker{'s' if count > 1 else ''}, {args.trials} trials")
        runs.append({"workers": count, "timings": run(args.url, args.trials, count, args.seed)})
    if args.json:
        json.dump({"runs": runs}, sys.stdout)
        sys.stdout.write("\n")
        return
    for r in runs:
        t = r["timings"]
        wall = (max(x["end"] for x in t) - min(x["begin"] for x in t)) / 1e9
        busy = sum(x["end"] - x["begin"] for x in t) / 1e6
        print(f"{r['workers']:>3} workers: {busy / args.trials:.3f} ms per trial, {args.trials / wall:.1f} trials/s")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""pymoo and Optuna peers for `autotune bench search`.

Runs pymoo 0.6's NSGA-II (population 100, its default operators) and Optuna's
NSGAIISampler (its defaults) on the search benchmark's problems with the same
budget, and reports the median hypervolume over the seeds of the non-dominated
set of all evaluated points (reference 1.1 in every objective), as
`autotune bench search` does for its own strategies. For pymoo it also reports
the hypervolume of the final population, the figure usually published.

Usage: python3 search_peers.py [--evaluations N] [--seeds N] [--only zdt1,dtlz2]
       [--peers pymoo,optuna] [--jobs N] [--json]
"""

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from common import emit, log

# One thread per process: the runs themselves go in parallel.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

PROBLEMS = {"zdt1": (30, 2), "zdt2": (30, 2), "zdt3": (30, 2), "dtlz2": (12, 3)}
PEERS = ("pymoo", "optuna")
REFERENCE = 1.1


def evaluate(problem, x):
    """Objectives of the rows of x (n × variables, in [0, 1]); the formulas of Zitzler, Deb &
    Thiele 2000 (ZDT) and Deb, Thiele, Laumanns & Zitzler 2002 (DTLZ2), as in BenchmarkProblem."""
    import numpy as np
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if problem.startswith("zdt"):
        f1 = x[:, 0]
        g = 1 + 9 * x[:, 1:].sum(axis=1) / (x.shape[1] - 1)
        r = f1 / g
        if problem == "zdt1":
            h = 1 - np.sqrt(r)
        elif problem == "zdt2":
            h = 1 - r * r
        else:
            h = 1 - np.sqrt(r) - r * np.sin(10 * np.pi * f1)
        return np.column_stack([f1, g * h])
    m = PROBLEMS[problem][1]
    g = ((x[:, m - 1:] - 0.5) ** 2).sum(axis=1)
    theta = x[:, :m - 1] * np.pi / 2
    columns = []
    for i in range(m):
        f = 1 + g
        for j in range(m - 1 - i):
            f = f * np.cos(theta[:, j])
        if i > 0:
            f = f * np.sin(theta[:, m - 1 - i])
        columns.append(f)
    return np.column_stack(columns)


def hypervolume(points, objectives):
    import numpy as np
    from pymoo.indicators.hv import HV
    return float(HV(ref_point=np.full(objectives, REFERENCE))(np.asarray(points)))


def run_pymoo(problem, evaluations, seed, population):
    import numpy as np
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    variables, objectives = PROBLEMS[problem]
    evaluated = []

    class Benchmark(Problem):
        def __init__(self):
            super().__init__(n_var=variables, n_obj=objectives, xl=0.0, xu=1.0)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = evaluate(problem, x)
            evaluated.append(out["F"].copy())

    start = time.perf_counter()
    result = minimize(Benchmark(), NSGA2(pop_size=population), ("n_evals", evaluations), seed=seed, verbose=False)
    seconds = time.perf_counter() - start
    everything = np.vstack(evaluated)[:evaluations]
    return {"hypervolume": hypervolume(everything, objectives),
            "hypervolume_final_population": hypervolume(result.pop.get("F"), objectives),
            "seconds": seconds}


def run_optuna(problem, evaluations, seed):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    variables, objectives = PROBLEMS[problem]
    evaluated = []

    def objective(trial):
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(variables)]
        f = [float(v) for v in evaluate(problem, x)[0]]
        evaluated.append(f)
        return tuple(f)

    start = time.perf_counter()
    study = optuna.create_study(directions=["minimize"] * objectives,
                                sampler=optuna.samplers.NSGAIISampler(seed=seed))
    study.optimize(objective, n_trials=evaluations)
    return {"hypervolume": hypervolume(evaluated, objectives), "seconds": time.perf_counter() - start}


def run(job):
    peer, problem, evaluations, seed, population = job
    figures = run_pymoo(problem, evaluations, seed, population) if peer == "pymoo" else run_optuna(problem, evaluations, seed)
    log(f"{peer} {problem} seed {seed}: hypervolume {figures['hypervolume']:.4f}, {figures['seconds']:.1f} s")
    return job, figures


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="pymoo and Optuna peers of `autotune bench search`.")
    p.add_argument("--evaluations", type=int, default=10_000, help="evaluations per run (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=5, help="runs per problem, seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--only", default=",".join(PROBLEMS),
                   help="comma-separated problems, from: %(default)s")
    p.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers, from: %(default)s")
    p.add_argument("--population", type=int, default=100, help="pymoo NSGA-II population (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs in parallel (default: cores)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    if args.evaluations < 1 or args.seeds < 1 or args.population < 2 or args.jobs < 1:
        p.error("--evaluations, --seeds and --jobs must be at least 1, --population at least 2")
    args.problems = [s for s in args.only.split(",") if s]
    args.peer_names = [s for s in args.peers.split(",") if s]
    if not args.problems or any(s not in PROBLEMS for s in args.problems):
        p.error(f"--only takes a comma-separated subset of {','.join(PROBLEMS)}, got {args.only!r}")
    if not args.peer_names or any(s not in PEERS for s in args.peer_names):
        p.error(f"--peers takes a comma-separated subset of {','.join(PEERS)}, got {args.peers!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        import pymoo
        import optuna
    except ImportError as error:
        sys.exit(f"search peers: {error.name} is missing; install with "
                 "`pip install --break-system-packages pymoo optuna`")
    jobs = [(peer, problem, args.evaluations, seed, args.population)
            for problem in args.problems for peer in args.peer_names for seed in range(args.seeds)]
    log(f"search peers: {len(jobs)} runs of {args.evaluations} evaluations, {args.jobs} at a time")
    figures = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for (peer, problem, _, seed, _), result in pool.map(run, jobs):
            figures.setdefault((problem, peer), []).append(result)

    records = []
    for problem in args.problems:
        for peer in args.peer_names:
            runs = figures[(problem, peer)]
            name = f"{problem}.{peer}_nsga2"
            for key in ("hypervolume", "hypervolume_final_population"):
                if key in runs[0]:
                    records.append({"suite": "peers", "name": f"{name}.{key}",
                                    "value": round(statistics.median(r[key] for r in runs), 6),
                                    "unit": "", "better": "higher"})
            records.append({"suite": "peers", "name": f"{name}.seconds",
                            "value": round(statistics.median(r["seconds"] for r in runs), 3),
                            "unit": "s", "better": "lower"})
    host = {"peer": "pymoo+optuna", "version": f"pymoo {pymoo.__version__}, optuna {optuna.__version__}",
            "threads": args.jobs, "evaluations": args.evaluations, "seeds": args.seeds}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()

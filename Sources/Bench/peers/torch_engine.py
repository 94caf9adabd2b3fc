#!/usr/bin/env python3
"""PyTorch peer for `autotune bench engine`.

Trains the engine benchmark's two models (mlp, cnn) on Fashion-MNIST with the
same recipe as the Swift engine and reports the median training-epoch wall time
and the final test accuracy. See README.md in this folder.
"""

import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
MODELS = ("mlp", "cnn")
PEER = "torch"

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
EVAL_BATCH = 1000


# ----------------------------------------------------------------------------
# Data

def read_idx(path):
    """Reads a gzip-compressed IDX file of unsigned bytes into a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file "
                         f"(magic {zero:#06x}, type {dtype_code:#04x})")
    header = 4 + 4 * ndim
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise ValueError(f"{path}: header says {dims} ({count} bytes), "
                         f"file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=header).reshape(dims)


def load_fashion_mnist(data_dir):
    """Returns (x_train, y_train, x_test, y_test); images N×28×28 float32,
    scaled to [0, 1] and standardised with the training set's mean and std."""
    def part(name):
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            sys.exit(f"{PEER}: {path} not found; pass --data-dir, or install the "
                     "Debian package dataset-fashion-mnist (make deps)")
        return read_idx(path)

    x_train = part("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_train = part("train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = part("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_test = part("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"{data_dir}: image and label counts differ")

    mean = float(x_train.mean(dtype=np.float64))
    std = float(x_train.std(dtype=np.float64))
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    return x_train, y_train, x_test, y_test


# ----------------------------------------------------------------------------
# Command line and output (the same in both peers)

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=f"{PEER} peer of `autotune bench engine`: "
                    "Fashion-MNIST mlp/cnn, Adam, batch 128.")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="directory with the four Fashion-MNIST IDX .gz files "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=int, default=5, help="training epochs (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    p.add_argument("--only", default=",".join(MODELS),
                   help="comma-separated models to run, from: mlp,cnn (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    if args.threads < 1:
        p.error("--threads must be at least 1")
    models = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        p.error(f"--only takes a comma-separated subset of {','.join(MODELS)}, got {args.only!r}")
    args.models = [m for m in MODELS if m in models]   # fixed order, no duplicates
    return args


def records_for(model, epoch_seconds, accuracy):
    return [
        {"suite": "peers", "name": f"{PEER}.{model}.epoch_seconds",
         "value": round(epoch_seconds, 6), "unit": "s", "better": "lower"},
        {"suite": "peers", "name": f"{PEER}.{model}.test_accuracy",
         "value": round(accuracy, 6), "unit": "fraction", "better": "higher"},
    ]


def emit(records, host, as_json):
    if as_json:
        json.dump({"results": records, "host": host}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(f"{host['peer']} {host['version']}, {host['threads']} thread(s)")
    width = max(len(r["name"]) for r in records)
    print(f"{'name':<{width}}  {'value':>10}  unit      better")
    for r in records:
        print(f"{r['name']:<{width}}  {r['value']:>10.4f}  {r['unit']:<8}  {r['better']}")


def log(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Models and training

def main(argv=None):
    args = parse_args(argv)

    import torch
    from torch import nn
    import torch.nn.functional as F

    # Both must be set before any parallel work starts.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)

    def make_model(name):
        # nn.Linear / nn.Conv2d default initialisation: weight and bias
        # uniform in ±1/sqrt(fan_in).
        if name == "mlp":
            return nn.Sequential(
                nn.Flatten(),
                nn.Linear(784, 512), nn.ReLU(),
                nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10),
            )
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    x_train_np, y_train_np, x_test_np, y_test_np = load_fashion_mnist(args.data_dir)
    log(f"{PEER}: {len(x_train_np)} train / {len(x_test_np)} test images, "
        f"{args.threads} thread(s), {args.epochs} epoch(s), seed {args.seed}")

    # N×1×28×28 for both models; the mlp flattens it first.
    x_train = torch.from_numpy(x_train_np).unsqueeze(1).contiguous()
    y_train = torch.from_numpy(y_train_np)
    x_test = torch.from_numpy(x_test_np).unsqueeze(1).contiguous()
    y_test = torch.from_numpy(y_test_np)
    n_train = len(x_train)

    def evaluate(model):
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_test), EVAL_BATCH):
                logits = model(x_test[start:start + EVAL_BATCH])
                correct += int((logits.argmax(dim=1) == y_test[start:start + EVAL_BATCH]).sum())
        return correct / len(x_test)

    records = []
    for name in args.models:
        torch.manual_seed(args.seed)
        rng = np.random.default_rng(args.seed)
        model = make_model(name)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS,
                                     eps=EPSILON, weight_decay=0.0)
        n_params = sum(p.numel() for p in model.parameters())
        log(f"{PEER}.{name}: {n_params} parameters")

        epoch_times = []
        for epoch in range(1, args.epochs + 1):
            order = torch.from_numpy(rng.permutation(n_train))
            model.train()
            loss_sum = torch.zeros(())
            start_time = time.perf_counter()
            for start in range(0, n_train, BATCH_SIZE):
                idx = order[start:start + BATCH_SIZE]
                xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * len(idx)
            elapsed = time.perf_counter() - start_time
            epoch_times.append(elapsed)
            log(f"{PEER}.{name}: epoch {epoch}/{args.epochs}  {elapsed:.3f}s  "
                f"train loss {float(loss_sum) / n_train:.4f}")

        accuracy = evaluate(model)
        median = statistics.median(epoch_times)
        log(f"{PEER}.{name}: median epoch {median:.3f}s, test accuracy {accuracy:.4f}")
        records += records_for(name, median, accuracy)

    host = {"peer": PEER, "version": torch.__version__, "threads": args.threads}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()

"""What the PyTorch and JAX peers of `autotune bench engine` share: the
Fashion-MNIST reader, the command line and the record format. numpy is imported
inside the functions, so a peer can set its thread limits before it loads."""

import argparse
import gzip
import json
import os
import struct
import sys

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
MODELS = ("mlp", "cnn")


def read_idx(path):
    """Reads a gzip-compressed IDX file of unsigned bytes into a numpy array."""
    import numpy as np
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


def load_fashion_mnist(data_dir, peer, label_dtype):
    """Returns (x_train, y_train, x_test, y_test): images N×28×28 float32,
    scaled to [0, 1] and standardised with the training set's mean and std."""
    import numpy as np

    def part(name):
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            sys.exit(f"{peer}: {path} not found; pass --data-dir, or install the "
                     "Debian package dataset-fashion-mnist (make deps)")
        return read_idx(path)

    x_train = part("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_train = part("train-labels-idx1-ubyte.gz").astype(label_dtype)
    x_test = part("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_test = part("t10k-labels-idx1-ubyte.gz").astype(label_dtype)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"{data_dir}: image and label counts differ")

    mean = float(x_train.mean(dtype=np.float64))
    std = float(x_train.std(dtype=np.float64))
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    return x_train, y_train, x_test, y_test


def parse_args(peer, argv=None):
    p = argparse.ArgumentParser(
        description=f"{peer} peer of `autotune bench engine`: "
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


def records_for(peer, model, epoch_seconds, accuracy):
    return [
        {"suite": "peers", "name": f"{peer}.{model}.epoch_seconds",
         "value": round(epoch_seconds, 6), "unit": "s", "better": "lower"},
        {"suite": "peers", "name": f"{peer}.{model}.test_accuracy",
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

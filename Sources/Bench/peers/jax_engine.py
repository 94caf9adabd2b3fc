#!/usr/bin/env python3
"""JAX peer for `autotune bench engine`.

Trains the engine benchmark's two models (mlp, cnn) on Fashion-MNIST with the
same recipe as the Swift engine and reports the median training-epoch wall time
and the final test accuracy. Plain jax.numpy / jax.lax: the layers, the
PyTorch-style initialisation and Adam are written out here, and the whole
training step (batch gather, forward, backward, Adam) is one jitted function.
See README.md in this folder.
"""

import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
MODELS = ("mlp", "cnn")
PEER = "jax"

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
EVAL_BATCH = 1000


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


def limit_threads(n):
    """Thread settings that XLA and the BLAS libraries read when they load, so
    this must run before numpy and jax are imported."""
    flags = f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={n}"
    previous = os.environ.get("XLA_FLAGS", "").strip()
    os.environ["XLA_FLAGS"] = f"{previous} {flags}".strip()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["JAX_PLATFORMS"] = "cpu"


# ----------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)

    import numpy as np
    import jax
    import jax.numpy as jnp
    from jax import lax

    # ---------------------------------------------------------------- data

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
        """Images N×28×28 float32, scaled to [0, 1] and standardised with the
        training set's mean and std; labels int32."""
        def part(name):
            path = os.path.join(data_dir, name)
            if not os.path.isfile(path):
                sys.exit(f"{PEER}: {path} not found; pass --data-dir, or install the "
                         "Debian package dataset-fashion-mnist (make deps)")
            return read_idx(path)

        x_train = part("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
        y_train = part("train-labels-idx1-ubyte.gz").astype(np.int32)
        x_test = part("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
        y_test = part("t10k-labels-idx1-ubyte.gz").astype(np.int32)
        if len(x_train) != len(y_train) or len(x_test) != len(y_test):
            raise ValueError(f"{data_dir}: image and label counts differ")

        mean = float(x_train.mean(dtype=np.float64))
        std = float(x_train.std(dtype=np.float64))
        x_train = ((x_train - mean) / std).astype(np.float32)
        x_test = ((x_test - mean) / std).astype(np.float32)
        return x_train, y_train, x_test, y_test

    # -------------------------------------------------------------- layers
    # Parameters are a list of (weight, bias) pairs. Images are NHWC and
    # convolution kernels HWIO (XLA's preferred CPU layout); the flatten before
    # the first dense layer is then in (h, w, c) order rather than PyTorch's
    # (c, h, w), a fixed permutation of that layer's inputs that changes
    # neither the model nor its (i.i.d.) initialisation.

    def uniform_pair(key, w_shape, b_shape, fan_in):
        # PyTorch's default for nn.Linear and nn.Conv2d: weight and bias
        # uniform in ±1/sqrt(fan_in).
        bound = 1.0 / np.sqrt(fan_in)
        kw, kb = jax.random.split(key)
        w = jax.random.uniform(kw, w_shape, jnp.float32, -bound, bound)
        b = jax.random.uniform(kb, b_shape, jnp.float32, -bound, bound)
        return w, b

    def dense_params(key, n_in, n_out):
        return uniform_pair(key, (n_in, n_out), (n_out,), n_in)

    def conv_params(key, c_in, c_out, k=3):
        return uniform_pair(key, (k, k, c_in, c_out), (c_out,), c_in * k * k)

    def dense(p, x):
        w, b = p
        return jnp.dot(x, w) + b

    def conv3x3(p, x):
        w, b = p
        y = lax.conv_general_dilated(x, w, window_strides=(1, 1),
                                     padding=((1, 1), (1, 1)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + b

    def relu(x):
        return jnp.maximum(x, 0.0)

    def maxpool2(x):
        return lax.reduce_window(x, -jnp.inf, lax.max,
                                 window_dimensions=(1, 2, 2, 1),
                                 window_strides=(1, 2, 2, 1), padding="VALID")

    def init_model(name, key):
        keys = jax.random.split(key, 4)
        if name == "mlp":
            return [dense_params(keys[0], 784, 512),
                    dense_params(keys[1], 512, 512),
                    dense_params(keys[2], 512, 10)]
        return [conv_params(keys[0], 1, 32),
                conv_params(keys[1], 32, 64),
                dense_params(keys[2], 7 * 7 * 64, 128),
                dense_params(keys[3], 128, 10)]

    def mlp_forward(params, x):
        h = x.reshape(x.shape[0], -1)
        h = relu(dense(params[0], h))
        h = relu(dense(params[1], h))
        return dense(params[2], h)

    def cnn_forward(params, x):
        h = maxpool2(relu(conv3x3(params[0], x)))      # N×14×14×32
        h = maxpool2(relu(conv3x3(params[1], h)))      # N×7×7×64
        h = h.reshape(h.shape[0], -1)                  # N×3136
        h = relu(dense(params[2], h))
        return dense(params[3], h)

    def cross_entropy(logits, labels):
        """Mean softmax cross-entropy over the batch."""
        top = lax.stop_gradient(jnp.max(logits, axis=1, keepdims=True))
        shifted = logits - top
        log_norm = jnp.log(jnp.sum(jnp.exp(shifted), axis=1))
        picked = jnp.take_along_axis(shifted, labels[:, None], axis=1)[:, 0]
        return jnp.mean(log_norm - picked)

    # ---------------------------------------------------------------- adam

    def adam_init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return {"m": zeros, "v": jax.tree.map(jnp.zeros_like, params),
                "t": jnp.zeros((), jnp.int32)}

    def adam_update(params, grads, state):
        # The same arithmetic as torch.optim.Adam (no weight decay, no amsgrad):
        #   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
        #   θ ← θ − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
        b1, b2 = BETAS
        t = state["t"] + 1
        tf = t.astype(jnp.float32)
        step_size = LEARNING_RATE / (1.0 - b1 ** tf)
        root_correction2 = jnp.sqrt(1.0 - b2 ** tf)
        m = jax.tree.map(lambda m, g: b1 * m + (1.0 - b1) * g, state["m"], grads)
        v = jax.tree.map(lambda v, g: b2 * v + (1.0 - b2) * g * g, state["v"], grads)
        params = jax.tree.map(
            lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / root_correction2 + EPSILON),
            params, m, v)
        return params, {"m": m, "v": v, "t": t}

    # ------------------------------------------------------------ training

    def make_steps(forward):
        def loss_fn(params, xb, yb):
            return cross_entropy(forward(params, xb), yb)

        # One jitted step: gather the batch from the device-resident training
        # set, forward, backward, Adam. `batch` is static (128, and the size of
        # the last partial batch); the state buffers are donated.
        def train_step(params, opt, loss_sum, x_all, y_all, order, start, batch):
            idx = lax.dynamic_slice_in_dim(order, start, batch)
            xb = jnp.take(x_all, idx, axis=0)
            yb = jnp.take(y_all, idx, axis=0)
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            params, opt = adam_update(params, grads, opt)
            return params, opt, loss_sum + loss * batch

        def correct_count(params, xb, yb):
            predictions = jnp.argmax(forward(params, xb), axis=1)
            return jnp.sum(predictions == yb)

        return (jax.jit(train_step, static_argnames="batch", donate_argnums=(0, 1, 2)),
                jax.jit(correct_count))

    x_train_np, y_train_np, x_test_np, y_test_np = load_fashion_mnist(args.data_dir)
    n_train, n_test = len(x_train_np), len(x_test_np)
    log(f"{PEER}: {n_train} train / {n_test} test images, {args.threads} thread(s), "
        f"{args.epochs} epoch(s), seed {args.seed}, device {jax.devices()[0]}")

    # N×28×28×1 for both models; the mlp flattens it first.
    x_train = jax.device_put(x_train_np[..., None])
    y_train = jax.device_put(y_train_np)
    x_test = jax.device_put(x_test_np[..., None])
    y_test = jax.device_put(y_test_np)

    batches = [(s, min(BATCH_SIZE, n_train - s)) for s in range(0, n_train, BATCH_SIZE)]
    batch_sizes = sorted({b for _, b in batches}, reverse=True)

    records = []
    for name in args.models:
        forward = mlp_forward if name == "mlp" else cnn_forward
        train_step, correct_count = make_steps(forward)
        rng = np.random.default_rng(args.seed)
        params = init_model(name, jax.random.key(args.seed))
        opt = adam_init(params)
        loss_sum = jnp.zeros((), jnp.float32)
        n_params = sum(int(p.size) for p in jax.tree.leaves(params))
        log(f"{PEER}.{name}: {n_params} parameters")

        # Compile (and run once) every step shape on throw-away copies of the
        # state, so no compilation falls inside the timed epochs.
        compile_start = time.perf_counter()
        warm_order = jnp.arange(n_train, dtype=jnp.int32)
        for batch in batch_sizes:
            copies = jax.tree.map(jnp.copy, (params, opt, loss_sum))
            jax.block_until_ready(train_step(*copies, x_train, y_train, warm_order, 0, batch=batch))
        log(f"{PEER}.{name}: compiled step(s) for batch {batch_sizes} "
            f"in {time.perf_counter() - compile_start:.1f}s")

        epoch_times = []
        for epoch in range(1, args.epochs + 1):
            order = jax.device_put(rng.permutation(n_train).astype(np.int32))
            loss_sum = jnp.zeros((), jnp.float32)
            jax.block_until_ready((order, loss_sum))
            start_time = time.perf_counter()
            for start, batch in batches:
                params, opt, loss_sum = train_step(params, opt, loss_sum, x_train, y_train,
                                                   order, start, batch=batch)
            jax.block_until_ready((params, opt, loss_sum))
            elapsed = time.perf_counter() - start_time
            epoch_times.append(elapsed)
            log(f"{PEER}.{name}: epoch {epoch}/{args.epochs}  {elapsed:.3f}s  "
                f"train loss {float(loss_sum) / n_train:.4f}")

        correct = 0
        for start in range(0, n_test, EVAL_BATCH):
            correct += int(correct_count(params, x_test[start:start + EVAL_BATCH],
                                         y_test[start:start + EVAL_BATCH]))
        accuracy = correct / n_test
        median = statistics.median(epoch_times)
        log(f"{PEER}.{name}: median epoch {median:.3f}s, test accuracy {accuracy:.4f}")
        records += records_for(name, median, accuracy)

    host = {"peer": PEER, "version": jax.__version__, "threads": args.threads}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""JAX peer for `autotune bench engine`.

Trains the engine benchmark's two models (mlp, cnn) on Fashion-MNIST with the
same recipe as the Swift engine and reports the median training-epoch wall time
and the final test accuracy. Plain jax.numpy / jax.lax: the layers, the
PyTorch-style initialisation and Adam are written out here, and the whole
training step (batch gather, forward, backward, Adam) is one jitted function.
See README.md in this folder.
"""

import os
import statistics
import time

from common import emit, load_fashion_mnist, log, parse_args, records_for

PEER = "jax"

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
EVAL_BATCH = 1000


def limit_threads(n):
    """Limit XLA and the BLAS libraries to n threads; must run before numpy and
    jax are imported. XLA's CPU client sizes its thread pool from the CPUs the
    process may run on, so the process is pinned to n of them."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["JAX_PLATFORMS"] = "cpu"
    cpus = sorted(os.sched_getaffinity(0))
    if n < len(cpus):
        os.sched_setaffinity(0, cpus[:n])


# ----------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(PEER, argv)
    limit_threads(args.threads)

    import numpy as np
    import jax
    import jax.numpy as jnp
    from jax import lax

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

    x_train_np, y_train_np, x_test_np, y_test_np = load_fashion_mnist(args.data_dir, PEER, np.int32)
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
        records += records_for(PEER, name, median, accuracy)

    host = {"peer": PEER, "version": jax.__version__, "threads": args.threads}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()

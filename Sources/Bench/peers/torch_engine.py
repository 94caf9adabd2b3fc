#!/usr/bin/env python3
"""PyTorch peer for `autotune bench engine`.

Trains the engine benchmark's two models (mlp, cnn) on Fashion-MNIST with the
same recipe as the Swift engine and reports the median training-epoch wall time
and the final test accuracy. See README.md in this folder.
"""

import statistics
import time

import numpy as np

from common import emit, load_fashion_mnist, log, parse_args, records_for

PEER = "torch"

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
EVAL_BATCH = 1000


# ----------------------------------------------------------------------------
# Models and training

def main(argv=None):
    args = parse_args(PEER, argv)

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

    x_train_np, y_train_np, x_test_np, y_test_np = load_fashion_mnist(args.data_dir, PEER, np.int64)
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
        records += records_for(PEER, name, median, accuracy)

    host = {"peer": PEER, "version": torch.__version__, "threads": args.threads}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A stand-in for a training script, for trying the command evaluator without training anything.

Reads one candidate (the JSON document autotune materialises from mixed-conditional.json) on
standard input and prints its metrics as one JSON object on the last line of standard output:

    {"accuracy": 0.831488, "error": 0.168512, "params": 235146}

(an MLP with widths [256, 128], dropout 0.2, Adam at lr 0.001, batch 32, 8 epochs).

`params` is the exact parameter count of the described network on 28×28×1 images with 10
classes. `accuracy` is a smooth made-up function of the candidate (capacity, learning rate
against a per-optimizer optimum, momentum, epochs, dropout): deterministic, so the same candidate
always scores the same, with a trade-off between accuracy and size for a Pareto front to form.
"""
import json
import math
import sys

IMAGE, CHANNELS, CLASSES = 28, 1, 10


def fail(message):
    print(f"toy_objective: {message}", file=sys.stderr)
    sys.exit(1)


def dense_params(inputs, widths):
    total = 0
    for width in list(widths) + [CLASSES]:
        total += inputs * width + width
        inputs = width
    return total


def parameter_count(arch):
    family = arch.get("family")
    if family == "mlp":
        return dense_params(IMAGE * IMAGE * CHANNELS, arch["widths"])
    if family == "cnn":
        size, channels, total = IMAGE, CHANNELS, 0
        for stage in arch["stages"]:
            k, out = stage["kernel"], stage["channels"]
            total += k * k * channels * out + out
            channels = out
            if stage.get("pool", "none") != "none":
                size //= 2
        return total + dense_params(size * size * channels, arch.get("head", []))
    fail(f"unknown family {family!r}")


def accuracy(candidate, params):
    arch, training = candidate["architecture"], candidate["training"]
    optimizer = training["optimizer"]
    best_lr = {"adam": 1e-3, "sgd": 3e-2}.get(optimizer["name"], 1e-3)
    error = 0.08 if arch["family"] == "cnn" else 0.11
    error += 0.6 / math.log(params)                                  # capacity
    error += 0.04 * (math.log10(optimizer["lr"]) - math.log10(best_lr)) ** 2
    if optimizer["name"] == "sgd":
        error += 0.5 * (0.92 - optimizer.get("momentum", 0.0)) ** 2
    error += 0.08 / training["epochs"]                                # under-training
    error += 0.01 * math.log2(training["batch_size"] / 32)
    if arch["family"] == "mlp":
        error += 0.1 * (arch.get("dropout", 0.0) - 0.2) ** 2
    if arch.get("activation") == "gelu":
        error -= 0.004
    return min(max(1.0 - error, 0.0), 1.0)


def main():
    try:
        candidate = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        fail(f"the candidate on stdin is not JSON: {e}")
    try:
        params = parameter_count(candidate["architecture"])
        acc = accuracy(candidate, params)
    except (KeyError, TypeError) as e:
        fail(f"the candidate lacks a field the toy model needs: {e}")
    print(f"toy_objective: {candidate['architecture']['family']} with {params} parameters")
    print(json.dumps({"accuracy": round(acc, 6), "error": round(1 - acc, 6), "params": params}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A stand-in for a DeepSpeed fine-tuning script, for the command evaluator and its export.

Run by the study (searchspaces/deepspeed-command.json), it takes the trial's settings as
arguments and prints its metrics as one JSON object on the last line of standard output:

    python3 toy_finetune.py --lr 0.0001 --zero 2 --micro-batch 4 --precision bf16
    {"loss": 2.1837, "gpu_memory_gib": 15.3}

`gpu_memory_gib` is the per-GPU memory of fine-tuning a 1.3B-parameter model on 8 GPUs with
mixed-precision Adam: model states of 2 + 2 + 12 bytes per parameter, partitioned by ZeRO's stage
(Rajbhandari et al. 2019: stage 1 the 12 optimizer bytes, stage 2 also the gradients, stage 3 also
the weights), plus activations growing with the micro-batch. `loss` is a smooth made-up function
of the learning rate and batch (deterministic, with a trade-off against memory for a front).

Launched by `autotune export`'s launch line (under `deepspeed ... --deepspeed_config ds_config.json`),
it reads the config, checks it with DeepSpeed's own parser when DeepSpeed is installed, and
prints the settings it would fine-tune with.
"""
import argparse
import json
import math
import sys

PARAMETERS, GPUS = 1.3e9, 8
ACTIVATION_GIB_PER_SAMPLE = 1.1
GIB = 2 ** 30


def memory_gib(zero, micro_batch):
    weights, gradients, optimizer = 2 * PARAMETERS, 2 * PARAMETERS, 12 * PARAMETERS
    if zero >= 1:
        optimizer /= GPUS
    if zero >= 2:
        gradients /= GPUS
    if zero >= 3:
        weights /= GPUS
    return (weights + gradients + optimizer) / GIB + ACTIVATION_GIB_PER_SAMPLE * micro_batch


def loss(lr, micro_batch, precision):
    value = 2.1 + 0.15 * (math.log10(lr) - math.log10(1e-4)) ** 2
    value += 0.02 * abs(math.log2(micro_batch / 4))
    if precision == "fp16":
        value += 0.01
    return value


def main():
    parser = argparse.ArgumentParser(fromfile_prefix_chars="@")
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--zero", type=int, choices=[0, 1, 2, 3], required=True)
    parser.add_argument("--micro-batch", type=int, required=True)
    parser.add_argument("--precision", choices=["bf16", "fp16"], required=True)
    parser.add_argument("--deepspeed", action="store_true")
    parser.add_argument("--deepspeed_config")
    parser.add_argument("--local_rank", type=int, default=0)
    args = parser.parse_args()
    if args.deepspeed_config:
        with open(args.deepspeed_config) as f:
            config = json.load(f)
        try:
            from deepspeed.runtime.config import DeepSpeedConfig
            DeepSpeedConfig(config)
            checked = "checked by DeepSpeed"
        except ImportError:
            checked = "DeepSpeed not installed: not checked"
        print(f"toy_finetune: would fine-tune with {json.dumps(config, sort_keys=True)} ({checked})")
        return
    print(f"toy_finetune: lr {args.lr:g}, ZeRO {args.zero}, micro-batch {args.micro_batch}, {args.precision}")
    print(json.dumps({"loss": round(loss(args.lr, args.micro_batch, args.precision), 6),
                      "gpu_memory_gib": round(memory_gib(args.zero, args.micro_batch), 3)}))


if __name__ == "__main__":
    sys.exit(main())

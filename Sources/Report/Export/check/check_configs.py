#!/usr/bin/env python3
"""Load exported configs with the tools that consume them.

    check_configs.py DIR...

Each DIR holds one trial's export: `ds_config.json` with its `launch.sh`, and/or
`accelerate.yaml` (with `accelerate_ds_config.json` beside it under DeepSpeed).

- ds_config.json: parsed by DeepSpeed's own `DeepSpeedConfig` at the data-parallel world size
  the launch line gives (nodes × GPUs / (tp × pp), as Megatron's mpu reports it), so DeepSpeed's
  batch assertion is checked for the job as it will be launched; a Megatron launch's
  --micro-batch-size and --global-batch-size must agree with the config.
- accelerate.yaml: loaded by Accelerate's own config loader (unknown top-level keys are errors
  there); the keys of its sections must be arguments `accelerate launch` knows (it would ignore a
  misspelt one); the process count must be the machines' GPUs; a DeepSpeed config it names is
  checked as above at that many processes.

Exits 1 with one line per problem; prints a summary line otherwise.
"""
import os
import shlex
import sys

import yaml


class DataParallel:
    """What Megatron's mpu tells DeepSpeed: the data-parallel world size."""

    def __init__(self, size):
        self.size = size

    def get_data_parallel_world_size(self):
        return self.size


def launch_words(path):
    with open(path) as f:
        for line in f:
            if line.startswith("deepspeed "):
                return shlex.split(line.replace('"$@"', ""))
    raise ValueError(f"{path}: no deepspeed line")


def flag(words, name, default=None):
    return int(words[words.index(name) + 1]) if name in words else default


def check_deepspeed(config_path, data_parallel, problems, megatron=None):
    from deepspeed.runtime.config import DeepSpeedConfig
    try:
        config = DeepSpeedConfig(config_path, mpu=DataParallel(data_parallel))
    except Exception as e:  # DeepSpeed raises assertions and its own errors alike
        problems.append(f"{config_path}: DeepSpeed refuses it at data-parallel size {data_parallel}: {type(e).__name__}: {e}")
        return
    if config.world_size != data_parallel:
        problems.append(f"{config_path}: DeepSpeed saw world size {config.world_size}, not {data_parallel}")
    if megatron:
        micro, global_batch = flag(megatron, "--micro-batch-size"), flag(megatron, "--global-batch-size")
        if micro is not None and micro != config.train_micro_batch_size_per_gpu:
            problems.append(f"{config_path}: --micro-batch-size {micro} but train_micro_batch_size_per_gpu {config.train_micro_batch_size_per_gpu}")
        if global_batch is not None and global_batch != config.train_batch_size:
            problems.append(f"{config_path}: --global-batch-size {global_batch} but train_batch_size {config.train_batch_size}")


def launch_arguments():
    from accelerate.commands.launch import launch_command_parser
    return vars(launch_command_parser().parse_args(["x.py"]))


def check_accelerate(directory, known, problems):
    from accelerate.commands.config.config_args import load_config_from_file
    path = os.path.join(directory, "accelerate.yaml")
    try:
        config = load_config_from_file(path)
    except Exception as e:
        problems.append(f"{path}: Accelerate refuses it: {type(e).__name__}: {e}")
        return
    with open(path) as f:
        raw = yaml.safe_load(f)
    for section in ("deepspeed_config", "fsdp_config", "megatron_lm_config", "fp8_config"):
        for key in (raw.get(section) or {}):
            name = key if section != "fp8_config" or key.startswith("fp8") else "fp8_" + key
            if section == "fsdp_config" and not name.startswith("fsdp"):
                name = "fsdp_" + name
            if name not in known:
                problems.append(f"{path}: {section}.{key} is not an argument accelerate launch knows")
    processes = config.num_processes
    launch = os.path.join(directory, "launch.sh")
    # A launch line without --num_gpus runs on every GPU of the machine: nothing to compare.
    if os.path.exists(launch) and "--num_gpus" in launch_words(launch):
        words = launch_words(launch)
        devices = flag(words, "--num_nodes", 1) * flag(words, "--num_gpus", 1)
        if str(config.distributed_type).endswith("NO"):
            devices = 1
        if processes != devices:
            problems.append(f"{path}: num_processes {processes}, but the job runs on {devices} devices")
    mega = raw.get("megatron_lm_config") or {}
    tp, pp = mega.get("megatron_lm_tp_degree", 1), mega.get("megatron_lm_pp_degree", 1)
    if processes % (tp * pp):
        problems.append(f"{path}: {processes} processes do not split into tp {tp} × pp {pp}")
    ds_file = (raw.get("deepspeed_config") or {}).get("deepspeed_config_file")
    if ds_file:
        check_deepspeed(ds_file, processes, problems)


def main(directories):
    import deepspeed
    deepspeed.init_distributed(dist_backend="gloo", auto_mpi_discovery=False, verbose=False)
    known = launch_arguments()
    problems, configs, yamls = [], 0, 0
    for directory in directories:
        ds = os.path.join(directory, "ds_config.json")
        if os.path.exists(ds):
            words = launch_words(os.path.join(directory, "launch.sh"))
            tp = flag(words, "--tensor-model-parallel-size", 1)
            pp = flag(words, "--pipeline-model-parallel-size", 1)
            devices = flag(words, "--num_nodes", 1) * flag(words, "--num_gpus", 1)
            if devices % (tp * pp):
                problems.append(f"{ds}: {devices} devices do not split into tp {tp} × pp {pp}")
                continue
            check_deepspeed(ds, devices // (tp * pp), problems, megatron=words if "--tensor-model-parallel-size" in words else None)
            configs += 1
        if os.path.exists(os.path.join(directory, "accelerate.yaml")):
            check_accelerate(directory, known, problems)
            yamls += 1
    for p in problems:
        print(p)
    print(f"check-configs: {configs} DeepSpeed configs and {yamls} Accelerate configs loaded by DeepSpeed and Accelerate, "
          f"{len(problems)} problem{'s' if len(problems) != 1 else ''}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

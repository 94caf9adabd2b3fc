"""DeepSpeed's own estimates of ZeRO model-state memory, for `autotune bench costmodel`.

Reads a JSON list of rows on stdin — {"parameters", "largest_layer", "gpus_per_node", "nodes",
"zero" (2 or 3), "offload" ("none", "optimizer" or "optimizer_and_parameters")} — and prints a
JSON list of {"gpu": bytes, "cpu": bytes} per row: what
estimate_zero2_model_states_mem_needs_all_cold and estimate_zero3_model_states_mem_needs_all_cold
print for that row's options (the per-option functions they call, with their defaults:
additional_buffer_factor 1.5, zero_init on). Run it with the Python of an environment that has
DeepSpeed installed; DS_ACCELERATOR=cpu lets it import without a GPU."""

import json
import os
import sys


def main():
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
        import deepspeed
    except ImportError as e:
        sys.exit(f"deepspeed_memory.py: cannot import DeepSpeed: {e}")
    rows = json.load(sys.stdin)
    out = []
    for r in rows:
        offload = r["offload"]
        if offload not in ("none", "optimizer", "optimizer_and_parameters"):
            sys.exit(f"deepspeed_memory.py: unknown offload {offload!r}")
        if r["zero"] == 2:
            if offload == "optimizer_and_parameters":
                sys.exit("deepspeed_memory.py: ZeRO-2 does not offload parameters")
            cpu, gpu = estimate_zero2_model_states_mem_needs(
                total_params=r["parameters"], num_gpus_per_node=r["gpus_per_node"], num_nodes=r["nodes"],
                cpu_offload=offload != "none")
        elif r["zero"] == 3:
            cpu, gpu, _ = estimate_zero3_model_states_mem_needs(
                total_params=r["parameters"], largest_layer_params=r["largest_layer"],
                num_gpus_per_node=r["gpus_per_node"], num_nodes=r["nodes"],
                cpu_offload=offload != "none", cpu_offload_params=offload == "optimizer_and_parameters")
        else:
            sys.exit(f"deepspeed_memory.py: DeepSpeed estimates ZeRO stages 2 and 3, not {r['zero']}")
        out.append({"gpu": gpu, "cpu": cpu})
    json.dump({"deepspeed": deepspeed.__version__, "rows": out}, sys.stdout)


if __name__ == "__main__":
    main()

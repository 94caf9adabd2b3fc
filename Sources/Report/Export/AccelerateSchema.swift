import Engine
import Foundation

/// The keys `accelerate launch` reads from a config file, from Accelerate's `ClusterConfig` (the
/// top level, which it checks: an unknown key is an error) and its launch arguments (the keys of
/// the `deepspeed_config`, `fsdp_config` and `megatron_lm_config` sections, which it passes on
/// unchecked: a misspelt one would be ignored, so it is refused here).
enum AccelerateSchema {
    static let top: Set<String> = [
        "compute_environment", "distributed_type", "mixed_precision", "use_cpu", "debug", "num_processes", "machine_rank",
        "num_machines", "gpu_ids", "main_process_ip", "main_process_port", "rdzv_backend", "same_network",
        "main_training_function", "enable_cpu_affinity", "fp8_config", "deepspeed_config", "fsdp_config", "parallelism_config",
        "megatron_lm_config", "mpirun_config", "downcast_bf16", "tpu_name", "tpu_zone", "tpu_use_cluster", "tpu_use_sudo",
        "command_file", "commands", "tpu_vm", "tpu_env", "dynamo_config",
    ]
    static let sections: [String: Set<String>] = [
        "deepspeed_config": [
            "deepspeed_config_file", "zero_stage", "offload_optimizer_device", "offload_param_device", "offload_optimizer_nvme_path",
            "offload_param_nvme_path", "gradient_accumulation_steps", "gradient_clipping", "zero3_save_16bit_model", "zero3_init_flag",
            "deepspeed_moe_layer_cls_names", "deepspeed_multinode_launcher", "deepspeed_hostfile", "deepspeed_exclusion_filter",
            "deepspeed_inclusion_filter",
        ],
        "fsdp_config": [
            "fsdp_version", "fsdp_reshard_after_forward", "fsdp_sharding_strategy", "fsdp_offload_params", "fsdp_auto_wrap_policy",
            "fsdp_transformer_layer_cls_to_wrap", "fsdp_min_num_params", "fsdp_backward_prefetch", "fsdp_forward_prefetch",
            "fsdp_state_dict_type", "fsdp_use_orig_params", "fsdp_cpu_ram_efficient_loading", "fsdp_sync_module_states",
            "fsdp_activation_checkpointing",
        ],
        "megatron_lm_config": Set([
            "tp_degree", "pp_degree", "num_micro_batches", "sequence_parallelism", "recompute_activations", "recompute_granularity",
            "recompute_method", "recompute_num_layers", "use_distributed_optimizer", "optimizer_cpu_offload", "gradient_clipping",
            "attention_backend", "context_parallel_size", "expert_model_parallel_size", "use_rotary_position_embeddings",
        ].map { "megatron_lm_" + $0 }),
        "fp8_config": ["backend", "fp8_format", "margin", "interval", "amax_history_len", "amax_compute_algo", "override_linear_precision"],
    ]
    static let distributedTypes = ["NO", "MULTI_CPU", "MULTI_GPU", "MULTI_NPU", "MULTI_XPU", "DEEPSPEED", "FSDP", "MEGATRON_LM", "XLA"]

    /// Whether `path` names a key Accelerate reads, or why not.
    static func keyProblem(_ path: [String]) -> String? {
        guard let first = path.first else { return "an empty key" }
        guard top.contains(first) else {
            return "'\(first)' is not an Accelerate config key" + (closestMatch(to: first, among: Array(top)).map { ". Did you mean '\($0)'?" } ?? "")
        }
        guard path.count > 1 else { return nil }
        guard let keys = sections[first] else { return "'\(first)' holds no keys autotune knows" }
        guard path.count == 2 else { return "'\(path.joined(separator: "."))' is deeper than Accelerate's sections go" }
        guard keys.contains(path[1]) else {
            return "'\(path[1])' is not a key of \(first)" + (closestMatch(to: path[1], among: Array(keys)).map { ". Did you mean '\($0)'?" } ?? "")
        }
        return nil
    }

    /// Every problem of a whole config: unknown keys, a missing or unknown distributed type.
    static func problems(_ config: JSONValue) -> [String] {
        var out: [String] = []
        for m in config.members ?? [] {
            if let children = m.value.members, sections[m.key] != nil {
                for c in children { if let p = keyProblem([m.key, c.key]) { out.append(p) } }
            } else if let p = keyProblem([m.key]) { out.append(p) }
        }
        if let type = config["distributed_type"] {
            if !(type.string.map(distributedTypes.contains) ?? false) {
                out.append("distributed_type: expected one of \(distributedTypes.joined(separator: ", ")), got \(type.compactText)")
            }
        } else {
            out.append("distributed_type: missing (Accelerate needs it)")
        }
        return out
    }

    /// `config` as YAML: objects as indented blocks, strings quoted where YAML would read them as
    /// something else, arrays in JSON's flow form (which YAML reads the same).
    static func yaml(_ config: JSONValue) -> String {
        var lines: [String] = []
        func scalar(_ v: JSONValue) -> String {
            switch v {
            case .string(let s): return AccelerateExport.quoted(s)
            case .null: return "null"
            default: return v.compactText
            }
        }
        func write(_ members: [JSONValue.Member], indent: String) {
            for m in members {
                if let children = m.value.members, !children.isEmpty {
                    lines.append(indent + AccelerateExport.quoted(m.key) + ":")
                    write(children, indent: indent + "  ")
                } else if m.value.members != nil {
                    lines.append(indent + AccelerateExport.quoted(m.key) + ": {}")
                } else {
                    lines.append(indent + AccelerateExport.quoted(m.key) + ": " + scalar(m.value))
                }
            }
        }
        write(config.members ?? [], indent: "")
        return lines.joined(separator: "\n") + "\n"
    }
}

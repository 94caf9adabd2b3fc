import Engine
import Foundation

/// The training stack an export targets where a plan could run on more than one: ZeRO plans run
/// under DeepSpeed by default, or under PyTorch's FSDP.
public enum ExportStack: String, CaseIterable, Sendable {
    case deepspeed, fsdp
}

/// An Accelerate config file (`accelerate launch --config_file accelerate.yaml train.py`) from a
/// `TrainingSetup`.
///
/// Keys are those `accelerate launch` reads from a config file (the top level is Accelerate's
/// `ClusterConfig`, which rejects unknown keys; the sections' keys are its launch arguments).
/// The distributed type follows the plan:
///
/// | plan | `distributed_type` | carried by |
/// |---|---|---|
/// | tp or pp > 1, or selective recomputation of a transformer | `MEGATRON_LM` | `megatron_lm_config`: tp and pp degrees, micro-batches per step, sequence parallelism, recomputation, the distributed optimizer for ZeRO 1–2, optimizer offload |
/// | ZeRO 1–3, optimizer offload or full recomputation (stack deepspeed) | `DEEPSPEED` | the ds_config written beside it |
/// | ZeRO 1–3 or offload with `--stack fsdp` | `FSDP` | `fsdp_config`: FSDP2, resharding after forward for ZeRO 3, CPU offload, activation checkpointing |
/// | plain data parallelism | `MULTI_GPU` | `mixed_precision` |
/// | one device | `'NO'` | `mixed_precision` |
///
/// `num_machines` and `num_processes` (all processes of all machines) come from the cluster.
/// YAML's `no` is a boolean, so `'NO'` and `'no'` are quoted.
public enum AccelerateExport {
    public enum DistributedType: String, Sendable {
        case no = "NO", multiGPU = "MULTI_GPU", deepspeed = "DEEPSPEED", fsdp = "FSDP", megatron = "MEGATRON_LM"
    }

    /// How the setup is distributed on `stack`.
    public static func distributedType(_ s: TrainingSetup, stack: ExportStack = .deepspeed) -> DistributedType {
        if s.tp > 1 || s.pp > 1 || (s.transformer != nil && s.checkpointing == .selective) { return .megatron }
        if s.zeroStage >= 1 || s.offloadOptimizer { return stack == .fsdp ? .fsdp : .deepspeed }
        if s.checkpointing == .full && stack == .deepspeed { return .deepspeed }
        return s.devices > 1 ? .multiGPU : .no
    }

    /// An Accelerate config and what it does not carry (see `DeepSpeedExport.Job`).
    public struct Config: Equatable, Sendable {
        public var type: DistributedType
        public var text: String
        public var warnings: [String]
        public var lost: [String]
    }

    /// The YAML for `s` on `stack`.
    /// - Parameter deepSpeedConfigPath: where the ds_config file is, as `accelerate launch` will
    ///   be given it (relative to where it is run); used under `DEEPSPEED`.
    public static func yaml(_ s: TrainingSetup, stack: ExportStack = .deepspeed, deepSpeedConfigPath: String) -> Config {
        var warnings: [String] = [], lost: [String] = []
        let type = distributedType(s, stack: stack)
        var lines = ["compute_environment: LOCAL_MACHINE", "distributed_type: " + quoted(type.rawValue)]
        if type == .deepspeed {
            lines += ["deepspeed_config:", "  deepspeed_config_file: " + quoted(deepSpeedConfigPath),
                      "  zero3_init_flag: " + (s.zeroStage == 3 ? "true" : "false")]
            if s.nodes > 1 { lines.append("  deepspeed_multinode_launcher: standard") }
        } else {
            lines.append("mixed_precision: " + quoted(mixedPrecision(s, warnings: &warnings, lost: &lost)))
            if s.precision.format == .fp8 { lines += ["fp8_config:", "  backend: TE", "  fp8_format: HYBRID"] }
            for (i, step) in s.compression.enumerated() {
                lost.append("compression step \(i + 1), \(DeepSpeedExport.describe(step)): Accelerate has no compression settings")
            }
        }
        switch type {
        case .megatron: lines += megatron(s, warnings: &warnings, lost: &lost)
        case .fsdp: lines += fsdp(s, warnings: &warnings, lost: &lost)
        case .multiGPU, .no:
            if s.checkpointing != .none {
                lost.append("\(s.checkpointing.rawValue) activation recomputation: under \(type.rawValue) it is the model's to do (FSDP's or DeepSpeed's stack carries full recomputation)")
            }
        case .deepspeed: break
        }
        if s.flashAttention && type != .megatron {
            lost.append("FlashAttention: the attention kernel is the model's choice, not an Accelerate setting")
        }
        lines += ["machine_rank: 0", "num_machines: \(s.nodes)", "num_processes: \(type == .no ? 1 : s.devices)"]
        if s.nodes > 1 {
            lines += ["main_process_ip: null", "main_process_port: 29500"]
            warnings.append("set main_process_ip (the first machine's address) and machine_rank (0 to \(s.nodes - 1)) on each of the \(s.nodes) machines")
        }
        lines += ["rdzv_backend: static", "same_network: true", "main_training_function: main", "use_cpu: false"]
        if type != .deepspeed, s.contextParallel > 1 {
            lost.append("context parallelism (ring attention over \(s.contextParallel) ranks): Accelerate has no context-parallel setting")
        }
        if type != .deepspeed, s.expertParallel > 1 {
            lost.append("expert parallelism over \(s.expertParallel) ranks: Accelerate has no expert-parallel setting; the experts are the model's")
        }
        return Config(type: type, text: lines.joined(separator: "\n") + "\n", warnings: warnings, lost: lost)
    }

    /// `mixed_precision` for the setup's format.
    private static func mixedPrecision(_ s: TrainingSetup, warnings: inout [String], lost: inout [String]) -> String {
        switch s.precision.format {
        case .fp32: return "no"
        case .tf32:
            lost.append("TF32 matrix multiplications: a PyTorch switch, not an Accelerate setting (set torch.backends.cuda.matmul.allow_tf32 = True in the training script)")
            return "no"
        case .fp16:
            if let l = s.precision.lossScaling, l.scale != 0 {
                lost.append("the fixed loss scale \(JSONValue.format(l.scale)): Accelerate's fp16 scales the loss dynamically")
            }
            return "fp16"
        case .bf16: return "bf16"
        case .fp8:
            warnings.append("mixed_precision fp8 needs Transformer Engine installed (fp8_config backend TE)")
            return "fp8"
        }
    }

    /// The `megatron_lm_config` section.
    private static func megatron(_ s: TrainingSetup, warnings: inout [String], lost: inout [String]) -> [String] {
        var c = ["megatron_lm_config:", "  megatron_lm_tp_degree: \(s.tp)", "  megatron_lm_pp_degree: \(s.pp)",
                 "  megatron_lm_num_micro_batches: \(s.accumulation)",
                 "  megatron_lm_sequence_parallelism: " + (s.sequenceParallel && s.tp > 1 ? "true" : "false")]
        switch s.checkpointing {
        case .none: c.append("  megatron_lm_recompute_activations: false")
        case .selective: c += ["  megatron_lm_recompute_activations: true", "  megatron_lm_recompute_granularity: selective"]
        case .full:
            c += ["  megatron_lm_recompute_activations: false", "  megatron_lm_recompute_granularity: full",
                  "  megatron_lm_recompute_method: uniform", "  megatron_lm_recompute_num_layers: 1"]
        }
        switch s.zeroStage {
        case 0: c.append("  megatron_lm_use_distributed_optimizer: " + (s.offloadOptimizer ? "true" : "false"))
        case 1, 2:
            c.append("  megatron_lm_use_distributed_optimizer: true")
            if s.zeroStage == 2 {
                warnings.append("ZeRO stage 2 runs as Megatron's distributed optimizer, which shards the optimizer states and reduce-scatters the gradients")
            }
        default:
            c.append("  megatron_lm_use_distributed_optimizer: true")
            lost.append("ZeRO stage 3 (parameters sharded over the data-parallel ranks): Megatron under Accelerate shards optimizer states and gradients only")
        }
        if s.offloadOptimizer { c.append("  megatron_lm_optimizer_cpu_offload: true") }
        if s.offloadParameters { lost.append("parameter offload: Megatron under Accelerate offloads optimizer states only") }
        if let clip = s.gradientClip { c.append("  megatron_lm_gradient_clipping: \(JSONValue.format(clip))") }
        if s.pp > 1 && s.virtualStages > 1 {
            lost.append("the interleaved 1F1B schedule (\(s.virtualStages) model chunks per device): Accelerate passes no virtual-pipeline setting to Megatron")
        }
        if s.overlapTensorCommunication {
            lost.append("tensor-parallel communication overlapped with the products beside it: Accelerate passes no such setting to Megatron")
        }
        if s.pp > 1 && s.pipelineSchedule == .zeroBubble {
            lost.append("the ZB-H1 schedule (weight gradients deferred into the bubble): Accelerate passes no schedule to Megatron, which runs 1F1B")
        }
        if s.pp > 1, s.firstStageLayers != nil || s.lastStageLayers != nil {
            lost.append("uneven pipeline stages (\(s.stageLayersDescription)): Accelerate passes no per-stage layer counts to Megatron")
        }
        if s.pp > 1 && s.pipelineSchedule == .gpipe {
            warnings.append("the plan was costed with the GPipe schedule; Megatron runs 1F1B, which keeps fewer micro-batches' activations")
        }
        if s.flashAttention { c.append("  megatron_lm_attention_backend: true") }
        return c
    }

    /// The `fsdp_config` section: FSDP2, resharding parameters after forward for ZeRO 3
    /// (FULL_SHARD) and keeping them gathered for ZeRO 1–2 (SHARD_GRAD_OP).
    private static func fsdp(_ s: TrainingSetup, warnings: inout [String], lost: inout [String]) -> [String] {
        if s.zeroStage == 1 {
            warnings.append("ZeRO stage 1 has no FSDP counterpart: the closest, SHARD_GRAD_OP, shards the gradients as well as the optimizer states")
        }
        if s.offloadOptimizer {
            warnings.append("FSDP's CPU offload moves parameters and gradients as well as the optimizer states to host memory")
        }
        if s.checkpointing == .selective {
            lost.append("selective activation recomputation: FSDP recomputes whole layers only")
        }
        return ["fsdp_config:", "  fsdp_version: 2", "  fsdp_reshard_after_forward: " + (s.zeroStage >= 3 ? "true" : "false"),
                "  fsdp_offload_params: " + (s.offloadOptimizer ? "true" : "false"),
                "  fsdp_activation_checkpointing: " + (s.checkpointing == .full ? "true" : "false"),
                "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP", "  fsdp_state_dict_type: SHARDED_STATE_DICT",
                "  fsdp_cpu_ram_efficient_loading: true", "  fsdp_sync_module_states: true"]
    }

    /// A YAML scalar: plain when that reads back as the same string, single-quoted otherwise.
    static func quoted(_ s: String) -> String {
        let reserved: Set<String> = ["no", "yes", "on", "off", "true", "false", "null", "y", "n", "~"]
        let plain = !s.isEmpty && !reserved.contains(s.lowercased()) && Double(s) == nil
            && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "_-./".unicodeScalars.contains($0) }
            && !s.hasPrefix("-") && !s.hasPrefix(".")
        return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

import Foundation

/// An Accelerate config file (`accelerate launch --config_file accelerate.yaml train.py`) from a
/// `TrainingSetup`.
///
/// Keys are those of Accelerate's `ClusterConfig` (it rejects unknown ones):
/// - `distributed_type`: `DEEPSPEED` when the plan uses ZeRO (stage ≥ 1) or splits the model
///   (tp or pp > 1), with `deepspeed_config.deepspeed_config_file` naming the ds_config written
///   beside it and `zero3_init_flag` on for stage 3; `MULTI_GPU` for plain data parallelism;
///   `'NO'` on one device;
/// - `mixed_precision`: `'no'`, `fp16`, `bf16` or `fp8` — left out under DeepSpeed, whose
///   config file holds the precision (Accelerate refuses both);
/// - `num_machines` and `num_processes` (all processes of all machines) from the cluster.
///
/// YAML's `no` is a boolean, so `'NO'` and `'no'` are quoted.
public enum AccelerateExport {
    public enum DistributedType: String, Sendable { case no = "NO", multiGPU = "MULTI_GPU", deepspeed = "DEEPSPEED" }

    /// How the setup is distributed.
    public static func distributedType(_ s: TrainingSetup) -> DistributedType {
        if s.zeroStage >= 1 || s.tp > 1 || s.pp > 1 { return .deepspeed }
        return s.devices > 1 ? .multiGPU : .no
    }

    /// The YAML text and the warnings about what a person must still fill in.
    /// - Parameter deepSpeedConfigPath: where the ds_config file is, as `accelerate launch` will
    ///   be given it (relative to where it is run).
    public static func yaml(_ s: TrainingSetup, deepSpeedConfigPath: String) -> (text: String, warnings: [String]) {
        var warnings: [String] = []
        let type = distributedType(s)
        var lines = ["compute_environment: LOCAL_MACHINE", "distributed_type: " + quoted(type.rawValue)]
        if type == .deepspeed {
            lines += ["deepspeed_config:", "  deepspeed_config_file: " + quoted(deepSpeedConfigPath),
                      "  zero3_init_flag: " + (s.zeroStage == 3 ? "true" : "false")]
            if s.nodes > 1 { lines.append("  deepspeed_multinode_launcher: standard") }
            if s.tp > 1 || s.pp > 1 {
                warnings.append("tp \(s.tp) × pp \(s.pp) needs a model that splits itself (Megatron-LM style); Accelerate passes the ranks to DeepSpeed")
            }
        } else {
            let precision: String
            switch s.precision.format {
            case .fp32, .tf32: precision = "no"
            case .fp16: precision = "fp16"
            case .bf16: precision = "bf16"
            case .fp8:
                precision = "fp8"
                warnings.append("mixed_precision fp8 needs an FP8 backend (Transformer Engine or MS-AMP) installed")
            }
            lines.append("mixed_precision: " + quoted(precision))
            if s.precision.format == .fp16, let l = s.precision.lossScaling, l.scale != 0 {
                warnings.append("Accelerate's fp16 scales the loss dynamically; the trial's fixed scale \(l.scale) is not carried over")
            }
        }
        lines += ["machine_rank: 0", "num_machines: \(s.nodes)", "num_processes: \(type == .no ? 1 : s.devices)"]
        if s.nodes > 1 {
            lines += ["main_process_ip: null", "main_process_port: 29500"]
            warnings.append("set main_process_ip (the first machine's address) and machine_rank (0 to \(s.nodes - 1)) on each of the \(s.nodes) machines")
        }
        lines += ["rdzv_backend: static", "same_network: true", "main_training_function: main", "use_cpu: false"]
        return (lines.joined(separator: "\n") + "\n", warnings)
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

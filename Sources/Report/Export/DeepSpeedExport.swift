import Engine
import Foundation
import Search

/// A DeepSpeed `ds_config.json` and the commands that launch it, from a `TrainingSetup`.
///
/// Keys and value types are those of DeepSpeed's configuration documentation (`DeepSpeedSchema`
/// lists them); a setting DeepSpeed cannot express is left out with a warning, never written as
/// an unknown key (DeepSpeed rejects those).
///
///     let (config, warnings) = DeepSpeedExport.config(setup)
///     print(config.prettyText)
public enum DeepSpeedExport {
    /// ZeRO's reduce and all-gather bucket, in elements (DeepSpeed's documented default, 5e8).
    static let bucketElements = 500_000_000.0

    /// The `ds_config.json` document and the warnings about what it could not carry.
    ///
    /// - batch: `train_batch_size` = micro-batch × accumulation × data-parallel ranks,
    ///   `train_micro_batch_size_per_gpu`, `gradient_accumulation_steps`;
    /// - optimizer: adamw → `AdamW`, adam → `Adam` with `adam_w_mode` false, lamb → `Lamb`
    ///   (`max_coeff` is the trust-ratio clip, `min_coeff` 0: no lower clip), sgd → torch's `SGD`
    ///   (DeepSpeed imports optimizers it does not implement from `torch.optim`);
    /// - scheduler: see `scheduler(_:)`;
    /// - precision: FP16 → `fp16` with the loss-scaling keys (`loss_scale` 0 is dynamic; no
    ///   scaling is a fixed scale of 1), BF16 → `bf16`; FP32 and TF32 write neither;
    /// - `zero_optimization` with the stage, and for stages 1–3 overlapped, contiguous, bucketed
    ///   reductions and CPU optimizer offload when the plan offloads;
    /// - `activation_checkpointing` for full recomputation (activations partitioned over the
    ///   tensor-parallel ranks when tp > 1);
    /// - `gradient_clipping`: the clipping norm, 0 (off) when the trial does not clip.
    public static func config(_ s: TrainingSetup) -> (config: JSONValue, warnings: [String]) {
        var warnings: [String] = []
        var out: [(String, JSONValue)] = [
            ("train_batch_size", .number(Double(s.globalBatch))),
            ("train_micro_batch_size_per_gpu", .number(Double(s.microBatch))),
            ("gradient_accumulation_steps", .number(Double(s.accumulation))),
        ]
        if let o = s.optimizer { out.append(("optimizer", optimizer(o))) }
        if let schedule = s.schedule, let o = s.optimizer {
            let (section, warning) = scheduler(schedule, learningRate: decimal(o.learningRate), totalSteps: s.totalSteps)
            if let section { out.append(("scheduler", section)) }
            if let warning { warnings.append(warning) }
        }
        switch s.precision.format {
        case .fp16:
            let l = s.precision.lossScaling ?? LossScaling(scale: 1)
            out.append(("fp16", .object([
                ("enabled", .bool(true)), ("loss_scale", .number(l.scale)),
                ("initial_scale_power", .number(Double(l.initialScalePower))), ("loss_scale_window", .number(Double(l.window))),
                ("hysteresis", .number(Double(l.hysteresis))), ("min_loss_scale", .number(l.minimumScale)),
            ])))
        case .bf16, .fp8:
            if s.precision.format == .fp8 {
                warnings.append("DeepSpeed's config has no FP8 mode (FP8 matmuls come from Transformer Engine in the model); ds_config trains in bf16")
            }
            if s.precision.lossScaling != nil {
                warnings.append("DeepSpeed's bf16 mode does not scale the loss; the trial's loss scaling is left out")
            }
            out.append(("bf16", .object([("enabled", .bool(true))])))
        case .tf32:
            warnings.append("TF32 is a PyTorch setting, not a DeepSpeed one: set torch.backends.cuda.matmul.allow_tf32 = True in the training script")
        case .fp32:
            break
        }
        out.append(("zero_optimization", zero(s)))
        if s.checkpointing == .full {
            var section: [(String, JSONValue)] = [
                ("partition_activations", .bool(s.tp > 1)), ("cpu_checkpointing", .bool(false)),
                ("contiguous_memory_optimization", .bool(false)),
            ]
            if let layers = s.layers { section.append(("number_checkpoints", .number(Double((layers + s.pp - 1) / s.pp)))) }
            section += [("synchronize_checkpoint_boundary", .bool(false)), ("profile", .bool(false))]
            out.append(("activation_checkpointing", .object(section)))
        }
        out.append(("gradient_clipping", .number(s.gradientClip ?? 0)))
        return (.object(out), warnings)
    }

    static func optimizer(_ o: OptimizerConfig) -> JSONValue {
        let lr = JSONValue.number(decimal(o.learningRate))
        let betas = JSONValue.array([.number(decimal(o.beta1)), .number(decimal(o.beta2))])
        let eps = JSONValue.number(decimal(o.epsilon)), decay = JSONValue.number(decimal(o.weightDecay))
        let (type, params): (String, [(String, JSONValue)])
        switch o.name {
        case .adamw: (type, params) = ("AdamW", [("lr", lr), ("betas", betas), ("eps", eps), ("weight_decay", decay)])
        case .adam: (type, params) = ("Adam", [("lr", lr), ("betas", betas), ("eps", eps), ("weight_decay", decay), ("adam_w_mode", .bool(false))])
        case .lamb:
            (type, params) = ("Lamb", [("lr", lr), ("betas", betas), ("eps", eps), ("weight_decay", decay),
                                       ("max_coeff", .number(decimal(o.maxTrustRatio))), ("min_coeff", .number(0))])
        case .sgd:
            (type, params) = ("SGD", [("lr", lr), ("momentum", .number(decimal(o.momentum))), ("nesterov", .bool(o.nesterov)), ("weight_decay", decay)])
        }
        return .object([("type", .string(type)), ("params", .object(params))])
    }

    /// DeepSpeed's scheduler for a schedule, with a warning when it is not the same curve.
    ///
    /// Our warmup is linear from base/W; DeepSpeed's `"warmup_type": "linear"` ramps from
    /// `warmup_min_lr` over the same W steps (one step behind). Constant without warmup needs
    /// no scheduler; constant after warmup is `WarmupLR`; cosine is `WarmupCosineLR` with
    /// `cos_min_ratio` = min_lr / lr over the run's total steps (without warmup, a one-step
    /// warmup starting at ratio 1, which DeepSpeed's positive `warmup_num_steps` requires).
    /// DeepSpeed has no step decay: the warmup is kept and a warning says the decay is the
    /// training script's to apply.
    static func scheduler(_ schedule: LearningRateSchedule, learningRate lr: Double, totalSteps: Int?) -> (JSONValue?, String?) {
        let w = schedule.warmupSteps
        let warmupOnly: JSONValue? = w > 0 ? .object([
            ("type", .string("WarmupLR")),
            ("params", .object([("warmup_min_lr", .number(0)), ("warmup_max_lr", .number(lr)),
                                ("warmup_num_steps", .number(Double(w))), ("warmup_type", .string("linear"))])),
        ]) : nil
        switch schedule.decay {
        case .constant:
            return (warmupOnly, nil)
        case .step(let size, let gamma):
            return (warmupOnly, "DeepSpeed has no step-decay scheduler: multiply the learning rate by \(JSONValue.format(decimal(gamma))) every \(size) steps in the training script"
                    + (w > 0 ? " (ds_config keeps the \(w)-step warmup)" : ""))
        case .cosine(let minimum):
            guard let total = totalSteps else {
                return (warmupOnly, "the cosine schedule needs the run's total steps, which the data set does not give; set training.steps (ds_config keeps only the warmup)")
            }
            return (.object([
                ("type", .string("WarmupCosineLR")),
                ("params", .object([("total_num_steps", .number(Double(total))), ("warmup_min_ratio", .number(w > 0 ? 0 : 1)),
                                    ("warmup_num_steps", .number(Double(max(w, 1)))),
                                    ("cos_min_ratio", .number(lr > 0 ? significant(decimal(minimum) / lr) : 0)), ("warmup_type", .string("linear"))])),
            ]), nil)
        }
    }

    static func zero(_ s: TrainingSetup) -> JSONValue {
        var z: [(String, JSONValue)] = [("stage", .number(Double(s.zeroStage)))]
        guard s.zeroStage >= 1 else { return .object(z) }
        z += [("overlap_comm", .bool(true)), ("contiguous_gradients", .bool(true)), ("reduce_scatter", .bool(true)),
              ("reduce_bucket_size", .number(bucketElements))]
        if s.zeroStage < 3 { z.append(("allgather_bucket_size", .number(bucketElements))) }
        if s.offloadOptimizer { z.append(("offload_optimizer", .object([("device", .string("cpu")), ("pin_memory", .bool(true))]))) }
        if s.zeroStage == 3 { z.append(("stage3_gather_16bit_weights_on_model_save", .bool(true))) }
        return .object(z)
    }

    /// The two ways to start the job: DeepSpeed's launcher and torchrun, each running `script`
    /// with the config, plus Megatron-LM's parallelism arguments when tp or pp is above 1.
    public static func launchCommands(_ s: TrainingSetup, configPath: String, script: String = "train.py") -> (deepspeed: String, torchrun: String) {
        var args = [script, "--deepspeed", "--deepspeed_config", shellQuoted(configPath)]
        if s.tp > 1 || s.pp > 1 {
            args += ["--tensor-model-parallel-size", String(s.tp), "--pipeline-model-parallel-size", String(s.pp),
                     "--micro-batch-size", String(s.microBatch), "--global-batch-size", String(s.globalBatch)]
            if s.sequenceParallel && s.tp > 1 { args.append("--sequence-parallel") }
            switch s.checkpointing {
            case .none: break
            case .selective: args += ["--recompute-granularity", "selective"]
            case .full: args += ["--recompute-granularity", "full", "--recompute-method", "uniform", "--recompute-num-layers", "1"]
            }
        }
        let tail = args.joined(separator: " ")
        let deepspeed = (s.nodes > 1 ? "deepspeed --hostfile hostfile " : "deepspeed ") + "--num_nodes \(s.nodes) --num_gpus \(s.gpusPerNode) " + tail
        let torchrun = s.nodes > 1
            ? "torchrun --nnodes \(s.nodes) --nproc_per_node \(s.gpusPerNode) --node_rank \"$NODE_RANK\" --master_addr \"$MASTER_ADDR\" --master_port 29500 " + tail
            : "torchrun --standalone --nproc_per_node \(s.gpusPerNode) " + tail
        return (deepspeed, torchrun)
    }

    /// A shell script that runs the DeepSpeed launcher, with the torchrun line as the alternative.
    public static func launchScript(_ s: TrainingSetup, configPath: String, title: String) -> String {
        let (deepspeed, torchrun) = launchCommands(s, configPath: configPath)
        var lines = ["#!/bin/sh", "# \(title)", "# \(s.nodes) node(s) × \(s.gpusPerNode) GPU(s): dp \(s.dp) × tp \(s.tp) × pp \(s.pp)."]
        if s.nodes > 1 { lines.append("# 'hostfile' lists the \(s.nodes) nodes, one line each: HOSTNAME slots=\(s.gpusPerNode)") }
        lines += ["set -e", deepspeed, "",
                  "# The same job with torchrun" + (s.nodes > 1 ? " (on every node, with NODE_RANK and MASTER_ADDR set)" : "") + ":",
                  "# " + torchrun]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `x` to 12 significant digits, so a ratio of decimals prints as one (0.1, not 0.09999999999999999).
func significant(_ x: Double) -> Double { Double(String(format: "%.12g", x)) ?? x }

/// `s` as one shell word: unchanged when it is plain, single-quoted otherwise.
func shellQuoted(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,".unicodeScalars.contains($0) }
    return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

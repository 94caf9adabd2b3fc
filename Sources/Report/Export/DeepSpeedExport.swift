import Compression
import Engine
import Foundation
import Search

/// A DeepSpeed `ds_config.json` and the commands that launch it, from a `TrainingSetup`.
///
/// Keys and value types are those of DeepSpeed's configuration documentation (`DeepSpeedSchema`
/// lists them). Every setting of the trial is either written (as a ds_config key, or as a
/// Megatron-DeepSpeed flag on the launch line for what DeepSpeed leaves to the model code), or
/// named in `lost`: nothing is dropped silently, and nothing is written as an unknown key
/// (DeepSpeed rejects those).
///
///     let job = DeepSpeedExport.config(setup)
///     print(job.config.prettyText)    // job.lost: what a launch of it would not do
public enum DeepSpeedExport {
    /// ZeRO's reduce and all-gather bucket, in elements (DeepSpeed's documented default, 5e8).
    static let bucketElements = 500_000_000.0
    /// ZeRO-3's prefetch bucket, in elements (DeepSpeed's default, 5e7).
    static let prefetchBucketElements = 50_000_000.0

    /// A ds_config and what it does not carry.
    public struct Job: Equatable, Sendable {
        public var config: JSONValue
        /// Settings carried over in a form that trains the same model a little differently (a
        /// note for the reader; the export goes ahead).
        public var warnings: [String]
        /// Settings of the trial that neither the config nor the launch line carries: launched as
        /// written, the job would not be the trial. The export refuses unless told to allow it.
        public var lost: [String]
    }

    /// The `ds_config.json` document, with what it could not carry.
    ///
    /// - batch: `train_batch_size` = micro-batch × accumulation × data-parallel ranks,
    ///   `train_micro_batch_size_per_gpu`, `gradient_accumulation_steps` — DeepSpeed's batch
    ///   assertion at the data-parallel world size the launch line gives;
    /// - optimizer: adamw → `AdamW`, adam → `Adam` with `adam_w_mode` false, lamb → `Lamb`
    ///   (`max_coeff` is the trust-ratio clip, `min_coeff` 0: no lower clip), sgd → torch's `SGD`
    ///   (DeepSpeed imports optimizers it does not implement from `torch.optim`);
    /// - scheduler: see `scheduler(_:learningRate:totalSteps:)`;
    /// - precision: FP16 → `fp16` with the loss-scaling keys (`loss_scale` 0 is dynamic; no
    ///   scaling is a fixed scale of 1), BF16 → `bf16`; FP8 → `bf16` plus Transformer Engine's
    ///   flags on a Megatron launch line (lost for any other model); FP32 writes neither; TF32 is
    ///   a PyTorch switch, not a DeepSpeed key (lost);
    /// - `zero_optimization` with the stage; for stages 1–3 contiguous, bucketed reductions,
    ///   `overlap_comm` as the plan overlaps them, and `offload_optimizer` to the CPU when the
    ///   plan offloads (DeepSpeed offloads from stage 1 up);
    /// - `activation_checkpointing` for full recomputation (activations partitioned over the
    ///   tensor-parallel ranks when tp > 1); selective recomputation is Megatron's
    ///   (`--recompute-granularity selective`), so a trial without a Megatron model loses it;
    /// - `gradient_clipping`: the clipping norm, 0 (off) when an engine trial does not clip; left
    ///   to Megatron's `--clip-grad` for a meta trial, which does not model it;
    /// - compression steps: DeepSpeed's compression library is gone (its config refuses
    ///   `compression_training`), so each is lost.
    public static func config(_ s: TrainingSetup) -> Job {
        var warnings: [String] = [], lost: [String] = []
        let megatron = s.transformer != nil
        var out: [(String, JSONValue)] = [
            ("train_batch_size", .number(Double(s.globalBatch))),
            ("train_micro_batch_size_per_gpu", .number(Double(s.microBatch))),
            ("gradient_accumulation_steps", .number(Double(s.accumulation))),
        ]
        if let o = s.optimizer { out.append(("optimizer", optimizer(o))) }
        if let schedule = s.schedule, let o = s.optimizer {
            let (section, missing) = scheduler(schedule, learningRate: decimal(o.learningRate), totalSteps: s.totalSteps)
            if let section { out.append(("scheduler", section)) }
            if let missing { lost.append(missing) }
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
            if s.precision.format == .fp8, !megatron {
                lost.append("FP8 matrix multiplications: DeepSpeed's config has no FP8 mode (FP8 comes from Transformer Engine layers in the model); the job trains in bf16")
            }
            if s.precision.lossScaling != nil {
                warnings.append("DeepSpeed's bf16 mode does not scale the loss (bf16 has FP32's exponent range); the trial's loss scaling is left out")
            }
            out.append(("bf16", .object([("enabled", .bool(true))])))
        case .tf32:
            lost.append("TF32 matrix multiplications: a PyTorch switch, not a DeepSpeed key (set torch.backends.cuda.matmul.allow_tf32 = True in the training script)")
        case .fp32:
            break
        }
        out.append(("zero_optimization", zero(s)))
        if s.offloadOptimizer && s.zeroStage == 0 {
            lost.append("optimizer offload with ZeRO stage 0: DeepSpeed offloads optimizer states from stage 1 up")
        }
        if s.pp > 1 && s.zeroStage >= 2 {
            lost.append("ZeRO stage \(s.zeroStage) with pipeline parallelism (pp \(s.pp)): DeepSpeed's pipeline engine runs ZeRO stage 0 or 1 only")
        }
        if s.pp > 1 && s.virtualStages > 1 {
            lost.append("the interleaved 1F1B schedule (\(s.virtualStages) model chunks per device): DeepSpeed's pipeline engine runs plain 1F1B")
        }
        if s.overlapTensorCommunication {
            lost.append("tensor-parallel communication overlapped with the products beside it: Megatron-DeepSpeed has no tensor-parallel communication overlap")
        }
        if s.pp > 1 && s.pipelineSchedule == .zeroBubble {
            lost.append("the ZB-H1 schedule (weight gradients deferred into the bubble): DeepSpeed's pipeline engine runs plain 1F1B")
        }
        if s.pp > 1, s.firstStageLayers != nil || s.lastStageLayers != nil {
            lost.append("uneven pipeline stages (\(s.stageLayersDescription)): DeepSpeed's pipeline engine splits the transformer layers evenly")
        }
        if s.pp > 1 && s.pipelineSchedule == .gpipe {
            warnings.append("the plan was costed with the GPipe schedule; DeepSpeed's pipeline engine runs 1F1B, which keeps fewer micro-batches' activations")
        }
        if s.contextParallel > 1 {
            lost.append("context parallelism (ring attention over \(s.contextParallel) ranks): Megatron-DeepSpeed has no ring attention "
                        + "(its --ds-sequence-parallel-size is DeepSpeed-Ulysses, all-to-all over heads); launched as is, the "
                        + "\(s.contextParallel)× devices become data-parallel ranks")
        }
        switch s.checkpointing {
        case .none: break
        case .full:
            var section: [(String, JSONValue)] = [
                ("partition_activations", .bool(s.tp > 1)), ("cpu_checkpointing", .bool(false)),
                ("contiguous_memory_optimization", .bool(false)),
            ]
            if let layers = s.layers { section.append(("number_checkpoints", .number(Double((layers + s.pp - 1) / s.pp)))) }
            section += [("synchronize_checkpoint_boundary", .bool(false)), ("profile", .bool(false))]
            out.append(("activation_checkpointing", .object(section)))
        case .selective:
            if !megatron {
                lost.append("selective activation recomputation: DeepSpeed recomputes whole layers only; selective recomputation is Megatron's (--recompute-granularity selective)")
            }
        }
        if s.flashAttention && !megatron {
            lost.append("FlashAttention: the attention kernel is the model's choice, not a DeepSpeed key")
        }
        if !megatron || s.gradientClip != nil { out.append(("gradient_clipping", .number(s.gradientClip ?? 0))) }
        for (i, step) in s.compression.enumerated() {
            lost.append("compression step \(i + 1), \(describe(step)): DeepSpeed has no compression section (its compression library was removed and its config refuses compression_training)")
        }
        return Job(config: .object(out), warnings: warnings, lost: lost)
    }

    /// A compression step in a few words: "quantize (qat, 8-bit weights)".
    static func describe(_ step: CompressionStep) -> String {
        switch step {
        case .quantize(let q): return "quantize (\(q.mode.rawValue), \(q.weights.bits)-bit weights, \(q.activationBits)-bit activations)"
        case .prune(let p): return "prune (\(JSONValue.format(p.sparsity * 100))% of weights, \(p.criterion.rawValue))"
        case .pruneChannels(let p): return "prune_channels (\(JSONValue.format(p.ratio * 100))% of channels)"
        case .distill(let d): return "distill (\(d.teachers.count) teacher\(d.teachers.count == 1 ? "" : "s"))"
        case .lowRank: return "lowrank"
        case .share(let w): return "share (weight sharing, \(w.bits)-bit codebook)"
        case .l1: return "l1"
        }
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
    /// - Returns: the scheduler section, and what of the schedule it leaves out.
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
            return (warmupOnly, "the learning rate's step decay (× \(JSONValue.format(decimal(gamma))) every \(size) steps): DeepSpeed has no step-decay scheduler"
                    + (w > 0 ? " (ds_config keeps the \(w)-step warmup)" : ""))
        case .cosine(let minimum):
            guard let total = totalSteps else {
                return (warmupOnly, "the cosine decay of the learning rate: DeepSpeed's cosine scheduler needs the run's total steps, which the data set does not give (set training.steps)"
                        + (w > 0 ? " (ds_config keeps the \(w)-step warmup)" : ""))
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
        z += [("overlap_comm", .bool(s.overlapGradientReduction)), ("contiguous_gradients", .bool(true)), ("reduce_scatter", .bool(true)),
              ("reduce_bucket_size", .number(bucketElements))]
        if s.zeroStage < 3 { z.append(("allgather_bucket_size", .number(bucketElements))) }
        if s.offloadOptimizer { z.append(("offload_optimizer", .object([("device", .string("cpu")), ("pin_memory", .bool(true))]))) }
        if s.offloadParameters && s.zeroStage == 3 { z.append(("offload_param", .object([("device", .string("cpu")), ("pin_memory", .bool(true))]))) }
        if s.zeroStage == 3 {
            // Prefetch as costed: DeepSpeed's default bucket (5e7 elements) overlaps the next
            // gather with compute; 0 gathers each layer when it is reached.
            z.append(("stage3_prefetch_bucket_size", .number(s.overlapParameterGather ? prefetchBucketElements : 0)))
            z.append(("stage3_gather_16bit_weights_on_model_save", .bool(true)))
        }
        return .object(z)
    }
}

/// `x` to 12 significant digits, so a ratio of decimals prints as one (0.1, not 0.09999999999999999).
func significant(_ x: Double) -> Double { Double(String(format: "%.12g", x)) ?? x }

/// `s` as one shell word: unchanged when it is plain, single-quoted otherwise.
func shellQuoted(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,".unicodeScalars.contains($0) }
    return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

import Engine
import Hardware

/// How one training step of a model is spread over devices: data, tensor, pipeline and context
/// degrees (world size = dp × tp × pp × cp), expert parallelism inside the data-parallel ranks, the ZeRO stage, micro-batching, activation checkpointing, CPU
/// offload and the numeric format.
///
///     let plan = ParallelPlan(dp: 16, tp: 8, pp: 8, zero: 1, microBatch: 1, checkpointing: .full, precision: .bf16)
///
/// Ranks are laid out as Megatron-LM does: tensor-parallel ranks are neighbours (stride 1),
/// context-parallel groups stride over them (stride tp), data-parallel groups over both (stride
/// tp·cp), pipeline stages over all three (tp·cp·dp); an expert-parallel group is ep consecutive
/// data-parallel ranks (stride tp·cp).
public struct ParallelPlan: Codable, Equatable, Sendable {
    public var dp: Int
    public var tp: Int
    public var pp: Int
    /// ZeRO stage 0 (plain data parallel) to 3 (Rajbhandari et al. 2019).
    public var zero: Int
    /// Samples per micro-batch on one pipeline (one forward/backward of one rank).
    public var microBatch: Int
    /// Micro-batches per step and pipeline; nil to derive it from the global batch.
    public var gradientAccumulation: Int?
    public var checkpointing: Checkpointing
    /// Megatron's sequence parallelism: layer norms and dropout split along the sequence across the
    /// tensor-parallel group, all-reduces become reduce-scatter + all-gather (Korthikanti et al. 2022);
    /// with tp = 1 there is nothing to split and it changes nothing.
    public var sequenceParallel: Bool
    /// Keep the optimizer states (and the update) in host memory, as ZeRO-Offload does.
    public var offload: Bool
    /// ZeRO-3 only, with `offload`: keep the 16-bit parameter partition in host memory too
    /// (ZeRO-Infinity, Rajbhandari et al. 2021; DeepSpeed's `offload_param`), fetched over the
    /// host link before every gather.
    public var offloadParameters: Bool
    /// The format of weights, activations and gradients in forward and backward; the update is
    /// always applied to FP32 master weights (FP32 training keeps no separate copy).
    public var precision: FloatFormat
    public var schedule: PipelineSchedule
    /// Model chunks per device in the interleaved 1F1B schedule (Narayanan et al. 2021, §2.2.2):
    /// each of the p devices holds v non-adjacent chunks of layers, so the bubble shrinks to
    /// (p − 1)/(v·m) and every micro-batch crosses v times as many stage boundaries. 1 is plain 1F1B.
    public var virtualStages: Int
    /// Transformer layers on the first and on the last pipeline device, when they differ from the
    /// rest (Megatron-Core's `--decoder-first-pipeline-num-layers` and
    /// `--decoder-last-pipeline-num-layers`): the devices that also hold the embedding and the
    /// language-model head can take fewer layers, as Llama 3 405B's training took one layer fewer
    /// on each (Llama Team 2024, "The Llama 3 Herd of Models", §3.3.2). The other devices split the
    /// remaining layers evenly. Nil: an even split (`stageLayers(of:)`).
    public var firstStageLayers: Int?
    public var lastStageLayers: Int?
    /// Megatron's scatter/gather of pipeline sends (Narayanan et al. 2021, §4.1): each tensor-parallel
    /// rank sends 1/t of the activation to its peer on the next stage, which all-gathers it over the
    /// tensor group (NVLink). With sequence parallelism the activation is already split.
    public var scatterGather: Bool
    /// Reduce the data-parallel gradients bucket by bucket while the backward pass is still running
    /// (PyTorch DDP, Li et al. 2020, §3.2.3; DeepSpeed's `overlap_comm`): only the part the backward
    /// cannot hide costs step time.
    public var overlapGradientReduction: Bool
    /// ZeRO-3 prefetch: all-gather the next layer's parameters while the current layer computes
    /// (DeepSpeed's `stage3_prefetch_bucket_size`, Megatron-LM's `--overlap-param-gather`), in the
    /// forward and the backward pass; only the part the compute cannot hide costs step time.
    public var overlapParameterGather: Bool
    /// Overlap the sequence-parallel all-gathers and reduce-scatters with the products beside them
    /// (Megatron-Core's `--tp-comm-overlap` through Transformer Engine): each collective and its
    /// product are cut into tp pieces and run as a ring, every piece's send hidden behind the
    /// previous piece's product (Wang et al. 2023, "Overlap Communication with Dependent
    /// Computation via Decomposition in Large Deep Learning Models", §3). Needs sequence
    /// parallelism.
    public var overlapTensorCommunication: Bool
    /// FlashAttention (Dao et al. 2022): attention in tiles, no s × s score matrix kept for the
    /// backward pass. Nil: whatever the hardware profile's software stack does (`flash_attention`).
    public var flashAttention: Bool?
    /// Context parallelism (ring attention; Liu et al. 2023, "Ring Attention with Blockwise
    /// Transformers", §3; Megatron-Core's `--context-parallel-size`): the sequence split over cp
    /// ranks, each holding s/cp tokens of every activation, the key/value chunks passed round the
    /// ring so every query sees every key.
    public var cp: Int
    /// Expert parallelism: each MoE layer's experts spread over ep data-parallel ranks (E/ep each),
    /// tokens dispatched to them and combined back by all-to-all (Lepikhin et al. 2020, GShard,
    /// §2.3; Megatron-Core's `--expert-model-parallel-size`). ep divides dp.
    public var ep: Int

    public init(dp: Int = 1, tp: Int = 1, pp: Int = 1, zero: Int = 0, microBatch: Int = 1, gradientAccumulation: Int? = nil,
                checkpointing: Checkpointing = .none, sequenceParallel: Bool = false, offload: Bool = false, offloadParameters: Bool = false,
                precision: FloatFormat = .bf16, schedule: PipelineSchedule = .oneForwardOneBackward, virtualStages: Int = 1,
                scatterGather: Bool = true, overlapGradientReduction: Bool = false, overlapParameterGather: Bool = false,
                flashAttention: Bool? = nil, cp: Int = 1, ep: Int = 1, firstStageLayers: Int? = nil, lastStageLayers: Int? = nil,
                overlapTensorCommunication: Bool = false) {
        self.dp = dp; self.tp = tp; self.pp = pp; self.zero = zero; self.microBatch = microBatch
        self.gradientAccumulation = gradientAccumulation; self.checkpointing = checkpointing
        self.sequenceParallel = sequenceParallel; self.offload = offload; self.offloadParameters = offloadParameters; self.precision = precision; self.schedule = schedule
        self.virtualStages = virtualStages; self.scatterGather = scatterGather
        self.overlapGradientReduction = overlapGradientReduction; self.overlapParameterGather = overlapParameterGather
        self.flashAttention = flashAttention
        self.cp = cp; self.ep = ep
        self.firstStageLayers = firstStageLayers; self.lastStageLayers = lastStageLayers
        self.overlapTensorCommunication = overlapTensorCommunication
    }

    public var worldSize: Int { dp * tp * pp * cp }

    /// What is recomputed in the backward pass (Korthikanti et al. 2022).
    public enum Checkpointing: String, Codable, Sendable, CaseIterable {
        /// Keep every activation.
        case none
        /// Recompute only the attention core (scores, softmax, context): the big s² tensors.
        case selective
        /// Keep each layer's input and recompute the layer.
        case full
    }

    /// The pipeline schedule (bubble (p − 1)/m for GPipe and 1F1B; they differ in activation
    /// memory; 1F1B with `virtualStages` > 1 is the interleaved schedule).
    public enum PipelineSchedule: String, Codable, Sendable, CaseIterable {
        /// All forwards, then all backwards (Huang et al. 2019): m micro-batches in flight.
        case gpipe
        /// One forward, one backward (PipeDream-Flush, Narayanan et al. 2021): at most p in flight.
        case oneForwardOneBackward = "1f1b"
        /// ZB-H1 (Qi et al. 2024, "Zero Bubble Pipeline Parallelism", §3.1): the backward split into
        /// the input gradient B, which the stage before waits for, and the weight gradient W,
        /// deferred into what would be the bubble. The same order of forwards and backwards and the
        /// same peak memory as 1F1B; the bubble shrinks from (p − 1)(T_F + T_B + T_W) to
        /// (p − 1)(T_F + T_B − T_W).
        case zeroBubble = "zb-h1"
    }

    /// The groups a rank belongs to.
    public var tensorGroup: RankGroup { RankGroup(name: "tensor", size: tp, stride: 1) }
    public var dataGroup: RankGroup { RankGroup(name: "data", size: dp, stride: tp * cp) }
    public var contextGroup: RankGroup { RankGroup(name: "context", size: cp, stride: tp) }
    /// The ranks that reduce the gradients of the parameters every rank of a model replica holds
    /// (and share their ZeRO shards): data × context parallel ranks, as Megatron-LM reduces them.
    public var gradientGroup: RankGroup { RankGroup(name: "data", size: dp * cp, stride: tp) }
    /// The ranks that share one MoE layer's experts, and those that hold the same experts and
    /// reduce their gradients (the expert-data-parallel group, dp·cp/ep ranks).
    public var expertGroup: RankGroup { RankGroup(name: "expert", size: ep, stride: tp * cp) }
    public var expertDataGroup: RankGroup { RankGroup(name: "expert_data", size: dp * cp / max(ep, 1), stride: tp * cp * ep) }
    /// Whether FlashAttention runs: the plan's choice, else the profile's stack default.
    public func usesFlashAttention(stackDefault: Bool) -> Bool { flashAttention ?? stackDefault }

    /// Two neighbouring pipeline stages.
    public var pipelineNeighbours: RankGroup { RankGroup(name: "pipeline", size: 2, stride: tp * cp * dp) }
}

/// A plan that cannot run, with the reason (the key it concerns and why).
public struct PlanError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let reason: String
    public init(_ key: String, _ reason: String) { self.key = key; self.reason = reason }
    public var description: String { "\(key): \(reason)" }
}

extension ParallelPlan {
    /// The constraints a plan must meet for `model` on `devices` devices with `globalBatch`
    /// samples per step: dp·tp·pp·cp = devices, tp divides the heads, the key/value heads and the
    /// MLP width, 2·cp divides the sequence, ep divides dp and the experts, pp ≤ layers, the global batch divisible by dp × micro-batch, ZeRO 0–3 and ZeRO
    /// 2/3 not combined with pipeline stages (DeepSpeed refuses that combination).
    /// - Returns: micro-batches per step on each pipeline.
    public func validate(_ model: GPTSpec, devices: Int, globalBatch: Int) throws -> Int {
        for (key, v) in [("dp", dp), ("tp", tp), ("pp", pp), ("cp", cp), ("ep", ep), ("micro_batch", microBatch)] where v < 1 {
            throw PlanError(key, "must be at least 1, got \(v)")
        }
        guard worldSize == devices else {
            let product = cp > 1 ? "dp × tp × pp × cp = \(dp) × \(tp) × \(pp) × \(cp)" : "dp × tp × pp = \(dp) × \(tp) × \(pp)"
            throw PlanError("dp", "\(product) = \(worldSize), but the cluster has \(devices) device\(devices == 1 ? "" : "s")")
        }
        guard model.heads % tp == 0 else { throw PlanError("tp", "\(tp) does not divide the \(model.heads) attention heads") }
        guard model.keyValueHeads % tp == 0 else {
            throw PlanError("tp", "\(tp) does not divide the \(model.keyValueHeads) key/value heads (Megatron splits the query groups over the tensor-parallel ranks)")
        }
        guard model.ffnWidth % tp == 0 else {
            throw PlanError("tp", "\(tp) does not divide the MLP width \(model.ffnWidth)")
        }
        // Megatron-Core splits the sequence into 2·cp chunks, two per rank, to balance causal attention.
        guard cp == 1 || model.sequenceLength % (2 * cp) == 0 else {
            throw PlanError("cp", "2 × cp = \(2 * cp) does not divide the sequence of \(model.sequenceLength) tokens")
        }
        if ep > 1 {
            guard model.isMixtureOfExperts else { throw PlanError("ep", "expert parallelism (ep = \(ep)) needs a mixture of experts (experts > 1)") }
            guard dp % ep == 0 else { throw PlanError("ep", "\(ep) does not divide the data-parallel size \(dp) (expert-parallel ranks are data-parallel ranks)") }
            guard model.experts % ep == 0 else { throw PlanError("ep", "\(ep) does not divide the \(model.experts) experts") }
        }
        guard pp <= model.layers else { throw PlanError("pp", "\(pp) pipeline stages for \(model.layers) layers") }
        guard (0...3).contains(zero) else { throw PlanError("zero", "stage must be 0, 1, 2 or 3, got \(zero)") }
        guard zero < 2 || pp == 1 else {
            throw PlanError("zero", "ZeRO stage \(zero) shards gradients, which pipeline parallelism (pp = \(pp)) does not support; use stage 0 or 1")
        }
        guard !offload || zero >= 1 else { throw PlanError("offload", "optimizer offload needs ZeRO stage 1 or more") }
        guard !offloadParameters || (zero >= 3 && offload) else {
            throw PlanError("offload_parameters", "parameter offload needs ZeRO stage 3 with the optimizer offloaded too")
        }
        guard !overlapTensorCommunication || sequenceParallel || tp == 1 else {
            throw PlanError("overlap_tp_comm", "needs sequence parallelism: it overlaps the all-gathers and reduce-scatters sequence parallelism runs")
        }
        guard virtualStages >= 1 else { throw PlanError("virtual_stages", "must be at least 1, got \(virtualStages)") }
        if virtualStages > 1 {
            guard pp > 1 else { throw PlanError("virtual_stages", "\(virtualStages) model chunks per device need pipeline stages (pp > 1)") }
            guard schedule == .oneForwardOneBackward else {
                throw PlanError("virtual_stages", "the interleaved schedule is a 1F1B schedule, not \(schedule.rawValue)")
            }
            if firstStageLayers == nil, lastStageLayers == nil, model.layers % (pp * virtualStages) != 0 {
                throw PlanError("virtual_stages", "\(model.layers) layers do not split into pp × virtual stages = \(pp) × \(virtualStages) equal chunks")
            }
        }
        try checkStageLayers(model.layers)
        guard globalBatch >= 1 else { throw PlanError("global_batch", "must be at least 1, got \(globalBatch)") }
        guard globalBatch % (dp * microBatch) == 0 else {
            throw PlanError("global_batch", "\(globalBatch) is not divisible by dp × micro-batch = \(dp) × \(microBatch)")
        }
        let m = globalBatch / (dp * microBatch)
        if let g = gradientAccumulation, g != m {
            throw PlanError("grad_accum", "\(g) micro-batches, but global batch \(globalBatch) / (dp \(dp) × micro-batch \(microBatch)) = \(m)")
        }
        // Narayanan et al. 2021, §2.2.2: the interleaved schedule runs micro-batches in groups of p.
        if virtualStages > 1, m % pp != 0 {
            throw PlanError("virtual_stages", "the interleaved schedule needs the micro-batches per step (\(m)) to be a multiple of pp = \(pp)")
        }
        return m
    }
}

extension ParallelPlan {
    /// Transformer layers on the first pipeline device, on each device between, and on the last
    /// (with one stage, all three are every layer). Without `firstStageLayers` and
    /// `lastStageLayers` every device is costed with ⌈layers / pp⌉, the fullest one of an even
    /// split; with them, the devices between get the rest evenly (`checkStageLayers`).
    ///
    ///     ParallelPlan(pp: 16, firstStageLayers: 7, lastStageLayers: 7).stageLayers(of: 126)   // (7, 8, 7)
    public func stageLayers(of layers: Int) -> (first: Int, middle: Int, last: Int) {
        guard pp > 1 else { return (layers, layers, layers) }
        guard firstStageLayers != nil || lastStageLayers != nil else {
            let even = (layers + pp - 1) / pp
            return (even, even, even)
        }
        let others = pp - (firstStageLayers == nil ? 0 : 1) - (lastStageLayers == nil ? 0 : 1)
        let rest = layers - (firstStageLayers ?? 0) - (lastStageLayers ?? 0)
        let share = others > 0 ? rest / others : 0
        return (firstStageLayers ?? share, share, lastStageLayers ?? share)   // with two stages there is no middle
    }

    /// Refuse first/last-stage layer counts that do not describe a split of `layers`: they need
    /// pipeline stages, at least one layer each, the devices between them an equal whole share,
    /// and under the interleaved schedule a share that splits into the chunks.
    func checkStageLayers(_ layers: Int) throws {
        guard firstStageLayers != nil || lastStageLayers != nil else { return }
        for (key, value) in [("first_stage_layers", firstStageLayers), ("last_stage_layers", lastStageLayers)] {
            guard let n = value else { continue }
            guard pp > 1 else { throw PlanError(key, "\(n) layers on one pipeline stage of \(pp) needs pipeline stages (pp > 1)") }
            guard n >= 1 else { throw PlanError(key, "must be at least 1, got \(n)") }
        }
        let given = (firstStageLayers ?? 0) + (lastStageLayers ?? 0)
        let others = pp - (firstStageLayers == nil ? 0 : 1) - (lastStageLayers == nil ? 0 : 1)
        let key = firstStageLayers != nil ? "first_stage_layers" : "last_stage_layers"
        guard given < layers || (given == layers && others == 0) else {
            throw PlanError(key, "\(given) layers on the first and last stages leave none of the \(layers) layers for the other \(others) stage\(others == 1 ? "" : "s")")
        }
        if others == 0 {
            guard given == layers else { throw PlanError(key, "the first and last stages hold \(given) layers, but the model has \(layers)") }
            return
        }
        guard (layers - given) % others == 0 else {
            throw PlanError(key, "the other \(others) stage\(others == 1 ? "" : "s") cannot split the remaining \(layers - given) layers evenly")
        }
        let share = (layers - given) / others
        if virtualStages > 1, share % virtualStages != 0 {
            throw PlanError("virtual_stages", "the \(share) layers of each middle stage do not split into \(virtualStages) equal chunks")
        }
    }

    /// What the plan keeps in host memory.
    public var stateOffload: StateOffload { offloadParameters ? .optimizerAndParameters : offload ? .optimizer : .none }

    /// Refuse a plan in a format the device has no units for: a device without FP8 units (an
    /// A100, a V100) or without BF16 units (a V100, a T4) would run the work in a wider format,
    /// never faster, so such a plan would promise more than the hardware gives.
    /// - Throws: `PlanError("precision", …)` naming the device, the format and the formats it has.
    public func checkPrecision(on profile: HardwareProfile) throws {
        guard !profile.hasUnits(for: precision) else { return }
        throw PlanError("precision", Self.lacking(precision, on: profile))
    }

    /// The format a plan that names none trains in on `profile`: BF16 where the device has BF16
    /// units, else FP16 (a V100, a T4), else FP32.
    public static func defaultPrecision(on profile: HardwareProfile) -> FloatFormat {
        [FloatFormat.bf16, .fp16].first(where: profile.hasUnits(for:)) ?? .fp32
    }

    /// "A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16".
    public static func lacking(_ format: FloatFormat, on profile: HardwareProfile) -> String {
        "\(profile.name) has no \(format.rawValue) units; it trains in \(profile.trainingFormats.map(\.rawValue).joined(separator: ", "))"
    }
}

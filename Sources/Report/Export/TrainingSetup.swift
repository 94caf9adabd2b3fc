import Compression
import Engine
import Parallel

/// What a launcher needs to know about a picked trial's training job, whichever evaluator ran
/// it: the devices, the parallel layout, the batch split, the number format, the optimizer and
/// its schedule. The DeepSpeed and Accelerate exports are functions of this.
public struct TrainingSetup: Equatable, Sendable {
    public var nodes: Int
    public var gpusPerNode: Int
    public var dp: Int
    public var tp: Int
    public var pp: Int
    /// ZeRO stage 0–3 (Rajbhandari et al. 2019).
    public var zeroStage: Int
    /// Optimizer states (and the update) in host memory, as ZeRO-Offload does.
    public var offloadOptimizer: Bool
    /// ZeRO-3's parameter partition in host memory too (DeepSpeed's `offload_param`).
    public var offloadParameters: Bool = false
    /// ZeRO-3's next parameters gathered while the current layer computes (prefetch).
    public var overlapParameterGather: Bool = false
    /// Samples per forward/backward on one data-parallel rank.
    public var microBatch: Int
    /// Micro-batches per optimizer step on each data-parallel rank.
    public var accumulation: Int
    public var precision: MixedPrecision
    /// Nil when the study did not search the optimizer (the training script brings its own).
    public var optimizer: OptimizerConfig?
    public var schedule: LearningRateSchedule?
    /// Optimizer steps of the whole run, when known (a decaying schedule needs it).
    public var totalSteps: Int?
    public var gradientClip: Double?
    public var checkpointing: ParallelPlan.Checkpointing
    public var sequenceParallel: Bool
    /// Transformer layers, when the model has them (to size the activation checkpoints).
    public var layers: Int?
    /// The pipeline schedule the plan was costed with.
    public var pipelineSchedule: ParallelPlan.PipelineSchedule = .oneForwardOneBackward
    /// Model chunks per pipeline device (interleaved 1F1B); 1 is plain 1F1B.
    public var virtualStages: Int = 1
    /// Layers on the first and on the last pipeline device when they differ from an even split.
    public var firstStageLayers: Int?, lastStageLayers: Int?
    /// Tensor-parallel collectives overlapped with the products beside them.
    public var overlapTensorCommunication = false
    /// Context-parallel ranks (ring attention) and expert-parallel ranks the plan was costed with.
    public var contextParallel: Int = 1, expertParallel: Int = 1
    /// Megatron's scatter/gather of pipeline sends over the tensor-parallel group.
    public var scatterGather: Bool = true
    /// Data-parallel gradient reduction overlapped with the backward pass.
    public var overlapGradientReduction: Bool = true
    /// FlashAttention in the attention layers.
    public var flashAttention: Bool = false
    /// The transformer a meta trial costed (Megatron's model flags come from it); nil for engine
    /// trials, whose model is the training script's.
    public var transformer: GPTSpec?
    /// The compression steps an engine trial applied to its model, in order.
    public var compression: [CompressionStep] = []

    public init(nodes: Int = 1, gpusPerNode: Int = 1, dp: Int = 1, tp: Int = 1, pp: Int = 1, zeroStage: Int = 0,
                offloadOptimizer: Bool = false, microBatch: Int, accumulation: Int = 1, precision: MixedPrecision = .init(.fp32),
                optimizer: OptimizerConfig? = nil, schedule: LearningRateSchedule? = nil, totalSteps: Int? = nil,
                gradientClip: Double? = nil, checkpointing: ParallelPlan.Checkpointing = .none, sequenceParallel: Bool = false,
                layers: Int? = nil) {
        self.nodes = nodes; self.gpusPerNode = gpusPerNode; self.dp = dp; self.tp = tp; self.pp = pp
        self.zeroStage = zeroStage; self.offloadOptimizer = offloadOptimizer; self.microBatch = microBatch
        self.accumulation = accumulation; self.precision = precision; self.optimizer = optimizer; self.schedule = schedule
        self.totalSteps = totalSteps; self.gradientClip = gradientClip; self.checkpointing = checkpointing
        self.sequenceParallel = sequenceParallel; self.layers = layers
    }

    public var devices: Int { nodes * gpusPerNode }
    /// Samples per optimizer step: micro-batch × accumulation × data-parallel ranks.
    public var globalBatch: Int { microBatch * accumulation * dp }

    /// An engine trial, run on `devices` data-parallel processes (the engine used one) with the
    /// same global batch: the recipe's batch split into micro-batches of batch / `devices`, its
    /// accumulation, optimizer, schedule, clipping and precision. `trainSamples` (after the
    /// validation split) gives the run's length in steps when the recipe counts epochs, as the
    /// `Trainer` counts them (a batch is at most the training set).
    /// - Throws: `ReportError` when `devices` is not positive or does not divide the batch.
    public init(engine recipe: Recipe, trainSamples: Int?, devices: Int = 1) throws {
        let t = recipe.candidate.training
        var batch = t.batchSize, steps = t.steps
        if let n = trainSamples, n > 0 {
            batch = min(t.batchSize, n)
            let batches = (n + batch - 1) / batch
            steps = steps ?? t.epochs * ((batches + t.accumulation - 1) / t.accumulation)
        }
        guard devices >= 1 else { throw ReportError("--devices must be at least 1, got \(devices)") }
        guard batch % devices == 0 else {
            throw ReportError("--devices \(devices) does not divide the trial's batch of \(batch) samples: "
                              + "each process must take the same share (use a divisor of \(batch))")
        }
        let p = recipe.precision
        let scaling = p.lossScale.map {
            LossScaling(scale: decimal($0), initialScalePower: p.initialScalePower, window: p.lossScaleWindow,
                        hysteresis: p.hysteresis, minimumScale: decimal(p.minLossScale))
        }
        self.init(gpusPerNode: devices, dp: devices, microBatch: batch / devices, accumulation: t.accumulation,
                  precision: MixedPrecision(p.format, lossScaling: scaling), optimizer: t.optimizer, schedule: t.schedule,
                  totalSteps: steps, gradientClip: t.gradientClip.map(decimal))
        compression = recipe.compression
    }

    /// A meta (LLM training-config) trial: `plan` for `model` on `nodes` × `gpusPerNode` devices
    /// at `globalBatch` samples per step. FP16 gets DeepSpeed's default dynamic loss scaling.
    /// - Parameter flashAttention: whether the plan runs FlashAttention, resolved against the
    ///   hardware profile when the plan leaves it to the profile.
    public init(meta plan: ParallelPlan, model: GPTSpec, nodes: Int, gpusPerNode: Int, globalBatch: Int, flashAttention: Bool) {
        let format = plan.precision
        let accumulation = plan.gradientAccumulation ?? max(1, globalBatch / max(1, plan.dp * plan.microBatch))
        self.init(nodes: nodes, gpusPerNode: gpusPerNode, dp: plan.dp, tp: plan.tp, pp: plan.pp, zeroStage: plan.zero,
                  offloadOptimizer: plan.offload, microBatch: plan.microBatch, accumulation: accumulation,
                  precision: MixedPrecision(format, lossScaling: format == .fp16 ? .dynamic : nil),
                  checkpointing: plan.checkpointing, sequenceParallel: plan.sequenceParallel, layers: model.layers)
        offloadParameters = plan.offloadParameters
        overlapParameterGather = plan.overlapParameterGather
        pipelineSchedule = plan.schedule; virtualStages = plan.virtualStages; scatterGather = plan.scatterGather
        firstStageLayers = plan.firstStageLayers; lastStageLayers = plan.lastStageLayers
        overlapTensorCommunication = plan.overlapTensorCommunication && plan.tp > 1
        overlapGradientReduction = plan.overlapGradientReduction; self.flashAttention = flashAttention
        contextParallel = plan.cp; expertParallel = plan.ep
        transformer = model
    }
}

/// The number format training runs in, and its loss scaling.
public struct MixedPrecision: Equatable, Sendable {
    public var format: FloatFormat
    /// Nil: the loss is not scaled.
    public var lossScaling: LossScaling?
    public init(_ format: FloatFormat, lossScaling: LossScaling? = nil) { self.format = format; self.lossScaling = lossScaling }
}

/// Loss scaling as DeepSpeed's `fp16` section spells it: `scale` 0 is dynamic, starting at
/// 2^`initialScalePower`, halving on overflow once `hysteresis` is spent, doubling after
/// `window` clean steps, never below `minimumScale`; a positive `scale` is fixed.
public struct LossScaling: Equatable, Sendable {
    public var scale: Double
    public var initialScalePower: Int
    public var window: Int
    public var hysteresis: Int
    public var minimumScale: Double

    public init(scale: Double, initialScalePower: Int = 16, window: Int = 1000, hysteresis: Int = 2, minimumScale: Double = 1) {
        self.scale = scale; self.initialScalePower = initialScalePower; self.window = window
        self.hysteresis = hysteresis; self.minimumScale = minimumScale
    }

    /// DeepSpeed's defaults: dynamic from 2^16, window 1000, hysteresis 2, minimum 1.
    public static let dynamic = LossScaling(scale: 0)
}

/// A `Float` setting as the decimal it was written as (`0.001`, not `0.0010000000474974513`).
func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

extension TrainingSetup {
    /// "first stage 7 layers, last stage 7 layers", for messages.
    var stageLayersDescription: String {
        [firstStageLayers.map { "first stage \($0) layer\($0 == 1 ? "" : "s")" }, lastStageLayers.map { "last stage \($0) layer\($0 == 1 ? "" : "s")" }]
            .compactMap { $0 }.joined(separator: ", ")
    }
}

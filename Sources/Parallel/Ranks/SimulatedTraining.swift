import Foundation
import Engine

/// Train a model under a parallel plan on dp × tp × pp simulated ranks — threads in this process,
/// exchanging real numbers through in-process collectives — and report what every rank held,
/// computed and sent.
///
/// Each step reads `dp × microBatch × m` consecutive samples of the data set; data-parallel rank d
/// takes micro-batches d·m ..< (d + 1)·m of them. Every rank builds the whole model from the same
/// seed and keeps its stage's layers (so all replicas start equal, as DeepSpeed's initial
/// broadcast makes them); pipeline stages pass activations and their gradients point to point on
/// the plan's schedule; ZeRO shards each stage's flat store over its data-parallel group
/// (`ZeroState`). A language-model head tied to the token embedding on another stage keeps a copy,
/// and the two copies' gradients are summed between the first and the last stage, as Megatron-LM
/// does. With tp > 1 every transformer block is split over its tensor-parallel group as Megatron-LM
/// splits it (`TensorParallel`); embeddings, the head and the final norm stay whole on every rank.
/// Gradients are averaged over the global batch, so the weights after each step equal those
/// of one rank training on the whole batch (`SimulatedTraining.singleRank`), up to float rounding.
///
///     let plan = ParallelPlan(dp: 2, pp: 2, zero: 1, microBatch: 4, gradientAccumulation: 2, precision: .fp32)
///     let run = try SimulatedTraining(spec: spec, inputShape: [16], classes: 4, seed: 7, plan: plan).train(on: data, steps: 3)
///     run.ranks[0].bytesSent == StepCollectives.bytesSent(run.ranks[0].predictedCollectives)   // per step × 3
///
/// Ranks are laid out as Megatron-LM lays them out: tensor-parallel ranks neighbours, then data,
/// then pipeline (world rank = stage · dp · tp + data rank · tp + tensor rank). The plan's
/// precision is ignored — ranks compute in FP32, which is what makes the comparison with one rank
/// exact to rounding.
public struct SimulatedTraining {
    public let spec: ArchitectureSpec
    public let inputShape: [Int]
    public let classes: Int
    public let seed: UInt64
    public let plan: ParallelPlan
    public let adam: AdamSettings
    public let learningRate: Float
    /// First layer index of every stage but the first (nil: split evenly by parameter count).
    public let stageBoundaries: [Int]

    /// - Throws: `PlanError` for a plan these ranks cannot run.
    public init(spec: ArchitectureSpec, inputShape: [Int], classes: Int, seed: UInt64, plan: ParallelPlan,
                adam: AdamSettings = AdamSettings(), learningRate: Float = 1e-2, stageBoundaries: [Int]? = nil) throws {
        self.spec = spec; self.inputShape = inputShape; self.classes = classes; self.seed = seed
        self.plan = plan; self.adam = adam; self.learningRate = learningRate
        for (key, v) in [("dp", plan.dp), ("tp", plan.tp), ("pp", plan.pp), ("micro_batch", plan.microBatch), ("grad_accum", plan.gradientAccumulation ?? 1)] where v < 1 {
            throw PlanError(key, "must be at least 1, got \(v)")
        }
        guard (0 ... 3).contains(plan.zero) else { throw PlanError("zero", "stage must be 0, 1, 2 or 3, got \(plan.zero)") }
        guard plan.zero < 2 || plan.pp == 1 else {
            throw PlanError("zero", "ZeRO stage \(plan.zero) shards gradients, which pipeline parallelism (pp = \(plan.pp)) does not support; use stage 0 or 1")
        }
        guard plan.checkpointing != .selective else {
            throw PlanError("checkpointing", "simulated ranks recompute whole layers (full) or nothing (none), not selective")
        }
        if spec.hasDropout {
            throw PlanError("architecture", "dropout draws new masks when a forward is recomputed; simulate a model without dropout")
        }
        let probe = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ExecutionContext(mode: .meta), seed: seed)
        let layerCount = probe.network.layers.count
        if plan.tp > 1 {
            let blocks = probe.network.layers.compactMap { $0 as? TransformerBlock }
            guard let block = blocks.first else {
                throw PlanError("tp", "tensor parallelism splits transformer blocks (gpt, vit); this \(spec.family) has none")
            }
            let heads = block.attention.heads, width = block.parameters.first { $0.name.hasSuffix(".mlp.fc.weight") }?.shape[0] ?? 0
            guard heads % plan.tp == 0, width % plan.tp == 0 else {
                throw PlanError("tp", "\(plan.tp) must divide the \(heads) heads and the MLP width \(width)")
            }
        }
        guard plan.pp <= layerCount else { throw PlanError("pp", "\(plan.pp) pipeline stages for a network of \(layerCount) layers") }
        if let b = stageBoundaries {
            guard b.count == plan.pp - 1, zip([0] + b, b + [layerCount]).allSatisfy({ $0 < $1 }) else {
                throw PlanError("stages", "\(plan.pp) stages need \(plan.pp - 1) increasing boundaries inside 1..<\(layerCount), got \(b)")
            }
            self.stageBoundaries = b
        } else {
            self.stageBoundaries = []
        }
    }

    /// Micro-batches per step and data-parallel rank.
    public var microBatches: Int { plan.gradientAccumulation ?? 1 }
    /// Samples per step.
    public var globalBatch: Int { plan.dp * plan.microBatch * microBatches }

    /// Transformer blocks on stage `s` and the forwards of them each step reruns (full
    /// checkpointing; a micro-batch whose forward another one's displaced, see `PipelineStage`).
    func blockForwards(_ network: Sequential, stage s: Int, ranges: [Range<Int>]) -> (blocks: Int, recomputed: Int) {
        let blocks = network.layers[ranges[s]].filter { $0 is TransformerBlock }.count
        let m = microBatches
        let rerun = plan.checkpointing == .full ? m : plan.schedule.rematerializedForwards(stage: s, stages: plan.pp, microBatches: m)
        return (blocks, blocks * rerun)
    }

    /// Train `steps` steps on `data` and report every rank.
    public func train(on data: Dataset, steps: Int) throws -> SimulatedTrainingResult {
        let dp = plan.dp, tp = plan.tp, pp = plan.pp, m = microBatches, b = plan.microBatch
        let probe = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ExecutionContext(mode: .meta), seed: seed)
        let stages = stageRanges(probe.network)
        let boundaryElements = try stages.dropLast().map { range -> Int in
            try Sequential("probe", Array(probe.network.layers[..<range.upperBound])).outputShape(for: inputShape).reduce(1, *)
        }
        let tied = pp > 1 && !tiedParameterNames(probe.network, stages).isEmpty
        // Elements of one sample's activations entering a transformer block (what tensor
        // parallelism all-reduces).
        let firstBlock = probe.network.layers.firstIndex { $0 is TransformerBlock } ?? 0
        let blockElements = try Sequential("probe", Array(probe.network.layers[..<firstBlock])).outputShape(for: inputShape).reduce(1, *)
        let world = dp * tp * pp
        let contexts = (0 ..< world).map { _ in ExecutionContext() }
        // Megatron's layout: tensor-parallel ranks neighbours, data-parallel ranks stride tp,
        // stages stride dp · tp. Groups are indexed by the coordinates they do not span.
        let tensorGroups = (0 ..< pp * dp).map { _ in Communicator(size: tp, group: "tensor") }    // [s · dp + d]
        let dataGroups = (0 ..< pp * tp).map { _ in Communicator(size: dp, group: "data") }        // [s · tp + t]
        let pipelineGroups = (0 ..< dp * tp).map { _ in Communicator(size: pp, group: "pipeline") } // [d · tp + t]
        let tiedGroups = (0 ..< dp * tp).map { _ in Communicator(size: 2, group: "embedding") }     // [d · tp + t]

        let outcomes = Communicator.launch(world) { w -> RankOutcome in
            let s = w / (dp * tp), d = w / tp % dp, t = w % tp
            let ctx = contexts[w]
            let tensor = tensorGroups[s * dp + d].rank(t, context: ctx)
            let (stage, shards) = makeStage(s, ranges: stages, tensor: tp > 1 ? tensor : nil, context: ctx)
            let zero = ZeroState(zero: plan.zero, rank: dataGroups[s * tp + t].rank(d, context: ctx), store: stage.store, settings: adam)
            let pipe = pipelineGroups[d * tp + t].rank(s, context: ctx)
            let tiedPeer: Rank? = tied && (s == 0 || s == pp - 1) ? tiedGroups[d * tp + t].rank(s == 0 ? 0 : 1, context: ctx) : nil
            let held = zero.held, working = zero.workingBytes
            ctx.resetCounters()
            let loss = SoftmaxCrossEntropy(context: ctx)
            let ops = plan.schedule.operations(stage: s, stages: pp, microBatches: m)
            var losses: [Float] = []
            for step in 0 ..< steps {
                zero.beginStep()
                var stepLoss = 0.0
                var batches: [Int: MicroBatch] = [:]
                func batch(_ k: Int) -> MicroBatch {
                    if let mb = batches[k] { return mb }
                    let mb = MicroBatch(data, start: step * globalBatch + (d * m + k) * b, count: b, context: ctx)
                    batches[k] = mb
                    return mb
                }
                for op in ops {
                    switch op {
                    case .forward(let k):
                        let x = s == 0 ? batch(k).input : pipe.receive(from: s - 1, tag: k)
                        zero.beforeForward()
                        let y = stage.forward(x, microBatch: k, owner: s == 0 ? batch(k) : nil)
                        if s < pp - 1 { ctx.phase = .forward; pipe.send(y, to: s + 1, tag: k, name: "activations") }
                        zero.afterForward()
                    case .backward(let k):
                        zero.beforeBackward()
                        let dx = stage.backward(microBatch: k) { output in
                            if s < pp - 1 { return pipe.receive(from: s + 1, tag: k) }
                            let labels = batch(k).labels
                            ctx.phase = .forward
                            let r = loss(output, labels: labels)
                            stepLoss += Double(r.loss)
                            let g = r.gradient.data, scale = 1 / Float(m)
                            for i in 0 ..< r.gradient.count { g[i] *= scale }
                            return r.gradient
                        }
                        if s > 0, let dx { ctx.phase = .backward; pipe.send(dx, to: s - 1, tag: k, name: "activation_gradients") }
                        zero.afterBackward()
                        batches[k] = nil
                    }
                }
                if let tiedPeer {
                    ctx.phase = .backward
                    for p in stage.tiedParameters { tiedPeer.allReduce(p.grad, .sum, name: "embedding") }
                }
                zero.finishStep(learningRate: learningRate)
                losses.append(Float(stepLoss / Double(m)))
            }
            return RankOutcome(owned: zero.ownedValues, losses: losses, held: held, working: working, stage: stage,
                               shards: shards, summary: ctx.summary, collectives: ctx.collectives)
        }

        // Reassemble each rank's flat buffer from its data-parallel shards, then put every
        // tensor-parallel slice in its place in the whole model's parameters.
        var full: [String: [Float]] = [:]
        for s in 0 ..< pp {
            for t in 0 ..< tp {
                let ranks = (0 ..< dp).map { s * dp * tp + $0 * tp + t }
                let buffer = plan.zero >= 1 ? ranks.flatMap { outcomes[$0].owned } : outcomes[ranks[0]].owned
                for shard in outcomes[ranks[0]].shards where !(shard.isReplica && t > 0) {
                    let p = shard.parameter
                    var whole = full[shard.full.name] ?? [Float](repeating: .nan, count: shard.full.count)
                    shard.scatter(buffer[p.offset ..< p.offset + p.count], into: &whole)
                    full[shard.full.name] = whole
                }
            }
        }
        let weights = stages.flatMap { probe.network.layers[$0].flatMap(\.parameters) }.flatMap { full[$0.name] ?? [] }
        let lastStage = (pp - 1) * dp * tp
        let losses = (0 ..< steps).map { step in (0 ..< dp).reduce(Float(0)) { $0 + outcomes[lastStage + $1 * tp].losses[step] } / Float(dp) }

        let ranks = (0 ..< world).map { w -> SimulatedRankReport in
            let s = w / (dp * tp), d = w / tp % dp, t = w % tp, o = outcomes[w]
            var predicted = StepCollectives.dataParallel(zero: plan.zero, group: RankGroup(name: "data", size: dp, stride: tp),
                                                         parameterBytes: o.stage.store.values.bytes, microBatches: m)
            let input = s > 0 ? Double(4 * b * boundaryElements[s - 1]) : 0
            let output = s < pp - 1 ? Double(4 * b * boundaryElements[s]) : 0
            predicted += StepCollectives.pipeline(stage: s, stages: pp, inputBytes: input, outputBytes: output, microBatches: m)
            if tied && (s == 0 || s == pp - 1) {
                predicted += StepCollectives.tiedParameters(bytes: o.stage.tiedParameters.reduce(0.0) { $0 + $1.value.bytes },
                                                            group: RankGroup(name: "embedding", size: 2, stride: tp * dp * (pp - 1)))
            }
            if tp > 1 {
                let forwards = blockForwards(probe.network, stage: s, ranges: stages)
                predicted += StepCollectives.tensorParallel(blocks: forwards.blocks, recomputedBlocks: forwards.recomputed,
                                                            activationBytes: Double(4 * b * blockElements),
                                                            group: RankGroup(name: "tensor", size: tp, stride: 1), microBatches: m)
            }
            predicted = predicted.map { var e = $0; e.count *= Double(steps); return e }
            let sent = dataGroups[s * tp + t].bytesSent(by: d) + pipelineGroups[d * tp + t].bytesSent(by: s)
                + tensorGroups[s * dp + d].bytesSent(by: t)
                + (tied && (s == 0 || s == pp - 1) ? tiedGroups[d * tp + t].bytesSent(by: s == 0 ? 0 : 1) : 0)
            return SimulatedRankReport(rank: w, stage: s, dataRank: d, tensorRank: t, storeCount: o.stage.store.count,
                                       parameterCount: o.stage.ownParameters.reduce(0) { $0 + $1.count },
                                       held: o.held, workingBytes: o.working, peakBytes: o.summary.peakBytes,
                                       flops: o.summary.flops, recomputeFLOPs: o.stage.recomputeFLOPs,
                                       peakStashed: o.stage.peakStashed, collectives: o.collectives,
                                       predictedCollectives: predicted, bytesSent: sent)
        }
        return SimulatedTrainingResult(weights: weights, losses: losses, ranks: ranks)
    }

    /// One rank training on the whole global batch with Engine's AdamW: the reference every plan
    /// must reproduce. Returns the trainable parameters in network order and the loss per step.
    public func singleRank(on data: Dataset, steps: Int) throws -> (weights: [Float], losses: [Float]) {
        let ctx = ExecutionContext()
        let model = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ctx, seed: seed)
        let optimizer = adam.makeAdamW()
        var losses: [Float] = []
        for step in 0 ..< steps {
            let mb = MicroBatch(data, start: step * globalBatch, count: globalBatch, context: ctx)
            model.store.zeroGradients()
            losses.append(model.accumulateGradients(mb.input, labels: mb.labels).loss)
            optimizer.step(model.store, learningRate: learningRate)
        }
        let weights = model.network.parameters.flatMap { Array(UnsafeBufferPointer(start: $0.value.data, count: $0.count)) }
        return (weights, losses)
    }

    // MARK: - Stages

    /// The top-level layer ranges of the stages: the given boundaries, or cuts that balance the
    /// parameter count (every stage keeps at least one layer).
    func stageRanges(_ network: Sequential) -> [Range<Int>] {
        let n = network.layers.count, pp = plan.pp
        var cuts = stageBoundaries
        if cuts.isEmpty && pp > 1 {
            let sizes = network.layers.map { max($0.parameters.reduce(0) { $0 + $1.count }, 0) }
            let total = Double(sizes.reduce(0, +))
            var running = 0.0
            for (i, size) in sizes.enumerated() where cuts.count < pp - 1 {
                running += Double(size)
                let stagesLeft = pp - 1 - cuts.count, layersLeft = n - i - 1
                if layersLeft == stagesLeft || (running >= total * Double(cuts.count + 1) / Double(pp) && layersLeft >= stagesLeft) {
                    cuts.append(i + 1)
                }
            }
        }
        return zip([0] + cuts, cuts + [n]).map { $0 ..< $1 }
    }

    /// Names of parameters used by a stage but owned by a layer of another (a tied LM head).
    func tiedParameterNames(_ network: Sequential, _ ranges: [Range<Int>]) -> Set<String> {
        var names = Set<String>()
        for range in ranges {
            let own = Set(network.layers[range].flatMap(\.parameters).map(\.name))
            for layer in network.layers[range] {
                if let linear = layer as? Linear, !linear.ownsWeight, !own.contains(linear.weight.name) { names.insert(linear.weight.name) }
            }
        }
        return names
    }

    /// Stage `s` on one rank: the whole model built from the seed, its stage's layers kept — each
    /// transformer block replaced by this rank's shard of it when there is a tensor-parallel group.
    /// The first stage's copy of a tied parameter is its own; later stages list theirs as shared.
    /// Returns the stage and where each of its own parameters sits in the whole model's.
    private func makeStage(_ s: Int, ranges: [Range<Int>], tensor: Rank?, context: ExecutionContext) -> (PipelineStage, [ParameterShard]) {
        // The spec and the split were validated in init, so neither can fail here.
        let model = try! Model(spec: spec, inputShape: inputShape, classes: classes, context: context, seed: seed)
        var layers: [Layer] = []
        var shards: [ParameterShard] = []
        for layer in model.network.layers[ranges[s]] {
            if let tensor, let block = layer as? TransformerBlock {
                let split = try! TensorParallel.shard(block, rank: tensor)
                layers.append(split.layer)
                shards += split.shards
            } else {
                layers.append(layer)
                shards += layer.parameters.map { .replica($0, of: $0) }
            }
        }
        let own = Set(layers.flatMap(\.parameters).map(\.name))
        let shared = layers.compactMap { layer -> Parameter? in
            guard let linear = layer as? Linear, !linear.ownsWeight, !own.contains(linear.weight.name) else { return nil }
            return linear.weight
        }
        let tiedHere = Set(tiedParameterNames(model.network, ranges))
        let stage = PipelineStage(index: s, layers: layers, shared: shared, isFirst: s == 0,
                                  checkpointing: plan.checkpointing == .full, context: context)
        stage.tiedParameters = (stage.ownParameters + shared).filter { tiedHere.contains($0.name) }
        return (stage, shards)
    }
}

/// What one rank did in a simulated run.
public struct SimulatedRankReport: Sendable {
    /// World rank: stage × dp × tp + data-parallel rank × tp + tensor-parallel rank.
    public var rank: Int
    public var stage: Int
    public var dataRank: Int
    public var tensorRank: Int
    /// Elements of the stage's flat store (parameters and alignment padding).
    public var storeCount: Int
    /// Trainable elements the rank keeps (its tensor-parallel slices and whole replicas).
    public var parameterCount: Int
    /// Model states held between steps, from the rank's own buffers.
    public var held: ModelStateMemory
    /// Full buffers used only inside a step (ZeRO-2's gradients, ZeRO-3's gathered weights).
    public var workingBytes: Double
    /// Peak live bytes of the rank's context over the steps (states, activations, messages).
    public var peakBytes: Double
    public var flops: Double
    /// Of `flops`, the forwards run again before a backward.
    public var recomputeFLOPs: Double
    /// The most micro-batches whose inputs (or checkpoints) the rank held at once.
    public var peakStashed: Int
    /// The collectives the rank ran, as recorded.
    public var collectives: [CollectiveEvent]
    /// What the cost model says it runs over all steps (`StepCollectives`).
    public var predictedCollectives: [CollectiveEvent]
    /// Bytes the rank handed to other ranks, counted by the communicators.
    public var bytesSent: Double
}

/// The outcome of a simulated run.
public struct SimulatedTrainingResult: Sendable {
    /// Trainable parameters after the last step, in network order.
    public var weights: [Float]
    /// Mean training loss per step over the global batch.
    public var losses: [Float]
    public var ranks: [SimulatedRankReport]
}

/// What a rank's thread hands back.
struct RankOutcome: @unchecked Sendable {
    var owned: [Float]
    var losses: [Float]
    var held: ModelStateMemory
    var working: Double
    var stage: PipelineStage
    var shards: [ParameterShard]
    var summary: TraceSummary
    var collectives: [CollectiveEvent]
}

extension ArchitectureSpec {
    /// Whether any layer draws dropout masks.
    var hasDropout: Bool {
        switch self {
        case .mlp(let s): return s.dropout > 0
        case .cnn(let s): return s.dropout > 0
        case .vit(let s): return s.dropout > 0
        case .gpt(let s): return s.dropout > 0
        }
    }
}

import Engine

extension ParallelPlan.PipelineSchedule {
    /// One step of a stage's schedule: the forward or the backward of micro-batch k.
    public enum Operation: Equatable, Sendable {
        case forward(Int)
        case backward(Int)
    }

    /// The order in which stage `stage` of `stages` runs the forwards and backwards of `m`
    /// micro-batches.
    ///
    /// GPipe (Huang et al. 2019): every forward, then every backward — m micro-batches in flight.
    /// 1F1B (PipeDream-Flush, Narayanan et al. 2021): p − s − 1 warm-up forwards, then one forward
    /// and one backward in turn, then the remaining backwards — at most p − s in flight. ZB-H1
    /// keeps 1F1B's order; only the timing of each backward's weight-gradient half differs.
    ///
    ///     PipelineSchedule.oneForwardOneBackward.operations(stage: 0, stages: 2, microBatches: 3)
    ///     // [.forward(0), .forward(1), .backward(0), .forward(2), .backward(1), .backward(2)]
    public func operations(stage: Int, stages: Int, microBatches m: Int) -> [Operation] {
        switch self {
        case .gpipe:
            return (0 ..< m).map { .forward($0) } + (0 ..< m).map { .backward($0) }
        case .oneForwardOneBackward, .zeroBubble:   // ZB-H1 defers only the weight-gradient half of each backward
            let warmup = min(max(stages - stage - 1, 0), m)
            var ops: [Operation] = (0 ..< warmup).map { .forward($0) }
            var backward = 0
            for forward in warmup ..< m {
                ops.append(.forward(forward))
                ops.append(.backward(backward))
                backward += 1
            }
            ops += (backward ..< m).map { .backward($0) }
            return ops
        }
    }

    /// The forwards stage `stage` runs again each step because another micro-batch's forward ran
    /// between a micro-batch's forward and its backward (the engine's layers keep only their last
    /// forward; see `PipelineStage`).
    ///
    ///     PipelineSchedule.gpipe.rematerializedForwards(stage: 0, stages: 2, microBatches: 3)   // 2
    public func rematerializedForwards(stage: Int, stages: Int, microBatches m: Int) -> Int {
        var last: Operation?
        var count = 0
        for op in operations(stage: stage, stages: stages, microBatches: m) {
            if case .backward(let k) = op, last != .forward(k) { count += 1 }
            last = op
        }
        return count
    }

    /// The most micro-batches whose activations stage `stage` holds at once.
    public func microBatchesInFlight(stage: Int, stages: Int, microBatches m: Int) -> Int {
        var live = 0, peak = 0
        for op in operations(stage: stage, stages: stages, microBatches: m) {
            if case .forward = op { live += 1 } else { live -= 1 }
            peak = max(peak, live)
        }
        return peak
    }
}

/// A contiguous run of a network's top-level layers on one rank, with its own flat parameter
/// store: one pipeline stage (the whole network when there is one stage).
///
/// The engine's layers keep the activations of their last forward. A stage that has run another
/// micro-batch's forward since this one's (GPipe, or 1F1B in its steady state) recomputes the
/// forward from the micro-batch's stashed input before its backward, as GPipe's
/// re-materialisation does. With full activation checkpointing every layer's input is kept as a
/// copy (the checkpoint) and each layer's forward is recomputed just before its backward
/// (Chen et al. 2016; Megatron-LM's full recomputation). Both are counted in `recomputeFLOPs`.
final class PipelineStage {
    let index: Int
    let layers: [Layer]
    let network: Sequential
    let store: ParameterStore
    let context: ExecutionContext
    let checkpointing: Bool
    /// Parameters of this stage that belong to a layer of another stage (a language-model head's
    /// tied embedding): this stage keeps a copy and their gradients are summed across the stages.
    let sharedParameters: [Parameter]
    /// This stage's own parameters, in network order.
    let ownParameters: [Parameter]
    /// Parameters whose gradients are summed with another stage's copy after the backward passes.
    var tiedParameters: [Parameter] = []
    private var stash: [Int: [Tensor]] = [:]
    private var keepAlive: [Int: AnyObject] = [:]
    private var cachedMicroBatch: Int?
    private var lastOutput: Tensor?
    private(set) var peakStashed = 0
    private(set) var recomputeFLOPs = 0.0

    /// - Parameters:
    ///   - layers: this stage's layers, taken from a network whose parameters already hold their
    ///     initial values (they are copied into the new store).
    ///   - shared: parameters of other stages' layers that these layers use.
    ///   - isFirst: the first stage's input gradient is never needed.
    init(index: Int, layers: [Layer], shared: [Parameter], isFirst: Bool, checkpointing: Bool, context: ExecutionContext) {
        self.index = index
        self.layers = layers
        self.context = context
        self.checkpointing = checkpointing
        network = Sequential("stage\(index)", layers)
        network.needsInputGradient = !isFirst
        ownParameters = network.parameters
        sharedParameters = shared
        let all = ownParameters + shared
        let initial = all.map { Array(UnsafeBufferPointer(start: $0.value.data, count: $0.count)) }
        store = ParameterStore(all, context: context)
        for (p, values) in zip(all, initial) {
            values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: p.count) }
        }
    }

    /// Forward micro-batch `k`. `owner` is kept alive with the stashed input (the micro-batch
    /// that holds the input's storage and labels).
    func forward(_ x: Tensor, microBatch k: Int, owner: AnyObject? = nil) -> Tensor {
        context.phase = .forward
        var y = x
        var kept: [Tensor] = []
        if checkpointing {
            for layer in layers {
                kept.append(copy(y))
                y = layer.forward(y, training: true)
            }
        } else {
            kept = [x]
            y = network.forward(x, training: true)
        }
        stash[k] = kept
        if let owner { keepAlive[k] = owner }
        peakStashed = max(peakStashed, stash.count)
        cachedMicroBatch = k
        lastOutput = y
        return y
    }

    /// Backward micro-batch `k`: `topGradient` receives the stage's output for `k` (recomputed
    /// when needed) and returns ∂L/∂output. Returns ∂L/∂input, nil on the first stage.
    func backward(microBatch k: Int, topGradient: (Tensor) -> Tensor) -> Tensor? {
        guard let kept = stash.removeValue(forKey: k) else { preconditionFailure("stage \(index): backward of micro-batch \(k) before its forward") }
        defer { keepAlive[k] = nil; cachedMicroBatch = nil }
        if checkpointing {
            // The last layer's output is needed first (for the loss); recompute it, then walk back.
            var outputs: Tensor?
            var g: Tensor?
            for i in layers.indices.reversed() {
                context.phase = .forward
                let out = recompute { layers[i].forward(kept[i], training: true) }
                if i == layers.count - 1 { outputs = out }
                context.phase = .backward
                let dy = g ?? topGradient(outputs!)
                guard let next = layers[i].backward(dy) else { return nil }
                g = next
            }
            return g
        }
        var output = lastOutput!
        if cachedMicroBatch != k {
            context.phase = .forward
            output = recompute { network.forward(kept[0], training: true) }
        }
        let dy = topGradient(output)
        context.phase = .backward
        return network.backward(dy)
    }

    private func recompute(_ body: () -> Tensor) -> Tensor {
        var out: Tensor?
        recomputeFLOPs += context.measure { out = body() }.flops
        return out!
    }

    private func copy(_ t: Tensor) -> Tensor {
        let c = Tensor(shape: t.shape, context: context)
        c.copy(from: t)
        return c
    }
}

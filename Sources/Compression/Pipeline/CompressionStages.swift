import Engine
import Foundation

/// The post-training steps of a compression run, each followed by its fine-tune.
final class CompressionStages {
    typealias Train = (Candidate, Model?, [TrainingHook], Bool) throws -> (TrainingReport, Model)

    let recipe: Recipe
    let splits: DataConfig.Splits
    let working: WorkingWeights
    let hooks: [TrainingHook]
    let train: Train
    let log: ((String) -> Void)?
    /// The float parameters an int8 model was made from (its footprint is counted on them).
    private(set) var quantizedFrom: [Parameter]?
    /// The last training report: a step without fine-tuning reports its evaluation on it.
    var last: TrainingReport?

    init(recipe: Recipe, splits: DataConfig.Splits, working: WorkingWeights, hooks: [TrainingHook], log: ((String) -> Void)?, train: @escaping Train) {
        self.recipe = recipe; self.splits = splits; self.working = working; self.hooks = hooks; self.log = log; self.train = train
    }

    /// Fine-tune `model` for `epochs` at `rate` (default: a tenth of the candidate's), or only
    /// re-evaluate it when `epochs` is 0.
    func finetune(_ model: Model, epochs: Int, rate: Float?) throws -> (TrainingReport, Model) {
        guard var report = last else { preconditionFailure("a compression step before training") }
        guard epochs > 0 else {
            for hook in hooks { hook.willEvaluate(model) }
            let test = Self.timedEvaluation(model, splits.test, batchSize: recipe.candidate.training.batchSize)
            for hook in hooks.reversed() { hook.didEvaluate(model) }
            report.testAccuracy = test.accuracy
            report.testLoss = test.loss
            report.testSeconds = test.seconds
            report.parameters = model.parameterCount
            return (report, model)
        }
        var c = recipe.candidate
        c.training.steps = nil
        c.training.epochs = epochs
        c.training.optimizer.learningRate = rate ?? c.training.optimizer.learningRate / 10
        let result = try train(c, model, hooks, false)
        last = result.0
        return result
    }

    /// Forget what belonged to a model that a rebuilt one replaces.
    private func replacing(_ model: Model) {
        working.masks = [:]
        working.shared = []
        working.detach(from: model)
    }

    /// Optimizer steps in `epochs` of the candidate's training.
    func stepCount(epochs: Int) -> Int {
        let t = recipe.candidate.training
        let batch = min(t.batchSize, splits.train.count)
        let batches = (splits.train.count + batch - 1) / batch
        return (batches + t.accumulation - 1) / t.accumulation * epochs
    }

    // MARK: Unstructured pruning

    func prune(_ model: Model, _ p: PruneStep) throws -> (TrainingReport, Model) {
        let targets = NetworkSurgery.weights(of: model)
        let total = stepCount(epochs: p.epochs)
        let schedule: GradualSchedule
        if p.schedule == .oneshot || total == 0 {
            schedule = .oneShot(sparsity: p.sparsity, atStep: 0)
            setMasks(targets, sparsity: p.sparsity, scope: p.scope, scores: nil)
            working.refresh(model)
        } else {
            let end = max(1, total * 2 / 3)
            schedule = GradualSchedule(initialSparsity: 0, finalSparsity: p.sparsity, startStep: 0, endStep: end,
                                       frequency: p.frequency ?? max(1, end / 20))
        }
        var taylor: [ObjectIdentifier: [Float]] = [:]
        working.beforeUpdate = { [unowned self] _, step in
            if p.criterion == .taylor {
                for w in targets {
                    let s = taylorScores(weights: w.parameter.value.data, gradients: w.parameter.grad.data, count: w.count)
                    let id = ObjectIdentifier(w.parameter)
                    if var acc = taylor[id] {
                        for i in 0..<acc.count { acc[i] = 0.9 * acc[i] + 0.1 * s[i] }
                        taylor[id] = acc
                    } else {
                        taylor[id] = s
                    }
                }
            }
            if schedule.isPruningStep(step) {
                setMasks(targets, sparsity: schedule.sparsity(atStep: step), scope: p.scope, scores: p.criterion == .taylor ? taylor : nil)
            }
        }
        defer { working.beforeUpdate = nil }
        log?("pruning to \(Int((p.sparsity * 100).rounded()))% sparsity over \(p.epochs) epochs")
        return try finetune(model, epochs: p.epochs, rate: p.learningRate)
    }

    /// Masks keeping the largest scores (|w| unless Taylor scores are given), over all weights
    /// at once or layer by layer.
    private func setMasks(_ targets: [CompressibleWeight], sparsity: Double, scope: PruneStep.Scope, scores: [ObjectIdentifier: [Float]]?) {
        var arrays: [[Float]] = targets.map { w in scores?[ObjectIdentifier(w.parameter)] ?? w.parameter.value.array }
        if scores == nil { arrays = arrays.map { $0.map(abs) } }
        let masks: [[Bool]]
        switch scope {
        case .layer:
            masks = arrays.map { a in a.withUnsafeBufferPointer { magnitudeMask($0.baseAddress!, count: a.count, sparsity: sparsity) } }
        case .global:
            masks = withPointers(arrays) { globalMasks($0, sparsity: sparsity) }
        }
        for (w, m) in zip(targets, masks) { working.masks[ObjectIdentifier(w.parameter)] = m }
    }

    // MARK: Structured pruning

    func pruneChannels(_ model: Model, _ c: ChannelPruneStep) throws -> (TrainingReport, Model) {
        var scores: [String: [Float]]?
        if c.criterion == "taylor" { scores = unitTaylorScores(model) }
        let plan = ChannelPruning(ratio: c.ratio, norm: c.criterion == "l2" ? .l2 : .l1, scope: c.scope, scores: scores)
        replacing(model)
        let pruned = try Compression.pruneChannels(model, plan, seed: recipe.candidate.training.seed).model
        log?("removed \(Int((c.ratio * 100).rounded()))% of the units: \(model.parameterCount) → \(pruned.parameterCount) parameters")
        return try finetune(pruned, epochs: c.epochs, rate: c.learningRate)
    }

    /// Per-unit first-order Taylor scores Σ|w·∂L/∂w| over each unit's weights, from the gradients
    /// of a few training batches (Molchanov et al. 2017).
    private func unitTaylorScores(_ model: Model) -> [String: [Float]] {
        let targets = NetworkSurgery.weights(of: model)
        var sums: [ObjectIdentifier: [Float]] = [:]
        model.forEachBatch(of: splits.train, batchSize: 128, limit: 1024) { x, labels in
            model.store.zeroGradients()
            _ = model.accumulateGradients(x, labels: labels)
            for w in targets {
                let s = taylorScores(weights: w.parameter.value.data, gradients: w.parameter.grad.data, count: w.count)
                sums[ObjectIdentifier(w.parameter), default: Array(repeating: 0, count: w.count)].addInPlace(s)
            }
        }
        model.store.zeroGradients()
        var out: [String: [Float]] = [:]
        for w in targets {
            guard let s = sums[ObjectIdentifier(w.parameter)] else { continue }
            out[w.layer] = s.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: w.parameter.shape, channelAxis: w.channelAxis, norm: .l1) }
        }
        return out
    }

    // MARK: Low rank

    func lowRank(_ model: Model, _ l: LowRankStep) throws -> (TrainingReport, Model) {
        replacing(model)
        let (factored, summary) = try factorizeLowRank(model, choice: l.choice)
        log?(summary)
        return try finetune(factored, epochs: l.epochs, rate: l.learningRate)
    }

    // MARK: Weight sharing

    func share(_ model: Model, _ s: ShareStep, encodings: inout WeightEncodings) throws -> (TrainingReport, Model) {
        let clusters = 1 << s.bits
        let rate = s.learningRate ?? recipe.candidate.training.optimizer.learningRate / 10
        for w in NetworkSurgery.weights(of: model) {
            let book = kMeansCodebook(w.parameter.value.data, count: w.count, clusters: clusters, seed: recipe.candidate.training.seed)
            working.shared.append(SharedWeight(weight: w, codebook: book, learningRate: rate))
            encodings.shared[ObjectIdentifier(w.parameter)] = (s.bits, book.centroids.count)
        }
        working.refresh(model)
        log?("\(working.shared.count) weight tensors share \(clusters)-entry codebooks")
        return try finetune(model, epochs: s.epochs, rate: s.learningRate)
    }

    // MARK: Footprint and timing

    func footprintParameters(_ model: Model) -> [Parameter] { quantizedFrom ?? model.store.parameters }

    /// Accuracy, loss and wall seconds of one pass over `data`.
    static func timedEvaluation(_ model: Model, _ data: Dataset, batchSize: Int) -> (accuracy: Double, loss: Double, seconds: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let r = model.evaluate(on: data, batchSize: batchSize)
        return (r.accuracy, r.loss, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    func noteQuantized(from parameters: [Parameter]) { quantizedFrom = parameters }
}

extension Array where Element == Float {
    mutating func addInPlace(_ other: [Float]) {
        for i in 0..<Swift.min(count, other.count) { self[i] += other[i] }
    }
}

/// Calls `body` with (pointer, count) pairs for `arrays`, valid for the call.
func withPointers<R>(_ arrays: [[Float]], _ body: ([(UnsafePointer<Float>, Int)]) -> R) -> R {
    var pointers: [(UnsafePointer<Float>, Int)] = []
    var buffers: [UnsafeMutablePointer<Float>] = []
    for a in arrays {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(a.count, 1))
        a.withUnsafeBufferPointer { if let b = $0.baseAddress { p.update(from: b, count: a.count) } }
        buffers.append(p)
        pointers.append((UnsafePointer(p), a.count))
    }
    defer { buffers.forEach { $0.deallocate() } }
    return body(pointers)
}

import Foundation

/// Trains a candidate on its data and evaluates it.
///
///     let report = try Trainer(candidate: c).run { epoch in print(epoch.trainLoss) }
public final class Trainer {
    public let candidate: Candidate

    /// Called once the model is built, before the first epoch (to read its size and FLOPs).
    public var onModelBuilt: ((Model) -> Void)?

    /// Loads the data (default: `DataConfig.load`); a search replaces it with a cache so the
    /// trials of one study do not read and decode the same files again.
    public var loadData: (DataConfig, UInt64) throws -> DataConfig.Splits = { try $0.load(seed: $1) }

    /// Changes to the training step (precision, quantization-aware training, pruning...), in order.
    public var hooks: [TrainingHook] = []

    /// The model of the last `run`, trained: what compression steps continue from.
    public private(set) var model: Model?

    public init(candidate: Candidate) { self.candidate = candidate }

    /// Load the data, build the model, train, evaluate. Configuration problems throw `ConfigError`
    /// or `DataError` before any training; a diverging run returns status `.diverged`.
    /// - Parameters:
    ///   - progress: called after every epoch with its record.
    ///   - shouldStop: asked after every epoch; `true` ends training there (status `.stopped`),
    ///     and the model is still evaluated on the test set.
    ///   - given: a model to keep training (a fine-tune) instead of a new one from the spec.
    public func run(model given: Model? = nil, progress: ((EpochRecord) -> Void)? = nil,
                    shouldStop: ((EpochRecord) -> Bool)? = nil) throws -> TrainingReport {
        let config = candidate.training
        try config.validate()
        let splits = try loadData(candidate.data, config.seed)
        let train = splits.train
        guard train.count > 0 else { throw ConfigError(keyPath: "data", reason: "the training set is empty") }
        let threads = config.threads ?? ProcessInfo.processInfo.activeProcessorCount
        EngineThreads.set(threads)

        let spec = candidate.architecture
        let model = try given ?? Model(spec: spec, inputShape: train.sampleShape, classes: train.classCount,
                                       context: ExecutionContext(), seed: config.seed)
        let ctx = model.context
        self.model = model
        onModelBuilt?(model)
        for hook in hooks { try hook.prepare(model, training: train) }
        let countedBefore = ctx.summary
        var beforeFirstStep = countedBefore, firstStep = TraceSummary()
        let optimizer = config.optimizer.make()
        let batch = min(config.batchSize, train.count)
        let batchesPerEpoch = (train.count + batch - 1) / batch
        let stepsPerEpoch = (batchesPerEpoch + config.accumulation - 1) / config.accumulation
        let totalSteps = config.steps ?? config.epochs * stepsPerEpoch
        let epochCount = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch

        let runner = BatchRunner(model: model, batch: batch, sampleShape: train.sampleShape, labelsPerSample: train.labelsPerSample)
        var records: [EpochRecord] = []
        var status = TrainingStatus.completed
        var step = 0
        var trainingSeconds = 0.0
        var samplesSeen = 0
        // Set when the optimizer left every gradient zero, so the next step skips its own zeroing.
        var gradientsAreZero = false

        epochs: for epoch in 0..<epochCount {
            var shuffler = RandomSource.derived(seed: config.seed, stream: 0xE90C + UInt64(epoch))
            let order = shuffler.permutation(train.count)
            var lossSum = 0.0, correct = 0, seen = 0, micro = 0
            var rate = config.optimizer.learningRate
            let start = DispatchTime.now().uptimeNanoseconds
            for (b, lo) in stride(from: 0, to: train.count, by: batch).enumerated() {
                let hi = min(lo + batch, train.count)
                runner.load(train, order[lo..<hi])
                if micro == 0, !gradientsAreZero { model.store.zeroGradients() }
                gradientsAreZero = false
                if step == 0, micro == 0 { beforeFirstStep = ctx.summary }
                for hook in hooks { hook.willForward(model, input: runner.input, step: step) }
                let r = runner.accumulate(scale: hooks.reduce(Float(1)) { $0 * $1.gradientScale } / Float(config.accumulation),
                                          customLoss: customLoss(model, input: runner.input, labels: runner.labels))
                guard r.loss.isFinite else { status = .diverged; break epochs }
                lossSum += Double(r.loss) * Double(hi - lo)
                correct += r.correct
                seen += hi - lo
                micro += 1
                if micro == config.accumulation || b == batchesPerEpoch - 1 {
                    ctx.phase = .optimizer
                    rate = config.schedule.rate(atStep: step, totalSteps: totalSteps, base: config.optimizer.learningRate)
                    if hooks.allSatisfy({ $0.willStep(model, step: step) }) {
                        if let clip = config.gradientClip { _ = clipGradientNorm(model.store, maxNorm: clip) }
                        optimizer.stepZeroingGradients(model.store, learningRate: rate)
                        gradientsAreZero = true
                        for hook in hooks { hook.didStep(model, step: step) }
                    }
                    ctx.phase = .other
                    if step == 0 { firstStep = ctx.summary.subtracting(beforeFirstStep) }
                    step += 1
                    micro = 0
                    if step == totalSteps { break }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            trainingSeconds += seconds
            samplesSeen += seen
            let val = splits.validation.map { evaluate(model, $0, runner) }
            let record = EpochRecord(epoch: epoch + 1, trainLoss: lossSum / Double(max(seen, 1)),
                                     trainAccuracy: Double(correct) / Double(max(seen * train.labelsPerSample, 1)),
                                     validationLoss: val?.loss, validationAccuracy: val?.accuracy,
                                     seconds: seconds, learningRate: Double("\(rate)") ?? Double(rate))
            records.append(record)
            progress?(record)
            if shouldStop?(record) == true, epoch + 1 < epochCount { status = .stopped; break }
        }

        let testStart = DispatchTime.now().uptimeNanoseconds
        let test = evaluate(model, splits.test, runner)
        let testSeconds = Double(DispatchTime.now().uptimeNanoseconds - testStart) / 1e9
        // A model built from the spec is traced shape-only at the configured batch; a given model
        // (its network may be one no spec describes) by what its first step executed.
        let stepTrace = given == nil
            ? try Model.traceTrainingStep(spec: spec, inputShape: train.sampleShape, classes: train.classCount,
                                          batch: batch, optimizer: config.optimizer.make()).summary
            : firstStep
        let perEpoch = records.map(\.seconds).sorted()
        return TrainingReport(
            status: status, testAccuracy: test.accuracy, testLoss: test.loss, testSeconds: testSeconds,
            validationAccuracy: records.last?.validationAccuracy, epochs: records,
            secondsPerEpoch: perEpoch.isEmpty ? 0 : perEpoch[perEpoch.count / 2],
            samplesPerSecond: trainingSeconds > 0 ? Double(samplesSeen) / trainingSeconds : 0,
            steps: step, parameters: model.parameterCount,
            flopsPerSample: given == nil
                ? try Model.forwardFLOPsPerSample(spec: spec, inputShape: train.sampleShape, classes: train.classCount)
                : model.measuredForwardFLOPsPerSample(),
            trainingFLOPs: ctx.summary.flops - countedBefore.flops, peakBytes: ctx.summary.peakBytes, stepTrace: stepTrace, threads: threads)
    }

    private func evaluate(_ model: Model, _ data: Dataset, _ runner: BatchRunner) -> (loss: Double, accuracy: Double) {
        for hook in hooks { hook.willEvaluate(model) }
        defer { for hook in hooks.reversed() { hook.didEvaluate(model) } }
        return runner.evaluate(data)
    }

    /// The first hook's replacement for the cross-entropy, as the closure the model calls.
    private func customLoss(_ model: Model, input: Tensor, labels: UnsafePointer<Int32>) -> ((Tensor) -> SoftmaxCrossEntropy.Result)? {
        guard !hooks.isEmpty else { return nil }
        let hooks = hooks
        return { logits in
            for hook in hooks {
                if let r = hook.loss(model, logits: logits, input: input, labels: labels) { return r }
            }
            return model.loss(logits, labels: labels, computeGradient: true)
        }
    }
}

/// The input and label buffers of one batch, filled from a data set without allocating.
final class BatchRunner {
    let model: Model
    let capacity: Int
    let sampleShape: [Int]
    let labelsPerSample: Int
    let input: Tensor
    let labels: UnsafeMutablePointer<Int32>

    init(model: Model, batch: Int, sampleShape: [Int], labelsPerSample: Int) {
        self.model = model
        capacity = batch
        self.sampleShape = sampleShape
        self.labelsPerSample = labelsPerSample
        input = Tensor(shape: [batch] + sampleShape, context: model.context)
        labels = .allocate(capacity: batch * labelsPerSample)
        labels.initialize(repeating: 0, count: batch * labelsPerSample)
    }

    deinit { labels.deallocate() }

    func load(_ data: Dataset, _ indices: ArraySlice<Int>) {
        input.reshape([indices.count] + sampleShape)
        data.gather(indices, features: input.data, labels: labels)
    }

    func accumulate(scale: Float, customLoss: ((Tensor) -> SoftmaxCrossEntropy.Result)? = nil) -> (loss: Float, correct: Int) {
        model.accumulateGradients(input, labels: labels, gradientScale: scale, customLoss: customLoss)
    }

    /// Mean loss and accuracy over a whole data set, in batches of the training size.
    func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        var loss = 0.0, correct = 0
        var lo = 0
        while lo < data.count {
            let hi = min(lo + capacity, data.count)
            load(data, Array(lo..<hi)[...])
            let r = model.evaluate(input, labels: labels)
            loss += Double(r.loss) * Double(hi - lo)
            correct += r.correct
            lo = hi
        }
        let n = Double(max(data.count, 1))
        return (loss / n, Double(correct) / (n * Double(labelsPerSample)))
    }
}

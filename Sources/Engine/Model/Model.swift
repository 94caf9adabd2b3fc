/// A network built from an `ArchitectureSpec`, its parameters in one flat store, and its loss.
///
///     let ctx = ExecutionContext()
///     let model = try Model(spec: spec, inputShape: [28, 28, 1], classes: 10, context: ctx, seed: 1)
///     let logits = model.forward(batch, training: false)
public final class Model {
    public let spec: ArchitectureSpec
    public let inputShape: [Int]
    public let classes: Int
    public let context: ExecutionContext
    public let network: Sequential
    public let store: ParameterStore
    public let loss: SoftmaxCrossEntropy

    /// Validate `spec` for this input, build the layers, lay out and initialise the parameters.
    public init(spec: ArchitectureSpec, inputShape: [Int], classes: Int, context: ExecutionContext, seed: UInt64) throws {
        try spec.validate(inputShape: inputShape, classes: classes)
        self.spec = spec
        self.inputShape = inputShape
        self.classes = classes
        self.context = context
        network = try buildNetwork(spec, inputShape: inputShape, classes: classes, seed: seed)
        network.needsInputGradient = false
        _ = try network.outputShape(for: inputShape)
        store = ParameterStore(network.parameters, context: context)
        var rng = RandomSource.derived(seed: seed, stream: 0x1417)
        network.initialize(using: &rng)
        loss = SoftmaxCrossEntropy(context: context)
    }

    /// A model around a network built by hand (a compressed or rebuilt copy of a spec's network):
    /// its parameters get a new flat store, zero-filled; the caller fills them. `spec` names the
    /// architecture the network came from.
    public init(network: Sequential, spec: ArchitectureSpec, inputShape: [Int], classes: Int, context: ExecutionContext) throws {
        self.spec = spec
        self.inputShape = inputShape
        self.classes = classes
        self.context = context
        self.network = network
        network.needsInputGradient = false
        _ = try network.outputShape(for: inputShape)
        store = ParameterStore(network.parameters, context: context)
        loss = SoftmaxCrossEntropy(context: context)
    }

    /// Trainable parameters.
    public var parameterCount: Int { store.parameterCount }

    /// Logits for a batch: (batch, classes), or (batch, T, vocabulary) for a language model.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        network.forward(x, training: training)
    }

    /// One forward and backward pass, accumulating gradients (the caller zeroes them and steps the
    /// optimizer). Returns the mean loss and the number of correct predictions.
    /// - Parameters:
    ///   - gradientScale: multiplies ∂loss/∂logits (1/accumulation for gradient accumulation,
    ///     times the loss scale in mixed precision).
    ///   - customLoss: replaces the cross-entropy (distillation); it returns the loss, the correct
    ///     predictions and ∂loss/∂logits.
    public func accumulateGradients(_ x: Tensor, labels: UnsafePointer<Int32>, gradientScale: Float = 1,
                                    customLoss: ((Tensor) -> SoftmaxCrossEntropy.Result)? = nil) -> (loss: Float, correct: Int) {
        context.phase = .forward
        let logits = network.forward(x, training: true)
        let result = customLoss?(logits) ?? loss(logits, labels: labels, computeGradient: true)
        context.phase = .backward
        if gradientScale != 1, !context.isMeta {
            let g = result.gradient.data
            for i in 0..<result.gradient.count { g[i] *= gradientScale }
        }
        _ = network.backward(result.gradient)
        context.phase = .other
        return (result.loss, result.correct)
    }

    /// Loss and correct predictions without gradients.
    public func evaluate(_ x: Tensor, labels: UnsafePointer<Int32>) -> (loss: Float, correct: Int) {
        context.phase = .forward
        let logits = network.forward(x, training: false)
        let r = loss(logits, labels: labels, computeGradient: false)
        context.phase = .other
        return (r.loss, r.correct)
    }
}

extension Model {
    /// Mean loss and accuracy over a whole data set, in batches of `batchSize`.
    public func evaluate(on data: Dataset, batchSize: Int = 256) -> (loss: Double, accuracy: Double) {
        BatchRunner(model: self, batch: batchSize, sampleShape: data.sampleShape, labelsPerSample: data.labelsPerSample).evaluate(data)
    }

    /// Call `body` with consecutive batches of `data` (in order, at most `limit` samples), as input
    /// tensors in this model's context and their labels: calibration and scoring passes.
    public func forEachBatch(of data: Dataset, batchSize: Int = 256, limit: Int? = nil,
                             _ body: (_ input: Tensor, _ labels: UnsafePointer<Int32>) throws -> Void) rethrows {
        let n = min(limit ?? data.count, data.count)
        let runner = BatchRunner(model: self, batch: min(batchSize, max(n, 1)), sampleShape: data.sampleShape, labelsPerSample: data.labelsPerSample)
        var lo = 0
        while lo < n {
            let hi = min(lo + runner.capacity, n)
            runner.load(data, Array(lo..<hi)[...])
            try body(runner.input, runner.labels)
            lo = hi
        }
    }

    /// FLOPs of one forward pass for one sample, counted by running it (for networks that no spec
    /// describes, such as a factorized or quantized copy).
    public func measuredForwardFLOPsPerSample() -> Double {
        let x = Tensor(shape: [1] + inputShape, context: context)
        let phase = context.phase
        defer { context.phase = phase }
        return context.measure { context.phase = .forward; _ = network.forward(x, training: false) }.flops
    }

    /// Trace one training step (forward, backward, optimizer update) of `spec` at `batch` samples
    /// in meta mode: shapes only, no numbers. Returns the context holding the trace.
    public static func traceTrainingStep(spec: ArchitectureSpec, inputShape: [Int], classes: Int, batch: Int,
                                         optimizer: Optimizer? = nil, recordsEvents: Bool = false) throws -> ExecutionContext {
        let ctx = ExecutionContext(mode: .meta, recordsEvents: recordsEvents)
        let model = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ctx, seed: 0)
        let x = Tensor(shape: [batch] + inputShape, context: ctx)
        let labelCount = batch * (inputShape.count == 1 && spec.family == "gpt" ? inputShape[0] : 1)
        let labels = [Int32](repeating: 0, count: labelCount)
        model.store.zeroGradients()
        _ = labels.withUnsafeBufferPointer { model.accumulateGradients(x, labels: $0.baseAddress!) }
        ctx.phase = .optimizer
        (optimizer ?? AdamW.adam()).step(model.store, learningRate: 1e-3)
        ctx.phase = .other
        return ctx
    }

    /// FLOPs of one forward pass for one sample, from a meta-mode trace.
    public static func forwardFLOPsPerSample(spec: ArchitectureSpec, inputShape: [Int], classes: Int) throws -> Double {
        let ctx = ExecutionContext(mode: .meta)
        let model = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ctx, seed: 0)
        ctx.resetCounters()
        _ = model.forward(Tensor(shape: [1] + inputShape, context: ctx), training: false)
        return ctx.summary.flops
    }
}

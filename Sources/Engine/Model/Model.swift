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

    /// Trainable parameters.
    public var parameterCount: Int { store.parameterCount }

    /// Logits for a batch: (batch, classes), or (batch, T, vocabulary) for a language model.
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        network.forward(x, training: training)
    }

    /// One forward and backward pass, accumulating gradients (the caller zeroes them and steps the
    /// optimizer). Returns the mean loss and the number of correct predictions.
    /// - Parameters:
    ///   - gradientScale: multiplies ∂loss/∂logits (1/accumulation for gradient accumulation).
    public func accumulateGradients(_ x: Tensor, labels: UnsafePointer<Int32>, gradientScale: Float = 1) -> (loss: Float, correct: Int) {
        context.phase = .forward
        let logits = network.forward(x, training: true)
        let result = loss(logits, labels: labels, computeGradient: true)
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

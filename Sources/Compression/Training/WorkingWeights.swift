import Engine

/// FP32 master weights behind the weights a model computes with.
///
/// The optimizer always updates the master copy; after every step the working weights are made
/// from it again — masked (pruning), fake-quantized (quantization-aware training), replaced by
/// their codebook (weight sharing), rounded to the training precision. With a 16-bit precision
/// it also rounds every activation and activation gradient at each layer boundary (round to
/// nearest even), rounds the weight gradients, and runs the loss scaler: the loss gradient is
/// multiplied by the scale, an overflowing step is skipped, a clean one unscaled (Micikevicius
/// et al. 2018, "Mixed Precision Training"; DeepSpeed's dynamic scaler).
public final class WorkingWeights: TrainingHook, LayerBoundaryObserver {
    public let format: FloatFormat
    public private(set) var scaler: LossScaler?
    /// Pruning masks by parameter (true: kept), applied to the master weights.
    public var masks: [ObjectIdentifier: [Bool]] = [:]
    /// Weights fake-quantized in the forward pass (quantization-aware training).
    public var fakeQuantized: [(weight: CompressibleWeight, scheme: QuantizationScheme)] = []
    /// λ of L1 regularisation on the compressible weights.
    public var l1 = Float(0)
    /// Weights tied to a codebook (weight sharing) and the centroids' optimizer state.
    public var shared: [SharedWeight] = []
    /// Called before each update with the step's (unscaled) gradients: pruning schedules score
    /// and re-mask here.
    public var beforeUpdate: ((Model, Int) -> Void)?

    private var master: [Float] = []
    private var l1Weights: [CompressibleWeight] = []

    public init(format: FloatFormat, scaler: LossScaler?) {
        self.format = format
        self.scaler = scaler
    }

    /// Steps skipped because a gradient overflowed.
    public var skippedSteps: Int { scaler?.skippedSteps ?? 0 }

    public func prepare(_ model: Model, training: Dataset) throws {
        let ctx = model.context
        if format != .fp32 { ctx.boundaryObserver = self }
        ctx.computeDType = format.dtype
        l1Weights = l1 > 0 ? NetworkSurgery.weights(of: model) : []
        master = model.store.values.array
        refresh(model)
    }

    public var gradientScale: Float { scaler?.scale ?? 1 }

    public func willForward(_ model: Model, input: Tensor, step: Int) {
        if format != .fp32 { format.roundInPlace(input.data, count: input.count) }
    }

    public func willStep(_ model: Model, step: Int) -> Bool {
        let grads = model.store.grads
        if format != .fp32 { format.roundInPlace(grads.data, count: grads.count) }
        let used = gradientScale      // what this step's loss gradients were multiplied by
        if var s = scaler {
            let take = s.update(overflow: FloatFormat.containsNonFinite(grads.data, count: grads.count))
            scaler = s
            if !take { return false }
        }
        if used != 1 {
            let inv = 1 / used, g = grads.data
            parallelRanges(grads.count) { r in for i in r { g[i] *= inv } }
        }
        if l1 > 0 {
            for w in l1Weights {
                let g = w.parameter.grad.data, m = master.withUnsafeBufferPointer { $0.baseAddress! } + w.parameter.offset
                let lambda = l1
                for i in 0..<w.count where m[i] != 0 { g[i] += m[i] > 0 ? lambda : -lambda }
            }
        }
        beforeUpdate?(model, step)
        for s in shared { s.updateCentroids() }
        // The optimizer updates the master weights.
        master.withUnsafeBufferPointer { model.store.values.data.update(from: $0.baseAddress!, count: $0.count) }
        return true
    }

    public func didStep(_ model: Model, step: Int) {
        let values = model.store.values
        master.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: values.data, count: values.count) }
        refresh(model)
    }

    /// Make the working weights from the master copy: mask the master, then quantize, share and
    /// round the working copy.
    public func refresh(_ model: Model) {
        let values = model.store.values.data
        master.withUnsafeMutableBufferPointer { m in
            for p in model.store.parameters {
                guard let mask = masks[ObjectIdentifier(p)] else { continue }
                let base = m.baseAddress! + p.offset
                for i in 0..<mask.count where !mask[i] { base[i] = 0 }
            }
            values.update(from: m.baseAddress!, count: m.count)
        }
        for (w, scheme) in fakeQuantized {
            fakeQuantize(w.parameter.value.data, shape: w.parameter.shape, channelAxis: w.channelAxis, scheme: scheme, range: .minMax)
        }
        for s in shared {
            s.codebook.centroids = s.centroids
            reconstruct(s.codebook, into: s.weight.parameter.value.data)
            master.withUnsafeMutableBufferPointer { m in
                (m.baseAddress! + s.weight.parameter.offset).update(from: s.weight.parameter.value.data, count: s.weight.count)
            }
        }
        if format != .fp32 { format.roundInPlace(values, count: model.store.count) }
    }

    public func forwardOutput(_ y: Tensor, of layer: Layer, training: Bool) {
        format.roundInPlace(y.data, count: y.count)
    }

    public func backwardGradient(_ dy: Tensor, of layer: Layer) {
        format.roundInPlace(dy.data, count: dy.count)
    }

    /// Stop rounding this model's activations (the hook's work is done).
    public func detach(from model: Model) {
        if model.context.boundaryObserver === self { model.context.boundaryObserver = nil }
    }
}

/// A weight tied to a k-means codebook whose centroids train with their own Adam.
public final class SharedWeight {
    public let weight: CompressibleWeight
    public var codebook: Codebook
    public let learningRate: Float
    /// The centroids as a one-parameter store, so the engine's optimizer steps them.
    private let store: ParameterStore
    private let optimizer = AdamW.adam()

    public init(weight: CompressibleWeight, codebook: Codebook, learningRate: Float) {
        self.weight = weight; self.codebook = codebook; self.learningRate = learningRate
        let p = Parameter(weight.parameter.name + ".centroids", shape: [codebook.centroids.count], decays: false)
        store = ParameterStore([p], context: ExecutionContext())
        codebook.centroids.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: $0.count) }
    }

    public var centroids: [Float] { Array(store.parameters[0].value.array) }

    /// One Adam step on the centroids from the summed gradients of their members (Han et al.
    /// 2016 fine-tune the centroids by these sums; Adam keeps the step size independent of a
    /// cluster's size).
    func updateCentroids() {
        let g = centroidGradients(weight.parameter.grad.data, count: weight.count, codebook: codebook)
        g.withUnsafeBufferPointer { store.grads.data.update(from: $0.baseAddress!, count: $0.count) }
        optimizer.step(store, learningRate: learningRate)
    }
}

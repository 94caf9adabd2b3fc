/// Batch normalisation over every dimension but the last (Ioffe & Szegedy 2015): per channel,
/// y = γ ⊙ (x − μ) / √(σ² + ε) + β.
///
/// The last dimension is the channel, so one layer serves NHWC images (B, H, W, C) and features
/// (B, C). Training uses the batch's mean and biased variance and folds them into running
/// statistics (unbiased variance, as PyTorch); evaluation uses the running statistics.
///
///     let bn = BatchNorm("bn1", channels: 32)
///     let y = bn(x, training: true)             // x: (128, 28, 28, 32)
///
/// - Parameters:
///   - channels: size of the last dimension.
///   - momentum: weight of the new batch in the running statistics (PyTorch's 0.1).
///   - epsilon: added to the variance (PyTorch's 1e-5).
public final class BatchNorm: Layer {
    public let name: String
    public let channels: Int
    public let momentum: Float
    public let epsilon: Float
    public let scale: Parameter           // γ (C)
    public let shift: Parameter           // β (C)
    /// Running mean and unbiased variance (C): non-trainable state owned by the layer, created at
    /// the first forward as 0 and 1.
    public private(set) var runningMean: Tensor?
    public private(set) var runningVariance: Tensor?
    public var needsInputGradient = true
    private var input: Tensor?
    private var usedBatchStatistics = false
    private var mean: Tensor?             // (C) the statistics the last forward normalised with
    private var inverseStd: Tensor?       // (C)
    private var coefficients: Tensor?     // (3, C) per-channel a, b, c of a pass y = a·x + b (+ c)
    private var out: Tensor?
    private var dx: Tensor?
    private var partialSums: [Double] = []  // (threads, 2·C + padding)

    public init(_ name: String = "batchnorm", channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(channels > 0, "\(name): channels must be positive, got \(channels)")
        precondition(momentum >= 0 && momentum <= 1, "\(name): momentum must be in [0, 1], got \(momentum)")
        self.name = name
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        scale = Parameter(name + ".scale", shape: [channels], decays: false)
        shift = Parameter(name + ".shift", shape: [channels], decays: false)
    }

    public var parameters: [Parameter] { [scale, shift] }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.last == channels else {
            throw ShapeError(name, "normalises \(channels) channels (the last dimension), got shape \(input)")
        }
        return input
    }

    /// γ = 1, β = 0.
    public func initialize(using rng: inout RandomSource) {
        scale.value.fill(1)
        shift.value.fill(0)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.last == channels, "\(name): normalises \(channels) channels, got shape \(x.shape)")
        let ctx = x.context
        let c = channels, rows = x.count / c, n = Double(x.count)
        precondition(!training || rows > 1, "\(name): batch statistics need more than one value per channel, got \(x.shape)")
        if runningMean == nil || runningMean?.context !== ctx {
            runningMean = Tensor(shape: [c], context: ctx)
            runningVariance = Tensor(shape: [c], context: ctx)
            runningVariance?.fill(1)
        }
        let o = ctx.buffer(out, x.shape); out = o
        let mu = ctx.buffer(mean, [c]); mean = mu
        let inv = ctx.buffer(inverseStd, [c]); inverseStd = inv
        let k = ctx.buffer(coefficients, [3, c]); coefficients = k
        input = x
        usedBatchStatistics = training
        if training {
            ctx.record(name + ".stats", .normalization, flops: 4 * n, read: n, written: Double(4 * c))
        }
        ctx.record(name, .normalization, flops: 2 * n, read: n + Double(2 * c), written: n)
        guard !ctx.isMeta, let runningMean, let runningVariance else { return o }
        let xs = x.data, m = mu.data, s = inv.data, rm = runningMean.data, rv = runningVariance.data
        if training {
            // Sums of x − x[0] (a shift that keeps Σx² − (Σx)²/M from cancelling), in Double.
            channelSums(rows: rows) { range, s1, s2 in
                for r in range {
                    let row = xs + r * c
                    for i in 0..<c {
                        let d = Double(row[i] - xs[i])
                        s1[i] += d
                        s2[i] += d * d
                    }
                }
            } result: { s1, s2 in
                let count = Double(rows)
                for i in 0..<c {
                    let shiftMean = s1[i] / count
                    let variance = max(s2[i] / count - shiftMean * shiftMean, 0)
                    m[i] = xs[i] + Float(shiftMean)
                    s[i] = 1 / (Float(variance) + epsilon).squareRoot()
                    rm[i] = (1 - momentum) * rm[i] + momentum * m[i]
                    rv[i] = (1 - momentum) * rv[i] + momentum * Float(variance * count / (count - 1))
                }
            }
        } else {
            for i in 0..<c {
                m[i] = rm[i]
                s[i] = 1 / (rv[i] + epsilon).squareRoot()
            }
        }
        // y = a·x + b with a = γ/σ, b = β − μ·a.
        let a = k.data, b = k.data + c, gamma = scale.value.data, beta = shift.value.data
        for i in 0..<c {
            a[i] = gamma[i] * s[i]
            b[i] = beta[i] - m[i] * a[i]
        }
        let ys = o.data
        parallelRanges(rows, minimumPerThread: max(1, 16_384 / c)) { range in
            for r in range {
                let row = xs + r * c, y = ys + r * c
                for i in 0..<c { y[i] = row[i] * a[i] + b[i] }
            }
        }
        return o
    }

    /// In training mode the gradient flows through the batch statistics too:
    /// ∂x = γ/σ · (∂y − mean(∂y) − x̂ · mean(∂y ⊙ x̂)), x̂ = (x − μ)/σ.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let mu = mean, let inv = inverseStd, let k = coefficients else {
            preconditionFailure("\(name): backward before forward")
        }
        let ctx = dy.context
        let c = channels, rows = x.count / c, n = Double(x.count)
        ctx.record(name + ".dparams", .normalization, flops: 4 * n, read: 2 * n, written: Double(2 * c))
        var gx: Tensor?
        if needsInputGradient {
            gx = ctx.buffer(dx, x.shape); dx = gx
            ctx.record(name + ".dX", .normalization, flops: 4 * n, read: 2 * n, written: n)
        }
        guard !ctx.isMeta else { return gx }
        let xs = x.data, gys = dy.data, m = mu.data, s = inv.data
        let gamma = scale.value.data, dGamma = scale.grad.data, dBeta = shift.grad.data
        let a = k.data, b = k.data + c, offset = k.data + 2 * c
        channelSums(rows: rows) { range, s1, s2 in
            for r in range {
                let row = xs + r * c, gy = gys + r * c
                for i in 0..<c {
                    s1[i] += Double(gy[i])
                    s2[i] += Double(gy[i] * (row[i] - m[i]))
                }
            }
        } result: { sumDy, sumDyX in
            let count = Float(rows)
            for i in 0..<c {
                dBeta[i] += Float(sumDy[i])
                dGamma[i] += Float(sumDyX[i]) * s[i]
                // ∂x = a·∂y + b·x + offset.
                a[i] = gamma[i] * s[i]
                b[i] = usedBatchStatistics ? -a[i] * s[i] * s[i] * Float(sumDyX[i]) / count : 0
                offset[i] = usedBatchStatistics ? -a[i] * Float(sumDy[i]) / count - b[i] * m[i] : 0
            }
        }
        guard let gx else { return nil }
        let gxs = gx.data
        parallelRanges(rows, minimumPerThread: max(1, 16_384 / c)) { range in
            for r in range {
                let row = xs + r * c, gy = gys + r * c, g = gxs + r * c
                for i in 0..<c { g[i] = a[i] * gy[i] + b[i] * row[i] + offset[i] }
            }
        }
        return gx
    }

    /// Two per-channel sums over rows: `body` adds its chunk of rows into its own zeroed partials,
    /// one chunk per thread, and `result` gets the partials summed in thread order (so the result
    /// does not depend on timing).
    private func channelSums(rows: Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void,
                             result: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void) {
        let c = channels, threads = EngineThreads.count, stride = separatedStride(2 * c, of: Double.self)
        let chunk = (rows + threads - 1) / threads
        if partialSums.count < threads * stride { partialSums = Array(repeating: 0, count: threads * stride) }
        partialSums.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            parallelRanges(threads, minimumPerThread: max(1, 16_384 / max(chunk * c, 1))) { ts in
                for t in ts {
                    let s1 = p + t * stride, s2 = s1 + c
                    s1.update(repeating: 0, count: 2 * c)
                    body(min(rows, t * chunk)..<min(rows, (t + 1) * chunk), s1, s2)
                }
            }
            for t in 1..<threads {
                let s1 = p + t * stride
                for i in 0..<(2 * c) { p[i] += s1[i] }
            }
            result(p, p + c)
        }
    }
}

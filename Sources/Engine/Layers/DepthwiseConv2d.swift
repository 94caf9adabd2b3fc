/// A depthwise 2-D convolution over NHWC images: one k×k filter per channel (groups = channels).
///
/// Direct loops: with channels last, the innermost loop runs over contiguous channels of the
/// input pixel, the filter tap and the output pixel at once.
///
///     let dw = DepthwiseConv2d("dw", channels: 32, kernel: 3, padding: 1)
///     try dw.outputShape(for: [14, 14, 32])       // [14, 14, 32]
///
/// - Parameters:
///   - name: prefix of the parameter names and of the trace events.
///   - channels: input and output channels.
///   - kernel: side of the square window; `stride` and `padding` as in `Conv2d`.
///   - bias: whether a per-channel bias is added.
public final class DepthwiseConv2d: Layer {
    public let name: String
    public let channels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter          // (k, k, channels)
    public let bias: Parameter?           // (channels)
    public var needsInputGradient = true
    private var input: Tensor?
    private var geometry: WindowGeometry?
    private var out: Tensor?              // (B, Ho, Wo, C)
    private var dx: Tensor?               // (B, H, W, C)
    private var partials: Tensor?         // (threads, k·k·C + C + padding): per-thread ∂W and ∂b

    public init(_ name: String = "dwconv", channels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) {
        precondition(channels > 0, "\(name): channels must be positive, got \(channels)")
        precondition(kernel > 0 && stride > 0 && padding >= 0,
                     "\(name): bad window kernel \(kernel), stride \(stride), padding \(padding)")
        self.name = name
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        weight = Parameter(name + ".weight", shape: [kernel, kernel, channels], decays: true)
        self.bias = bias ? Parameter(name + ".bias", shape: [channels], decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let (h, w) = try windowOutputSize(name, input: input, channels: channels,
                                          kernel: kernel, stride: stride, padding: padding)
        return [h, w, channels]
    }

    /// PyTorch's default for groups = channels: uniform in ±1/√(k²).
    public func initialize(using rng: inout RandomSource) {
        let bound = 1 / Float(kernel * kernel).squareRoot()
        fillUniform(weight.value, bound: bound, &rng)
        if let b = bias { fillUniform(b.value, bound: bound, &rng) }
    }

    /// Multiply-adds: one per output element and filter tap (padding taps included, as a GEMM would).
    private func taps(_ g: WindowGeometry) -> Double { Double(g.outputPixels) * Double(kernel * kernel * channels) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let g = WindowGeometry(name, x.shape, channels: channels, kernel: kernel, stride: stride, padding: padding)
        let o = ctx.buffer(out, [g.batch, g.outHeight, g.outWidth, channels]); out = o
        input = x
        geometry = g
        ctx.record(name, .conv, flops: 2 * taps(g) + (bias == nil ? 0 : Double(o.count)),
                   read: Double(x.count + weight.count + (bias?.count ?? 0)), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        let xs = x.data, w = weight.value.data, ys = o.data, bs = bias?.value.data
        let c = channels, k = kernel, s = stride, pad = padding
        // Parallel over output image rows (b, oy): each writes its own pixels.
        parallelRanges(g.batch * g.outHeight, minimumPerThread: max(1, 16_384 / max(g.outWidth * k * k * c, 1))) { rows in
            for row in rows {
                let b = row / g.outHeight, oy = row % g.outHeight
                for ox in 0..<g.outWidth {
                    let y = ys + (row * g.outWidth + ox) * c
                    if let bs { for i in 0..<c { y[i] = bs[i] } } else { y.update(repeating: 0, count: c) }
                    let (lo, hi) = g.validColumns(ox)
                    for ky in 0..<k {
                        let iy = oy * s - pad + ky
                        guard iy >= 0, iy < g.height else { continue }
                        for kx in lo..<hi {
                            let xp = xs + ((b * g.height + iy) * g.width + ox * s - pad + kx) * c
                            let wp = w + (ky * k + kx) * c
                            for i in 0..<c { y[i] += xp[i] * wp[i] }
                        }
                    }
                }
            }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let g = geometry else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        precondition(dy.count == g.outputPixels * channels, "\(name): gradient of shape \(dy.shape) for output \(out?.shape ?? [])")
        let threads = EngineThreads.count
        let filterSize = weight.count, partialSize = separatedStride(filterSize + channels, of: Float.self)
        let p = ctx.buffer(partials, [threads, partialSize]); partials = p
        ctx.record(name + ".dW", .conv, flops: 2 * taps(g) + (bias == nil ? 0 : Double(dy.count)),
                   read: Double(x.count + dy.count), written: Double(weight.count + (bias?.count ?? 0)))
        var gx: Tensor?
        if needsInputGradient {
            gx = ctx.buffer(dx, x.shape); dx = gx
            ctx.record(name + ".dX", .conv, flops: 2 * taps(g), read: Double(dy.count + weight.count), written: Double(x.count))
        }
        guard !ctx.isMeta else { return gx }
        let xs = x.data, w = weight.value.data, gys = dy.data, gxs = gx?.data, parts = p.data
        let c = channels, k = kernel, s = stride, pad = padding
        // Parallel over samples in one chunk per thread: ∂X pixels are private to their sample and
        // ∂W, ∂b go to the thread's own partial row, summed below in a fixed order.
        let chunk = (g.batch + threads - 1) / threads
        parallelRanges(threads, minimumPerThread: max(1, 16_384 / max(chunk * g.outHeight * g.outWidth * k * k * c, 1))) { ts in
            for t in ts {
                let dw = parts + t * partialSize, db = dw + filterSize
                dw.update(repeating: 0, count: partialSize)
                for b in min(g.batch, t * chunk)..<min(g.batch, (t + 1) * chunk) {
                    if let gxs { (gxs + b * g.imageSize).update(repeating: 0, count: g.imageSize) }
                    for oy in 0..<g.outHeight {
                        for ox in 0..<g.outWidth {
                            let gy = gys + ((b * g.outHeight + oy) * g.outWidth + ox) * c
                            for i in 0..<c { db[i] += gy[i] }
                            let (lo, hi) = g.validColumns(ox)
                            for ky in 0..<k {
                                let iy = oy * s - pad + ky
                                guard iy >= 0, iy < g.height else { continue }
                                for kx in lo..<hi {
                                    let pixel = ((b * g.height + iy) * g.width + ox * s - pad + kx) * c
                                    let xp = xs + pixel, wp = w + (ky * k + kx) * c, dwp = dw + (ky * k + kx) * c
                                    for i in 0..<c { dwp[i] += gy[i] * xp[i] }
                                    if let gxs {
                                        let gxp = gxs + pixel
                                        for i in 0..<c { gxp[i] += gy[i] * wp[i] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let gw = weight.grad.data, gb = bias?.grad.data
        for t in 0..<threads {
            let dw = parts + t * partialSize
            for i in 0..<filterSize { gw[i] += dw[i] }
            if let gb { for i in 0..<c { gb[i] += dw[filterSize + i] } }
        }
        return gx
    }
}

/// A depthwise convolution followed by a pointwise 1×1 convolution (Howard et al. 2017, MobileNets).
///
///     let block = DepthwiseSeparableConv2d("sep", inChannels: 32, outChannels: 64, kernel: 3, padding: 1)
///     try block.outputShape(for: [14, 14, 32])    // [14, 14, 64]
public final class DepthwiseSeparableConv2d: Layer {
    public let name: String
    public let depthwise: DepthwiseConv2d
    public let pointwise: Conv2d

    public init(_ name: String = "sepconv", inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true) {
        self.name = name
        depthwise = DepthwiseConv2d(name + ".depthwise", channels: inChannels, kernel: kernel, stride: stride,
                                    padding: padding, bias: bias)
        pointwise = Conv2d(name + ".pointwise", inChannels, outChannels, kernel: 1, bias: bias)
    }

    public var parameters: [Parameter] { depthwise.parameters + pointwise.parameters }

    public var needsInputGradient: Bool {
        get { depthwise.needsInputGradient }
        set { depthwise.needsInputGradient = newValue }
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try pointwise.outputShape(for: depthwise.outputShape(for: input))
    }

    public func initialize(using rng: inout RandomSource) {
        depthwise.initialize(using: &rng)
        pointwise.initialize(using: &rng)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        pointwise.forward(depthwise.forward(x, training: training), training: training)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let g = pointwise.backward(dy) else { return nil }
        return depthwise.backward(g)
    }
}

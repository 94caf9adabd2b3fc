/// Max pooling over square windows of NHWC images, without padding.
///
/// The arg-max of every output element is kept (as an index into its sample) for the backward,
/// which routes each gradient to the one input that won.
///
///     let pool = MaxPool2d("pool1", kernel: 2)   // stride defaults to the kernel
///     try pool.outputShape(for: [28, 28, 32])     // [14, 14, 32]
public final class MaxPool2d: Layer {
    public let name: String
    public let kernel: Int
    public let stride: Int
    public var needsInputGradient = true
    private var geometry: WindowGeometry?
    private var inputShape: [Int] = []
    private var out: Tensor?              // (B, Ho, Wo, C)
    private var argmax: Tensor?           // (B, Ho, Wo, C) Int32 offsets into the sample
    private var dx: Tensor?               // (B, H, W, C)

    /// - Parameters:
    ///   - kernel: side of the square window.
    ///   - stride: step of the window; nil means `kernel` (PyTorch's default).
    public init(_ name: String = "maxpool", kernel: Int, stride: Int? = nil) {
        precondition(kernel > 0 && (stride ?? kernel) > 0, "\(name): bad window kernel \(kernel), stride \(stride ?? kernel)")
        self.name = name
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let (h, w) = try windowOutputSize(name, input: input, channels: nil, kernel: kernel, stride: stride, padding: 0)
        return [h, w, input[2]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor { pool(x, applyingReLU: false) }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        return route(dy, maskingByOutput: false)
    }

    /// The window maxima of `x` and their arg-max; with `applyingReLU` each maximum m is written
    /// as max(m, 0) (Swift's `max`: −0 and 0 give +0), which is the pooling of ReLU(x).
    func pool(_ x: Tensor, applyingReLU: Bool) -> Tensor {
        let ctx = x.context
        let g = WindowGeometry(name, x.shape, channels: nil, kernel: kernel, stride: stride)
        let shape = [g.batch, g.outHeight, g.outWidth, g.channels]
        let o = ctx.buffer(out, shape); out = o
        let a = ctx.buffer(argmax, shape, dtype: .int32); argmax = a
        geometry = g
        inputShape = x.shape
        ctx.record(name, .pooling, flops: Double(o.count * kernel * kernel), read: Double(x.count), written: Double(2 * o.count))
        guard !ctx.isMeta else { return o }
        let xs = x.data, ys = o.data, c = g.channels, k = kernel, s = stride
        let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        a.data.withMemoryRebound(to: Int32.self, capacity: a.count) { args in
            parallelRanges(g.batch * g.outHeight, minimumPerThread: max(1, 16_384 / max(g.outWidth * k * k * c, 1))) { rows in
                for row in rows {
                    let sample = xs + row / g.outHeight * g.imageSize, oy = row % g.outHeight
                    for ox in 0..<g.outWidth {
                        let y = ys + (row * g.outWidth + ox) * c, arg = args + (row * g.outWidth + ox) * c
                        let first = (oy * s * g.width + ox * s) * c
                        // Eight channels at a time: the maximum over the window in scan order, a
                        // later position winning only when strictly greater (so the first holding
                        // the maximum is kept), as blends rather than branches.
                        var i = 0
                        while i + 8 <= c {
                            var best = load8(sample + first + i)
                            var at = SIMD8(repeating: Int32(truncatingIfNeeded: first + i)) &+ lanes
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let offset = first + (ky * g.width + kx) * c + i
                                    let v = load8(sample + offset)
                                    let greater = v .> best
                                    best.replace(with: v, where: greater)
                                    at.replace(with: SIMD8(repeating: Int32(truncatingIfNeeded: offset)) &+ lanes, where: greater)
                                }
                            }
                            if applyingReLU { best.replace(with: SIMD8<Float>.zero, where: best .<= SIMD8<Float>.zero) }
                            store8(best, y + i)
                            UnsafeMutableRawPointer(arg + i).storeBytes(of: at, as: SIMD8<Int32>.self)
                            i += 8
                        }
                        for i in i..<c {
                            var best = sample[first + i], at = first + i
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let offset = first + (ky * g.width + kx) * c + i
                                    if sample[offset] > best { best = sample[offset]; at = offset }
                                }
                            }
                            y[i] = applyingReLU ? max(best, 0) : best
                            arg[i] = Int32(truncatingIfNeeded: at)
                        }
                    }
                }
            }
        }
        return o
    }

    /// ∂L/∂x: each gradient goes to its window's arg-max, added (0 + g, as an accumulation from
    /// zero would give) where windows overlap. With `maskingByOutput` only where the pooled output
    /// is positive: the gradient of ReLU followed by this pool. When the windows tile the input
    /// without overlap (stride = kernel) every covered input is written once, the winner with its
    /// gradient and the rest with zero, so no separate zero-fill pass runs; inputs under no window
    /// are zeroed.
    func route(_ dy: Tensor, maskingByOutput mask: Bool) -> Tensor {
        guard let g = geometry, let a = argmax, let y = out else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let gx = ctx.buffer(dx, inputShape); dx = gx
        ctx.record(name + ".grad", .pooling, flops: Double(dy.count), read: Double(2 * dy.count), written: Double(gx.count))
        guard !ctx.isMeta else { return gx }
        let gys = dy.data, gxs = gx.data, ys = y.data, perSample = g.outHeight * g.outWidth * g.channels
        let tiles = stride == kernel
        a.data.withMemoryRebound(to: Int32.self, capacity: a.count) { args in
            // Parallel over samples: overlapping windows (stride < kernel) only collide inside one.
            parallelRanges(g.batch, minimumPerThread: max(1, 16_384 / max(perSample, 1))) { samples in
                for b in samples {
                    let image = gxs + b * g.imageSize, gy = gys + b * perSample, arg = args + b * perSample
                    let pooled = ys + b * perSample
                    if tiles {
                        scatterTiled(gy, arg, pooled: mask ? pooled : nil, g, into: image)
                    } else {
                        image.update(repeating: 0, count: g.imageSize)
                        for j in 0..<perSample where !mask || pooled[j] > 0 { image[Int(arg[j])] += gy[j] }
                    }
                }
            }
        }
        return gx
    }

    /// One sample's gradient for windows that tile the image (stride = kernel): each input under a
    /// window gets 0 + g where it is the arg-max (and, when `pooled` is given, the pooled value is
    /// positive), else 0; rows and columns under no window get 0.
    private func scatterTiled(_ gy: UnsafePointer<Float>, _ arg: UnsafePointer<Int32>, pooled: UnsafePointer<Float>?,
                              _ g: WindowGeometry, into image: UnsafeMutablePointer<Float>) {
        let c = g.channels, k = kernel, lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        let coveredWidth = g.outWidth * k * c
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                let j = (oy * g.outWidth + ox) * c, first = (oy * k * g.width + ox * k) * c
                var i = 0
                while i + 8 <= c {
                    var v = SIMD8<Float>.zero + load8(gy + j + i)
                    if let pooled { v.replace(with: SIMD8<Float>.zero, where: load8(pooled + j + i) .<= SIMD8<Float>.zero) }
                    let at = UnsafeRawPointer(arg + j + i).loadUnaligned(as: SIMD8<Int32>.self)
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let offset = first + (ky * g.width + kx) * c + i
                            var w = SIMD8<Float>.zero
                            w.replace(with: v, where: at .== SIMD8(repeating: Int32(truncatingIfNeeded: offset)) &+ lanes)
                            store8(w, image + offset)
                        }
                    }
                    i += 8
                }
                for i in i..<c {
                    let keep = pooled.map { $0[j + i] > 0 } ?? true
                    let v: Float = keep ? 0 + gy[j + i] : 0
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let offset = first + (ky * g.width + kx) * c + i
                            image[offset] = Int(arg[j + i]) == offset ? v : 0
                        }
                    }
                }
            }
            // The columns right of the last window.
            for ky in 0..<k {
                let row = image + (oy * k + ky) * g.rowStride
                (row + coveredWidth).update(repeating: 0, count: g.rowStride - coveredWidth)
            }
        }
        // The rows below the last window.
        let coveredRows = g.outHeight * k
        (image + coveredRows * g.rowStride).update(repeating: 0, count: (g.height - coveredRows) * g.rowStride)
    }
}

/// Average pooling over square windows of NHWC images, without padding.
///
///     let pool = AvgPool2d("pool1", kernel: 2)
///     try pool.outputShape(for: [8, 8, 16])       // [4, 4, 16]
public final class AvgPool2d: Layer {
    public let name: String
    public let kernel: Int
    public let stride: Int
    public var needsInputGradient = true
    private var geometry: WindowGeometry?
    private var inputShape: [Int] = []
    private var out: Tensor?              // (B, Ho, Wo, C)
    private var dx: Tensor?               // (B, H, W, C)

    /// - Parameters:
    ///   - kernel: side of the square window.
    ///   - stride: step of the window; nil means `kernel` (PyTorch's default).
    public init(_ name: String = "avgpool", kernel: Int, stride: Int? = nil) {
        precondition(kernel > 0 && (stride ?? kernel) > 0, "\(name): bad window kernel \(kernel), stride \(stride ?? kernel)")
        self.name = name
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let (h, w) = try windowOutputSize(name, input: input, channels: nil, kernel: kernel, stride: stride, padding: 0)
        return [h, w, input[2]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let g = WindowGeometry(name, x.shape, channels: nil, kernel: kernel, stride: stride)
        let o = ctx.buffer(out, [g.batch, g.outHeight, g.outWidth, g.channels]); out = o
        geometry = g
        inputShape = x.shape
        ctx.record(name, .pooling, flops: Double(o.count * kernel * kernel), read: Double(x.count), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        let xs = x.data, ys = o.data, c = g.channels, k = kernel, s = stride
        let scale = 1 / Float(k * k)
        parallelRanges(g.batch * g.outHeight, minimumPerThread: max(1, 16_384 / max(g.outWidth * k * k * c, 1))) { rows in
            for row in rows {
                let sample = xs + row / g.outHeight * g.imageSize, oy = row % g.outHeight
                for ox in 0..<g.outWidth {
                    let y = ys + (row * g.outWidth + ox) * c
                    y.update(repeating: 0, count: c)
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let p = sample + ((oy * s + ky) * g.width + ox * s + kx) * c
                            for i in 0..<c { y[i] += p[i] }
                        }
                    }
                    for i in 0..<c { y[i] *= scale }
                }
            }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let g = geometry else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let gx = ctx.buffer(dx, inputShape); dx = gx
        ctx.record(name + ".grad", .pooling, flops: Double(dy.count * (kernel * kernel + 1)), read: Double(dy.count),
                   written: Double(gx.count))
        guard !ctx.isMeta else { return gx }
        let gys = dy.data, gxs = gx.data, c = g.channels, k = kernel, s = stride
        let scale = 1 / Float(k * k), perSample = g.outHeight * g.outWidth * c
        parallelRanges(g.batch, minimumPerThread: max(1, 16_384 / max(perSample * k * k, 1))) { samples in
            for b in samples {
                let image = gxs + b * g.imageSize
                image.update(repeating: 0, count: g.imageSize)
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let gy = gys + ((b * g.outHeight + oy) * g.outWidth + ox) * c
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let p = image + ((oy * s + ky) * g.width + ox * s + kx) * c
                                for i in 0..<c { p[i] += gy[i] * scale }
                            }
                        }
                    }
                }
            }
        }
        return gx
    }
}

/// The mean of each channel over all pixels: (B, H, W, C) → (B, C).
///
///     let gap = GlobalAvgPool("gap")
///     try gap.outputShape(for: [7, 7, 64])        // [64]
public final class GlobalAvgPool: Layer {
    public let name: String
    public var needsInputGradient = true
    private var inputShape: [Int] = []
    private var out: Tensor?              // (B, C)
    private var dx: Tensor?               // (B, H, W, C)

    public init(_ name: String = "global_avgpool") { self.name = name }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3, input.allSatisfy({ $0 > 0 }) else {
            throw ShapeError(name, "expects a non-empty [height, width, channels] input, got \(input)")
        }
        return [input[2]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4, "\(name): expects (batch, height, width, channels), got \(x.shape)")
        let ctx = x.context
        let (batch, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let o = ctx.buffer(out, [batch, c]); out = o
        inputShape = x.shape
        ctx.record(name, .pooling, flops: Double(x.count + o.count), read: Double(x.count), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        let xs = x.data, ys = o.data, scale = 1 / Float(pixels)
        parallelRanges(batch, minimumPerThread: max(1, 16_384 / max(pixels * c, 1))) { samples in
            for b in samples {
                let y = ys + b * c, sample = xs + b * pixels * c
                y.update(repeating: 0, count: c)
                for p in 0..<pixels {
                    let px = sample + p * c
                    for i in 0..<c { y[i] += px[i] }
                }
                for i in 0..<c { y[i] *= scale }
            }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard inputShape.count == 4 else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let gx = ctx.buffer(dx, inputShape); dx = gx
        ctx.record(name + ".grad", .pooling, flops: Double(gx.count), read: Double(dy.count), written: Double(gx.count))
        guard !ctx.isMeta else { return gx }
        let (batch, pixels, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        let gys = dy.data, gxs = gx.data, scale = 1 / Float(pixels)
        parallelRanges(batch, minimumPerThread: max(1, 16_384 / max(pixels * c, 1))) { samples in
            for b in samples {
                let gy = gys + b * c, sample = gxs + b * pixels * c
                for p in 0..<pixels {
                    let px = sample + p * c
                    for i in 0..<c { px[i] = gy[i] * scale }
                }
            }
        }
        return gx
    }
}

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

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
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
                            y[i] = best
                            arg[i] = Int32(truncatingIfNeeded: at)
                        }
                    }
                }
            }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let g = geometry, let a = argmax else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let gx = ctx.buffer(dx, inputShape); dx = gx
        ctx.record(name + ".grad", .pooling, flops: Double(dy.count), read: Double(2 * dy.count), written: Double(gx.count))
        guard !ctx.isMeta else { return gx }
        let gys = dy.data, gxs = gx.data, perSample = g.outHeight * g.outWidth * g.channels
        a.data.withMemoryRebound(to: Int32.self, capacity: a.count) { args in
            // Parallel over samples: overlapping windows (stride < kernel) only collide inside one.
            parallelRanges(g.batch, minimumPerThread: max(1, 16_384 / max(perSample, 1))) { samples in
                for b in samples {
                    let image = gxs + b * g.imageSize, gy = gys + b * perSample, arg = args + b * perSample
                    image.update(repeating: 0, count: g.imageSize)
                    for j in 0..<perSample { image[Int(arg[j])] += gy[j] }
                }
            }
        }
        return gx
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

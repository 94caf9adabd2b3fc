/// A 2-D convolution over NHWC images: square kernel, zero padding, optional bias.
///
/// The weight is stored (kh, kw, cin, cout), which read as a (k·k·cin, cout) matrix makes the
/// convolution one GEMM against the batched im2col matrix (B·Ho·Wo, k·k·cin). A 1×1, stride-1,
/// unpadded convolution skips im2col: its input already is that matrix.
///
///     let conv = Conv2d("conv1", 1, 32, kernel: 3, padding: 1)
///     try conv.outputShape(for: [28, 28, 1])      // [28, 28, 32]
///
/// - Parameters:
///   - name: prefix of the parameter names and of the trace events.
///   - inChannels: channels of the input (its last dimension).
///   - outChannels: filters, the channels of the output.
///   - kernel: side of the square window.
///   - stride: step of the window in both directions.
///   - padding: zeros added on every side.
///   - bias: whether a per-filter bias is added.
public final class Conv2d: Layer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter          // (k, k, cin, cout)
    public let bias: Parameter?           // (cout)
    public var needsInputGradient = true
    private var input: Tensor?
    private var geometry: WindowGeometry?
    private var columns: Tensor?          // (B·Ho·Wo, k·k·cin); reused for ∂L/∂columns in backward
    private var out: Tensor?              // (B, Ho, Wo, cout)
    private var dx: Tensor?               // (B, H, W, cin)
    private var biasPartials: Tensor?     // (threads, cout + padding)

    public init(_ name: String = "conv", _ inChannels: Int, _ outChannels: Int, kernel: Int,
                stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        precondition(inChannels > 0 && outChannels > 0, "\(name): channels must be positive, got \(inChannels) → \(outChannels)")
        precondition(kernel > 0 && stride > 0 && padding >= 0,
                     "\(name): bad window kernel \(kernel), stride \(stride), padding \(padding)")
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        weight = Parameter(name + ".weight", shape: [kernel, kernel, inChannels, outChannels], decays: true)
        self.bias = bias ? Parameter(name + ".bias", shape: [outChannels], decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// Whether the input is used as the column matrix directly.
    var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let (h, w) = try windowOutputSize(name, input: input, channels: inChannels,
                                          kernel: kernel, stride: stride, padding: padding)
        return [h, w, outChannels]
    }

    /// PyTorch's default: weight and bias uniform in ±1/√(k²·cin).
    public func initialize(using rng: inout RandomSource) {
        let bound = 1 / Float(kernel * kernel * inChannels).squareRoot()
        fillUniform(weight.value, bound: bound, &rng)
        if let b = bias { fillUniform(b.value, bound: bound, &rng) }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let g = WindowGeometry(name, x.shape, channels: inChannels, kernel: kernel, stride: stride, padding: padding)
        let rows = g.outputPixels, depth = kernel * kernel * inChannels
        let o = ctx.buffer(out, [g.batch, g.outHeight, g.outWidth, outChannels]); out = o
        input = x
        geometry = g
        var a = x
        if !isPointwise {
            a = ctx.buffer(columns, [rows, depth]); columns = a
            ctx.record(name + ".im2col", .copy, flops: 0, read: Double(x.count), written: Double(a.count))
        }
        let mnk = Double(rows) * Double(depth) * Double(outChannels)
        ctx.record(name, .conv, flops: 2 * mnk + (bias == nil ? 0 : Double(o.count)),
                   read: Double(a.count + weight.count + (bias?.count ?? 0)), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        if !isPointwise { im2col(x.data, g, into: a.data) }
        // The GEMM accumulates (beta 1) onto the bias, or onto zeros we write in parallel: OpenBLAS's
        // own beta-0 pass over C is a slower serial sweep.
        if let b = bias {
            fillRows(o.data, with: b.value.data, rows: rows, columns: outChannels)
        } else {
            fillZeros(o.data, count: o.count)
        }
        // Y (rows, cout) = columns (rows, k·k·cin) · W (k·k·cin, cout)
        sgemm(m: rows, n: outChannels, k: depth, a.data, lda: depth, weight.value.data, ldb: outChannels,
              beta: 1, o.data, ldc: outChannels)
        return o
    }

    /// Accumulates ∂L/∂W and ∂L/∂b; ∂L/∂X overwrites the column buffer, so one backward per forward.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let g = geometry else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let rows = g.outputPixels, depth = kernel * kernel * inChannels
        precondition(dy.count == rows * outChannels, "\(name): gradient of shape \(dy.shape) for output \(out?.shape ?? [])")
        let mnk = Double(rows) * Double(depth) * Double(outChannels)
        ctx.record(name + ".dW", .conv, flops: 2 * mnk + (bias == nil ? 0 : Double(dy.count)),
                   read: Double(rows * depth + dy.count), written: Double(weight.count + (bias?.count ?? 0)))
        var partials: Tensor?
        if bias != nil {
            partials = ctx.buffer(biasPartials, [EngineThreads.count, separatedStride(outChannels, of: Float.self)])
            biasPartials = partials
        }
        var gx: Tensor?
        if needsInputGradient {
            gx = ctx.buffer(dx, x.shape); dx = gx
            ctx.record(name + ".dX", .conv, flops: 2 * mnk, read: Double(dy.count + weight.count), written: Double(rows * depth))
            if !isPointwise {
                ctx.record(name + ".col2im", .copy, flops: Double(rows * depth), read: Double(rows * depth), written: Double(x.count))
            }
        }
        guard !ctx.isMeta else { return gx }
        let a = isPointwise ? x.data : columns!.data
        // dW (k·k·cin, cout) += columnsᵀ (k·k·cin, rows) · dY (rows, cout)
        sgemm(transA: true, m: depth, n: outChannels, k: rows, a, lda: depth, dy.data, ldb: outChannels,
              beta: 1, weight.grad.data, ldc: outChannels)
        if let b = bias, let partials {
            accumulateColumnSumsInParallel(dy.data, rows: rows, columns: outChannels, into: b.grad.data, partials: partials.data)
        }
        if let gx {
            // ∂columns (rows, k·k·cin) = dY (rows, cout) · Wᵀ (cout, k·k·cin), then folded back.
            let dcol = isPointwise ? gx.data : columns!.data
            fillZeros(dcol, count: rows * depth)
            sgemm(transB: true, m: rows, n: depth, k: outChannels, dy.data, lda: outChannels,
                  weight.value.data, ldb: outChannels, beta: 1, dcol, ldc: depth)
            if !isPointwise { col2im(dcol, g, into: gx.data) }
        }
        return gx
    }
}

/// The arithmetic of a square window sliding over a batch of NHWC images (convolution, pooling).
struct WindowGeometry {
    let batch, height, width, channels: Int
    let kernel, stride, padding: Int
    let outHeight, outWidth: Int

    /// The geometry of `shape` (B, H, W, C), with C checked against `channels` unless nil; a
    /// precondition failure naming `layer` when it does not fit (models validate shapes with
    /// `outputShape(for:)` when they are built).
    init(_ layer: String, _ shape: [Int], channels: Int?, kernel: Int, stride: Int, padding: Int = 0) {
        precondition(shape.count == 4, "\(layer): expects (batch, height, width, channels), got \(shape)")
        let size: (Int, Int)
        do {
            size = try windowOutputSize(layer, input: Array(shape.dropFirst()), channels: channels,
                                        kernel: kernel, stride: stride, padding: padding)
        } catch {
            preconditionFailure("\(error)")
        }
        batch = shape[0]; height = shape[1]; width = shape[2]; self.channels = shape[3]
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outHeight = size.0; outWidth = size.1
    }

    /// Output pixels over the batch: the rows of the im2col matrix.
    var outputPixels: Int { batch * outHeight * outWidth }
    /// Floats in one image row and in one image.
    var rowStride: Int { width * channels }
    var imageSize: Int { height * width * channels }

    /// Window columns kx in lo..<hi (possibly empty) that fall inside the image at output column `ox`.
    @inline(__always)
    func validColumns(_ ox: Int) -> (lo: Int, hi: Int) {
        let ix0 = ox * stride - padding
        let lo = min(kernel, max(0, -ix0))
        return (lo, max(lo, min(kernel, width - ix0)))
    }
}

/// Output (height, width) of a square window over a per-sample [H, W, C] input, or a `ShapeError`
/// naming `layer` when the channels differ or the window does not fit the padded input.
func windowOutputSize(_ layer: String, input: [Int], channels: Int?, kernel: Int, stride: Int,
                      padding: Int) throws -> (Int, Int) {
    guard input.count == 3 else {
        throw ShapeError(layer, "expects a [height, width, channels] input, got \(input)")
    }
    if let channels, input[2] != channels {
        throw ShapeError(layer, "expects \(channels) input channels, got \(input[2]) in \(input)")
    }
    let (h, w) = (input[0] + 2 * padding, input[1] + 2 * padding)
    guard input[0] > 0, input[1] > 0, h >= kernel, w >= kernel else {
        throw ShapeError(layer, "a \(kernel)×\(kernel) window does not fit input \(input) with padding \(padding)")
    }
    return ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
}

/// Unfold NHWC `x` into the column matrix (B·Ho·Wo, k·k·C): row (b, oy, ox) holds the window at
/// that output pixel in (ky, kx, c) order, zeros where it overhangs the image. For each ky the
/// window is one contiguous run of k·C floats of the input row, clipped at the borders.
func im2col(_ x: UnsafePointer<Float>, _ g: WindowGeometry, into col: UnsafeMutablePointer<Float>) {
    let k = g.kernel, run = k * g.channels, depth = k * run
    parallelRanges(g.outputPixels, minimumPerThread: max(1, 16_384 / depth)) { range in
        var ox = range.lowerBound % g.outWidth
        var oy = range.lowerBound / g.outWidth % g.outHeight
        var b = range.lowerBound / (g.outWidth * g.outHeight)
        for r in range {
            let dst = col + r * depth
            let (lo, hi) = g.validColumns(ox)
            let first = lo * g.channels, last = hi * g.channels
            for ky in 0..<k {
                let d = dst + ky * run
                let iy = oy * g.stride - g.padding + ky
                guard iy >= 0, iy < g.height else {
                    for i in 0..<run { d[i] = 0 }
                    continue
                }
                let base = b * g.imageSize + iy * g.rowStride + (ox * g.stride - g.padding) * g.channels
                for i in 0..<first { d[i] = 0 }
                for i in first..<last { d[i] = x[base + i] }
                for i in last..<run { d[i] = 0 }
            }
            ox += 1
            if ox == g.outWidth {
                ox = 0; oy += 1
                if oy == g.outHeight { oy = 0; b += 1 }
            }
        }
    }
}

/// Fold a column-matrix gradient back onto NHWC `dx` (overwritten), summing where windows
/// overlap. Parallel over samples, so no two threads write the same pixel.
func col2im(_ col: UnsafePointer<Float>, _ g: WindowGeometry, into dx: UnsafeMutablePointer<Float>) {
    let k = g.kernel, run = k * g.channels, depth = k * run
    let perSample = g.outHeight * g.outWidth
    parallelRanges(g.batch, minimumPerThread: max(1, 16_384 / max(perSample * depth, 1))) { samples in
        for b in samples {
            let image = dx + b * g.imageSize
            image.update(repeating: 0, count: g.imageSize)
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let src = col + ((b * g.outHeight + oy) * g.outWidth + ox) * depth
                    let (lo, hi) = g.validColumns(ox)
                    let first = lo * g.channels, last = hi * g.channels
                    for ky in 0..<k {
                        let iy = oy * g.stride - g.padding + ky
                        guard iy >= 0, iy < g.height else { continue }
                        let base = iy * g.rowStride + (ox * g.stride - g.padding) * g.channels
                        let s = src + ky * run
                        for i in first..<last { image[base + i] += s[i] }
                    }
                }
            }
        }
    }
}

/// p[0..<count] = 0, in parallel.
func fillZeros(_ p: UnsafeMutablePointer<Float>, count: Int) {
    parallelRanges(count, minimumPerThread: 1 << 16) { r in (p + r.lowerBound).update(repeating: 0, count: r.count) }
}

/// y[r, c] = v[c] for every row.
func fillRows(_ y: UnsafeMutablePointer<Float>, with v: UnsafePointer<Float>, rows: Int, columns: Int) {
    parallelRanges(rows, minimumPerThread: max(1, 16_384 / max(columns, 1))) { r in
        for i in r {
            let row = y + i * columns
            for c in 0..<columns { row[c] = v[c] }
        }
    }
}

/// s[c] += Σ_r x[r, c], in parallel over rows with one partial row per thread in `partials`
/// (threads, separatedStride(columns)), summed in a fixed order so the result does not depend on
/// timing.
func accumulateColumnSumsInParallel(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into s: UnsafeMutablePointer<Float>,
                                    partials: UnsafeMutablePointer<Float>) {
    let threads = EngineThreads.count, stride = separatedStride(columns, of: Float.self)
    let chunk = (rows + threads - 1) / threads
    parallelRanges(threads, minimumPerThread: max(1, 16_384 / max(chunk * columns, 1))) { ts in
        for t in ts {
            let p = partials + t * stride
            p.update(repeating: 0, count: columns)
            for i in min(rows, t * chunk)..<min(rows, (t + 1) * chunk) {
                let row = x + i * columns
                for c in 0..<columns { p[c] += row[c] }
            }
        }
    }
    for t in 0..<threads {
        let p = partials + t * stride
        for c in 0..<columns { s[c] += p[c] }
    }
}

/// Elements between the starts of per-thread partial rows of `count` elements: rounded up to whole
/// 64-byte cache lines plus one, so threads accumulating into neighbouring rows never share a line.
func separatedStride<T>(_ count: Int, of type: T.Type) -> Int {
    let perLine = max(1, 64 / MemoryLayout<T>.stride)
    return (count + perLine - 1) / perLine * perLine + perLine
}

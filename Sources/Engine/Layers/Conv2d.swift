/// A 2-D convolution over NHWC images: square kernel, zero padding, optional bias.
///
/// The weight is stored (kh, kw, cin, cout), which read as a (k·k·cin, cout) matrix makes the
/// convolution a GEMM against the im2col matrix (B·Ho·Wo, k·k·cin). That matrix is built a chunk of
/// samples at a time, so each chunk is still in cache when the GEMM reads it. A 1×1, stride-1,
/// unpadded convolution skips im2col: its input already is that matrix. When k·k·cin is small (a
/// first layer on grey or RGB images) the GEMM would be memory-bound on a thin matrix, so the
/// product runs in our own kernel instead, one output row at a time.
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
    /// Bytes of the column matrix built at a time: small enough that a chunk is still in cache
    /// when the GEMM reads it back, large enough for the GEMM to run near its peak.
    var columnBudget = 3 << 20
    /// Largest k·k·cin multiplied by the direct kernel rather than by GEMM.
    var directDepthLimit = 32
    private var input: Tensor?
    private var geometry: WindowGeometry?
    private var columns: Tensor?          // see `reserveColumns`
    private var out: Tensor?              // (B, Ho, Wo, cout)
    private var dx: Tensor?               // (B, H, W, cin)
    private var partials: Tensor?         // (threads, cout + padding); direct: (threads, (k·k·cin + 1)·cout + padding)

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
    /// Whether the product runs in the direct kernel rather than GEMM.
    var isDirect: Bool { !isPointwise && depth <= directDepthLimit }
    /// k·k·cin: the columns of the im2col matrix.
    private var depth: Int { kernel * kernel * inChannels }

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
        let rows = g.outputPixels, depth = depth
        let o = ctx.buffer(out, [g.batch, g.outHeight, g.outWidth, outChannels]); out = o
        input = x
        geometry = g
        reserveColumns(ctx, g)
        if !isPointwise {
            ctx.record(name + ".im2col", .copy, flops: 0, read: Double(x.count), written: Double(rows * depth))
        }
        let mnk = Double(rows) * Double(depth) * Double(outChannels)
        ctx.record(name, .conv, flops: 2 * mnk + (bias == nil ? 0 : Double(o.count)),
                   read: Double(rows * depth + weight.count + (bias?.count ?? 0)), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        if isDirect {
            directForward(x.data, g, into: o.data)
            return o
        }
        forEachChunk(g, buildingColumns: true) { samples, a in
            let m = samples.count * g.outHeight * g.outWidth
            let y = o.data + samples.lowerBound * g.outHeight * g.outWidth * outChannels
            // The GEMM accumulates (beta 1) onto the bias written here, or (beta 0) onto the zeros
            // `sgemm` writes into each thread's slab.
            if let b = bias { fillRows(y, with: b.value.data, rows: m, columns: outChannels) }
            // Y (m, cout) = columns (m, k·k·cin) · W (k·k·cin, cout)
            sgemm(m: m, n: outChannels, k: depth, a, lda: depth, weight.value.data, ldb: outChannels,
                  beta: bias == nil ? 0 : 1, y, ldc: outChannels)
        }
        return o
    }

    /// Accumulates ∂L/∂W and ∂L/∂b. The column matrix is rebuilt chunk by chunk (the forward keeps
    /// one chunk of it), and each chunk's ∂L/∂columns overwrites it before folding onto ∂L/∂X.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let g = geometry else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let rows = g.outputPixels, depth = depth
        precondition(dy.count == rows * outChannels, "\(name): gradient of shape \(dy.shape) for output \(out?.shape ?? [])")
        reserveColumns(ctx, g)
        if !isPointwise {
            ctx.record(name + ".im2col", .copy, flops: 0, read: Double(x.count), written: Double(rows * depth))
        }
        let mnk = Double(rows) * Double(depth) * Double(outChannels)
        ctx.record(name + ".dW", .conv, flops: 2 * mnk + (bias == nil ? 0 : Double(dy.count)),
                   read: Double(rows * depth + dy.count), written: Double(weight.count + (bias?.count ?? 0)))
        if isDirect {
            let size = (depth + (bias == nil ? 0 : 1)) * outChannels
            partials = ctx.buffer(partials, [EngineThreads.count, separatedStride(size, of: Float.self)])
        } else if bias != nil {
            partials = ctx.buffer(partials, [EngineThreads.count, separatedStride(outChannels, of: Float.self)])
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
        if isDirect {
            directWeightGradient(x.data, dy.data, g)
        } else if let b = bias {
            accumulateColumnSumsInParallel(dy.data, rows: rows, columns: outChannels, into: b.grad.data, partials: partials!.data)
        }
        forEachChunk(g, buildingColumns: !isDirect) { samples, a in
            let m = samples.count * g.outHeight * g.outWidth
            let gy = dy.data + samples.lowerBound * g.outHeight * g.outWidth * outChannels
            if !isDirect {
                // dW (k·k·cin, cout) += columnsᵀ (k·k·cin, m) · dY (m, cout)
                sgemm(transA: true, m: depth, n: outChannels, k: m, a, lda: depth, gy, ldb: outChannels,
                      beta: 1, weight.grad.data, ldc: outChannels)
            }
            guard let gx else { return }
            // ∂columns (m, k·k·cin) = dY (m, cout) · Wᵀ (cout, k·k·cin), then folded back.
            let dcol = isPointwise ? gx.data + samples.lowerBound * g.imageSize : columns!.data
            sgemm(transB: true, m: m, n: depth, k: outChannels, gy, lda: outChannels,
                  weight.value.data, ldb: outChannels, dcol, ldc: depth)
            if !isPointwise { col2im(dcol, g, samples: samples, into: gx.data) }
        }
        return gx
    }

    /// Size the column buffer: a chunk of the column matrix (samplesPerChunk·Ho·Wo, k·k·cin), which
    /// the backward overwrites with ∂L/∂columns; for the direct kernel, one scratch of padded input
    /// rows per thread (threads, k·paddedRowSpan), and a chunk only when ∂L/∂X is needed. Pointwise
    /// convolutions need none. Sized the same every step, so it is allocated once.
    private func reserveColumns(_ ctx: ExecutionContext, _ g: WindowGeometry) {
        guard !isPointwise else { return }
        let chunk = samplesPerChunk(g) * g.outHeight * g.outWidth * depth
        let scratch = EngineThreads.count * kernel * g.paddedRowSpan
        let count = !isDirect ? chunk : needsInputGradient ? max(chunk, scratch) : scratch
        columns = ctx.buffer(columns, [count])
    }

    /// Samples per chunk of the column matrix: as many as fit `columnBudget` bytes (at least one),
    /// spread evenly over the chunks the batch needs. A pointwise convolution has no column matrix
    /// to chunk.
    func samplesPerChunk(_ g: WindowGeometry) -> Int {
        guard !isPointwise else { return g.batch }
        let bytesPerSample = g.outHeight * g.outWidth * depth * MemoryLayout<Float>.stride
        let most = max(1, columnBudget / bytesPerSample)
        let chunks = (g.batch + most - 1) / most
        return (g.batch + chunks - 1) / chunks
    }

    /// Calls `body` on consecutive sample ranges of `samplesPerChunk` with the chunk buffer, after
    /// building that range's column matrix (m, k·k·cin) into it when asked; a pointwise convolution
    /// gets its input, which already is that matrix.
    private func forEachChunk(_ g: WindowGeometry, buildingColumns: Bool,
                              _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let x = input!.data, chunk = samplesPerChunk(g)
        for first in Swift.stride(from: 0, to: g.batch, by: chunk) {
            let samples = first..<min(g.batch, first + chunk)
            if isPointwise {
                body(samples, x + first * g.imageSize)
            } else {
                if buildingColumns { im2col(x, g, samples: samples, into: columns!.data) }
                body(samples, columns!.data)
            }
        }
    }

    /// Y = bias + columns · W, one output row at a time, reading each window from the row's
    /// padded input rows (see `padInputRows`) in a per-thread scratch that stays in L1.
    private func directForward(_ x: UnsafePointer<Float>, _ g: WindowGeometry, into y: UnsafeMutablePointer<Float>) {
        let cout = outChannels, w = weight.value.data, b = bias?.value.data
        let scratch = columns!.data, span = g.paddedRowSpan, width = g.outWidth
        let taps = g.windowOffsets
        taps.withUnsafeBufferPointer { taps in
            forEachThreadShare(g.batch * g.outHeight, workPerItem: width * depth * cout) { t, outputRows in
                let rows = scratch + t * g.kernel * span
                for row in outputRows {
                    padInputRows(x, g, outputRow: row, into: rows)
                    multiplySmallDepth(rows, pixelStride: g.stride * g.channels, taps: taps, pixels: width,
                                       w, bias: b, columns: cout, into: y + row * width * cout)
                }
            }
        }
    }

    /// ∂W += columnsᵀ · dY and ∂b += Σ dY, one output row at a time into per-thread partial sums,
    /// which are then added in thread order (the same result run to run).
    private func directWeightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ g: WindowGeometry) {
        let depth = depth, cout = outChannels, width = g.outWidth, span = g.paddedRowSpan
        let scratch = columns!.data, sums = partials!.data, stride = partials!.shape[1]
        let size = (depth + (bias == nil ? 0 : 1)) * cout
        let taps = g.windowOffsets
        taps.withUnsafeBufferPointer { taps in
            forEachThreadShare(g.batch * g.outHeight, workPerItem: width * depth * cout) { t, outputRows in
                let rows = scratch + t * g.kernel * span, dw = sums + t * stride
                dw.update(repeating: 0, count: size)
                for row in outputRows {
                    padInputRows(x, g, outputRow: row, into: rows)
                    accumulateSmallDepthGradient(rows, pixelStride: g.stride * g.channels, taps: taps, dy + row * width * cout,
                                                 pixels: width, columns: cout, into: dw,
                                                 biasGradient: bias == nil ? nil : dw + depth * cout)
                }
            }
        }
        let gw = weight.grad.data, gb = bias?.grad.data
        for t in 0..<EngineThreads.count {
            let dw = sums + t * stride
            for i in 0..<(depth * cout) { gw[i] += dw[i] }
            if let gb { for c in 0..<cout { gb[c] += dw[depth * cout + c] } }
        }
    }
}

import Engine

/// How an int8 layer maps its float input onto int8 codes.
///
///     .calibrated(AffineQuantization(scale: [0.02], zeroPoint: [-10], qmin: -128, qmax: 127))
///     .dynamic
public enum Int8InputQuantization: Equatable, Sendable {
    /// Post-training static: one scale and zero point fixed ahead of time from a calibration set.
    case calibrated(AffineQuantization)
    /// Dynamic: scale and zero point from each batch's min and max, over the full int8 range.
    case dynamic

    /// Throws a `ConfigError` under `keyPath` unless the parameters are one finite positive scale
    /// with a zero point inside codes [qmin, qmax] that fit in int8.
    public func validate(keyPath: String) throws {
        guard case .calibrated(let q) = self else { return }
        guard q.channels == 1 else {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "scale"),
                              reason: "an int8 layer takes one scale for its whole input, got \(q.channels)")
        }
        guard q.qmin >= -128, q.qmax <= 127, q.qmin < q.qmax else {
            throw ConfigError(keyPath: keyPath, reason: "codes [\(q.qmin), \(q.qmax)] must be an interval inside the int8 range [-128, 127]")
        }
        guard q.scale[0].isFinite, q.scale[0] > 0 else {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "scale"), reason: "must be finite and positive, got \(q.scale[0])")
        }
        guard (q.qmin...q.qmax).contains(q.zeroPoint[0]) else {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "zero_point"),
                              reason: "must lie in [\(q.qmin), \(q.qmax)], got \(q.zeroPoint[0])")
        }
    }

    /// The dynamic parameters of values in [minimum, maximum]: the range widened to hold 0, then
    /// scale = (max − min) / 255 and zero point = round(−128 − min / scale), clamped — ONNX
    /// DynamicQuantizeLinear shifted to signed codes. An empty range gives scale 1, zero point 0.
    ///
    ///     Int8InputQuantization.dynamicParameters(minimum: -1, maximum: 3)   // scale 4/255, zero point -64
    public static func dynamicParameters(minimum: Float, maximum: Float) -> AffineQuantization {
        let limit = Float.greatestFiniteMagnitude
        let lo = min(0, minimum.isNaN ? 0 : max(minimum, -limit)), hi = max(0, maximum.isNaN ? 0 : min(maximum, limit))
        guard hi > lo else { return AffineQuantization(scale: [1], zeroPoint: [0], qmin: -128, qmax: 127) }
        let scale = max(Float((Double(hi) - Double(lo)) / 255), .leastNormalMagnitude)
        let zero = min(max((-128 - lo / scale).rounded(.toNearestOrEven), -128), 127)
        return AffineQuantization(scale: [scale], zeroPoint: [Int32(zero)], qmin: -128, qmax: 127)
    }
}

/// An inference-only fully connected layer in int8 arithmetic, built from a trained `Linear`.
///
/// Weights are quantized once, symmetric per output channel (zero point 0, scale max|w|/qmax with
/// qmax = 2^(bits−1) − 1) and kept as int8 codes (out, in). A forward quantizes the input (static or
/// dynamic parameters), multiplies the codes in int8 × int8 → int32 (`int8GEMM`'s C kernels), and
/// maps each sum back to Float in the kernels' store as y = sx·sw[c]·(Σ qx·qw − zx·Σ qw) + b[c], the integer form of
/// dequantize(x)·dequantize(W)ᵀ (Jacob et al. 2018, "Quantization and Training of Neural Networks
/// for Efficient Integer-Arithmetic-Only Inference"). The bias stays in Float and is added after the
/// rescale, rather than as int32 at scale sx·sw as ONNX MatMulInteger / QLinearMatMul graphs do: it
/// adds no rounding, so the output equals fake quantization to float precision.
///
///     let q = try QuantizedLinear(trained, weightBits: 8, input: .dynamic)
///     let y = q(x)                          // same shape as trained(x)
///
/// `backward` does nothing and returns nil, and `parameters` is empty: the layer is not trained.
public final class QuantizedLinear: Layer {
    public let name: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let weightBits: Int
    public let input: Int8InputQuantization
    /// Weight codes (out, in), row-major.
    public let weightCodes: [Int8]
    /// One scale per output channel.
    public let weightScales: [Float]
    /// The float bias (out), if the layer has one.
    public let bias: [Float]?
    public var needsInputGradient = false
    /// The instruction set the product runs in; `KernelSet.selected` when nil.
    public var kernels: KernelSet?
    private let hasBias: Bool
    private let panels: Int8Panels
    private let weightSums: [Int32]
    private let inputCodes = Int8Scratch<Int8>()      // (rows, in)
    private var out: Tensor?                          // (rows, out)

    /// Quantize `linear`'s current weights; throws a `ConfigError` for a bad bit width, bad input
    /// parameters, non-finite weights, or more than 65536 input features.
    public init(_ linear: Linear, weightBits: Int = 8, input: Int8InputQuantization) throws {
        name = linear.name
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.weightBits = weightBits
        self.input = input
        hasBias = linear.bias != nil
        try input.validate(keyPath: ConfigError.join(name, "input"))
        try validateInt8Layer(name, weightBits: weightBits, depth: inFeatures)
        let w = linear.weight.value
        if w.context.isMeta {
            weightCodes = []; weightScales = []; bias = nil
        } else {
            let data = w.data, k = inFeatures
            (weightCodes, weightScales) = try quantizeInt8Rows(rows: outFeatures, depth: k, bits: weightBits,
                                                               keyPath: ConfigError.join(name, "weight")) { data[$0 * k + $1] }
            bias = linear.bias.map { $0.value.array }
        }
        (panels, weightSums) = int8WeightPanels(weightCodes, rows: weightScales.count, depth: inFeatures)
    }

    /// The layer with codes, scales and bias already made (a kept model rebuilt); throws a
    /// `ConfigError` when they do not fit (out, in) or the bit width or input parameters are bad.
    public init(name: String, inFeatures: Int, outFeatures: Int, weightBits: Int, input: Int8InputQuantization,
                weightCodes: [Int8], weightScales: [Float], bias: [Float]?) throws {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weightBits = weightBits
        self.input = input
        hasBias = bias != nil
        try input.validate(keyPath: ConfigError.join(name, "input"))
        try validateInt8Layer(name, weightBits: weightBits, depth: inFeatures)
        try validateInt8Storage(name, codes: weightCodes.count, scales: weightScales.count, bias: bias?.count,
                                channels: outFeatures, depth: inFeatures)
        self.weightCodes = weightCodes; self.weightScales = weightScales; self.bias = bias
        (panels, weightSums) = int8WeightPanels(weightCodes, rows: outFeatures, depth: inFeatures)
    }

    /// Bytes the layer keeps: one byte per weight code, a Float scale per output channel, and the
    /// Float bias: out·in + 4·out (+ 4·out).
    public var storedBytes: Double {
        Double(outFeatures * inFeatures) + 4 * Double(outFeatures) + (hasBias ? 4 * Double(outFeatures) : 0)
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.last == inFeatures else {
            throw ShapeError(name, "expects \(inFeatures) input features, got shape \(input)")
        }
        return Array(input.dropLast()) + [outFeatures]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.last == inFeatures, "\(name): expects \(inFeatures) input features, got shape \(x.shape)")
        let ctx = x.context
        let rows = x.count / inFeatures
        let o = ctx.buffer(out, Array(x.shape.dropLast()) + [outFeatures]); out = o
        let codes = inputCodes.reserve(x.count, in: ctx)
        recordInt8Quantize(ctx, name, count: x.count, dynamic: input == .dynamic)
        recordInt8Op(ctx, name, .matmul, flops: 2 * Double(rows) * Double(inFeatures) * Double(outFeatures),
                     readBytes: Double(x.count + outFeatures * inFeatures), writtenBytes: 4 * Double(o.count), dtype: .int8)
        recordInt8Rescale(ctx, name, count: o.count, channels: outFeatures, bias: hasBias)
        guard !ctx.isMeta, let codes else { return o }
        precondition(weightScales.count == outFeatures, "\(name): quantized from a meta-mode layer, it has no weights to run")
        let q = quantizeInt8Input(x.data, count: x.count, input, into: codes)
        let rescale = Int8Rescale(input: q, weightScales: weightScales, weightSums: weightSums, bias: bias)
        int8Multiply(m: rows, codes, lda: inFeatures, panels, .rescaled(o.data, rescale), ldc: outFeatures,
                     kernels: kernels ?? .selected)
        return o
    }

    /// Nothing to do: the layer is inference-only and passes no gradient back.
    public func backward(_ dy: Tensor) -> Tensor? { nil }
}

// MARK: Shared by the int8 layers

/// Throws unless `bits` is 2…8 and the depth of the product keeps int32 sums exact.
func validateInt8Layer(_ name: String, weightBits: Int, depth: Int) throws {
    guard (2...8).contains(weightBits) else {
        throw ConfigError(keyPath: ConfigError.join(name, "weight_bits"), reason: "must be between 2 and 8, got \(weightBits)")
    }
    guard depth <= Int8Panels.maximumDepth else {
        throw ConfigError(keyPath: name, reason: "a depth of \(depth) products overflows int32 sums (at most \(Int8Panels.maximumDepth))")
    }
}

/// Throws unless there are channels × depth codes, one scale per channel, and a bias of one
/// value per channel (when there is one).
func validateInt8Storage(_ name: String, codes: Int, scales: Int, bias: Int?, channels: Int, depth: Int) throws {
    guard codes == channels * depth, scales == channels, bias.map({ $0 == channels }) ?? true else {
        throw ConfigError(keyPath: name, reason: "\(codes) codes, \(scales) scales and \(bias.map(String.init) ?? "no") bias values "
                                                 + "do not fit \(channels) channels of depth \(depth)")
    }
}

/// Symmetric per-row codes of a (rows, depth) float matrix read through `value(row, i)`:
/// scale = max|w| / qmax (1 for an all-zero row), code = round_half_even(w / scale) in ±qmax.
func quantizeInt8Rows(rows: Int, depth: Int, bits: Int, keyPath: String,
                      _ value: (Int, Int) -> Float) throws -> (codes: [Int8], scales: [Float]) {
    let qmax = Float((1 << (bits - 1)) - 1)
    var codes = [Int8](repeating: 0, count: rows * depth), scales = [Float](repeating: 1, count: rows)
    for r in 0..<rows {
        var largest: Float = 0
        for i in 0..<depth {
            let w = value(r, i)
            guard w.isFinite else { throw ConfigError(keyPath: keyPath, reason: "value \(w) at channel \(r), index \(i) is not finite") }
            largest = max(largest, abs(w))
        }
        let scale = largest > 0 ? max(largest / qmax, .leastNormalMagnitude) : 1
        scales[r] = scale
        for i in 0..<depth {
            codes[r * depth + i] = Int8(min(max((value(r, i) / scale).rounded(.toNearestOrEven), -qmax), qmax))
        }
    }
    return (codes, scales)
}

/// The packed weight panels and per-channel code sums of (rows, depth) codes.
func int8WeightPanels(_ codes: [Int8], rows: Int, depth: Int) -> (Int8Panels, [Int32]) {
    let panels = Int8Panels(rows: rows, depth: depth)
    guard rows > 0, depth > 0 else { return (panels, [Int32](repeating: 0, count: rows)) }
    return codes.withUnsafeBufferPointer { p in
        panels.pack(p.baseAddress!, ld: depth)
        return (panels, int8RowSums(rows: rows, depth: depth, p.baseAddress!, ld: depth))
    }
}

/// Quantize `count` floats to int8 codes with the static parameters or, dynamic, with the range
/// of these values; returns the parameters used. NaN maps to the zero point.
func quantizeInt8Input(_ x: UnsafePointer<Float>, count: Int, _ input: Int8InputQuantization,
                       into q: UnsafeMutablePointer<Int8>) -> AffineQuantization {
    let p: AffineQuantization
    switch input {
    case .calibrated(let fixed): p = fixed
    case .dynamic:
        let (lo, hi) = valueRange(x, count: count)
        p = Int8InputQuantization.dynamicParameters(minimum: lo, maximum: hi)
    }
    let scale = p.scale[0], zero = p.zeroPoint[0]
    let lowest = Float(p.qmin - zero), highest = Float(p.qmax - zero)
    parallelRanges(count, minimumPerThread: 1 << 16) { range in
        var i = range.lowerBound
        let s = SIMD8<Float>(repeating: scale), lo = SIMD8<Float>(repeating: lowest), hi = SIMD8<Float>(repeating: highest)
        // Adding 1.5·2²³ rounds v half to even into the low mantissa bits (|v| < 2²²; v is clamped
        // well inside), so the bit patterns' difference is the rounded integer: no conversion call.
        let magic = SIMD8<Float>(repeating: 12_582_912), magicBits = unsafeBitCast(magic, to: SIMD8<Int32>.self)
        while i + 8 <= range.upperBound {
            var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) / s
            v.replace(with: 0, where: v .!= v)
            v.replace(with: lo, where: v .< lo)
            v.replace(with: hi, where: v .> hi)
            let c = unsafeBitCast(v + magic, to: SIMD8<Int32>.self) &- magicBits &+ zero
            let codes = SIMD8<Int8>(Int8(truncatingIfNeeded: c[0]), Int8(truncatingIfNeeded: c[1]), Int8(truncatingIfNeeded: c[2]),
                                    Int8(truncatingIfNeeded: c[3]), Int8(truncatingIfNeeded: c[4]), Int8(truncatingIfNeeded: c[5]),
                                    Int8(truncatingIfNeeded: c[6]), Int8(truncatingIfNeeded: c[7]))
            UnsafeMutableRawPointer(q + i).storeBytes(of: codes, as: SIMD8<Int8>.self)
            i += 8
        }
        while i < range.upperBound {
            let v = x[i] / scale
            q[i] = v.isNaN ? Int8(zero) : Int8(Int32(min(max(v, lowest), highest).rounded(.toNearestOrEven)) + zero)
            i += 1
        }
    }
    return p
}

/// Smallest and largest of `count` floats, NaN ignored (0 when there are none).
private func valueRange(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
    var lo = SIMD8<Float>(), hi = SIMD8<Float>(), i = 0
    while i + 8 <= count {
        var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        v.replace(with: 0, where: v .!= v)
        lo.replace(with: v, where: v .< lo)
        hi.replace(with: v, where: v .> hi)
        i += 8
    }
    var l = lo.min(), h = hi.max()
    while i < count {
        if x[i] < l { l = x[i] }
        if x[i] > h { h = x[i] }
        i += 1
    }
    return (l, h)
}

/// Record an op from its bytes (int8 codes, int32 sums and floats mix), counted at `dtype`.
func recordInt8Op(_ ctx: ExecutionContext, _ name: String, _ kind: OpKind, flops: Double,
                  readBytes: Double, writtenBytes: Double, dtype: DType) {
    ctx.record(name, kind, flops: flops, read: readBytes / dtype.bytes, written: writtenBytes / dtype.bytes, dtype: dtype)
}

/// The input quantization: an fp32 divide-round-clamp per value (and a min/max pass when dynamic),
/// reading floats and writing one-byte codes.
func recordInt8Quantize(_ ctx: ExecutionContext, _ name: String, count: Int, dynamic: Bool) {
    let n = Double(count)
    recordInt8Op(ctx, name + ".quantize", .elementwise, flops: dynamic ? 3 * n : n,
                 readBytes: (dynamic ? 8 : 4) * n, writtenBytes: n, dtype: .fp32)
}

/// The rescale of int32 sums to Float: subtract, multiply (and add the bias) per output.
func recordInt8Rescale(_ ctx: ExecutionContext, _ name: String, count: Int, channels: Int, bias: Bool) {
    let n = Double(count), c = Double(channels)
    recordInt8Op(ctx, name + ".rescale", .elementwise, flops: (bias ? 3 : 2) * n,
                 readBytes: 4 * n + (bias ? 12 : 8) * c, writtenBytes: 4 * n, dtype: .fp32)
}

/// A reusable buffer of `Element`s whose bytes are reported to the context it was sized in; no
/// memory behind it in meta mode.
final class Int8Scratch<Element> {
    private var storage: UnsafeMutablePointer<Element>?
    private var capacity = 0
    private var context: ExecutionContext?

    /// Room for `count` elements (nil in meta mode), grown and reported to `context` as needed.
    func reserve(_ count: Int, in context: ExecutionContext) -> UnsafeMutablePointer<Element>? {
        if count > capacity || self.context !== context {
            release()
            self.context = context
            capacity = count
            context.allocate(bytes: Double(count * MemoryLayout<Element>.stride))
            if !context.isMeta { storage = .allocate(capacity: max(count, 1)) }
        }
        return storage
    }

    private func release() {
        storage?.deallocate()
        storage = nil
        context?.free(bytes: Double(capacity * MemoryLayout<Element>.stride))
        capacity = 0
    }

    deinit { release() }
}

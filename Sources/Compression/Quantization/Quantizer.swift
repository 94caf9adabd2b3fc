import Engine

/// How the quantized levels are spaced.
public enum QuantizationLevels: String, Codable, Sendable, CaseIterable, NamedChoice {
    /// Evenly spaced: x̂ = (q − zeroPoint) · scale.
    case uniform
    /// Logarithmic: x̂ = sign(x) · 2^k (Miyashita et al. 2016, "Convolutional Neural Networks using
    /// Logarithmic Data Representation").
    case powerOfTwo = "pow2"
}

/// What a tensor is quantized to: bit width, symmetric or not, per channel or not, level spacing.
///
///     {"bits": 4, "symmetric": true, "per_channel": true, "levels": "uniform"}
///
/// Codes are signed. Symmetric b-bit codes use the restricted range −(2^(b−1)−1)…2^(b−1)−1 (so that
/// −x quantizes to −q); asymmetric codes the full −2^(b−1)…2^(b−1)−1; binary (1 bit) the two codes
/// ±1 standing for ±α. Power-of-two codes are sign · (k − kmin + 1) with 0 for zero, in the
/// symmetric range.
public struct QuantizationScheme: Codable, Equatable, Sendable {
    public var bits: Int
    public var symmetric: Bool
    public var perChannel: Bool
    public var levels: QuantizationLevels

    public init(bits: Int = 8, symmetric: Bool = true, perChannel: Bool = false, levels: QuantizationLevels = .uniform) {
        self.bits = bits; self.symmetric = symmetric; self.perChannel = perChannel; self.levels = levels
    }

    /// Bit widths the scheme supports (1 is binary).
    public static let supportedBits = [8, 4, 2, 1]

    /// True for 1-bit (XNOR-Net style) quantization.
    public var isBinary: Bool { bits == 1 }

    /// The smallest integer code.
    public var qmin: Int32 {
        if isBinary { return -1 }
        let half = Int32(1) << Int32(max(bits, 2) - 1)
        return symmetric || levels == .powerOfTwo ? -(half - 1) : -half
    }

    /// The largest integer code.
    public var qmax: Int32 {
        if isBinary { return 1 }
        return (Int32(1) << Int32(max(bits, 2) - 1)) - 1
    }

    /// Throws a `ConfigError` under `keyPath` if the scheme cannot quantize a tensor with `channels`
    /// channels (pass the size of the channel axis; 1 for a tensor without one).
    public func validate(channels: Int, keyPath: String) throws {
        try validateSettings(keyPath: keyPath)
        if perChannel, channels <= 1 {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "per_channel"),
                              reason: "the tensor has \(channels) channel\(channels == 1 ? "" : "s"); per-channel quantization needs more than one channel")
        }
    }

    private func validateSettings(keyPath: String) throws {
        guard Self.supportedBits.contains(bits) else {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "bits"),
                              reason: "unsupported bit width \(bits) (valid: 8, 4, 2, 1 for binary)")
        }
        if levels == .powerOfTwo, !symmetric {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "levels"),
                              reason: "power-of-two levels are symmetric around zero; set symmetric to true")
        }
        if levels == .powerOfTwo, isBinary {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "levels"),
                              reason: "binary quantization has a single level ±α; use uniform levels with 1 bit")
        }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case bits, symmetric, perChannel = "per_channel", levels
    }

    /// Decodes with defaults (8 bits, symmetric, per tensor, uniform); bad values throw a `ConfigError`.
    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue),
                                          owner: "quantization")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ type: T.Type, _ key: CodingKeys, _ expected: String) throws -> T? {
            do { return try c.decodeIfPresent(type, forKey: key) } catch let error as ConfigError { throw error } catch {
                throw ConfigError(keyPath: decoder.keyPath(key.rawValue), reason: "expected \(expected)")
            }
        }
        self.init(bits: try value(Int.self, .bits, "an integer") ?? 8,
                  symmetric: try value(Bool.self, .symmetric, "true or false") ?? true,
                  perChannel: try value(Bool.self, .perChannel, "true or false") ?? false,
                  levels: try value(QuantizationLevels.self, .levels, "a level spacing name") ?? .uniform)
        try validateSettings(keyPath: decoder.keyPath)
    }
}

// MARK: Parameters from a range

/// Scale and zero point that map the real range [min, max] (widened to include 0) onto the scheme's codes.
///
/// Symmetric: zero point 0, scale = max(|min|, |max|) / qmax. Asymmetric: scale = (max − min) /
/// (qmax − qmin), zero point = qmin − min / scale rounded half to even and clamped (ONNX
/// DynamicQuantizeLinear, in the signed range). Power-of-two: scale is the smallest level 2^kmin, with
/// kmax = round(log2 max|x|) and kmin = kmax − (2^(b−1) − 2). Binary: α = max|x| / 2 (the mean |x| of a
/// uniform spread over the range; weights use the measured mean instead). An empty range gives
/// scale 1; a range whose scale would underflow gets the smallest normal Float instead.
///
///     quantizationParameters(min: -1, max: 3, scheme: QuantizationScheme(symmetric: false))
///     // scale 4/255, zero point -64
public func quantizationParameters(min: Float, max: Float, scheme: QuantizationScheme) -> AffineQuantization {
    func finite(_ v: Float) -> Float { v.isNaN ? 0 : Swift.min(Swift.max(v, -.greatestFiniteMagnitude), .greatestFiniteMagnitude) }
    let lo = Swift.min(finite(min), 0), hi = Swift.max(finite(max), 0)
    let qmin = scheme.qmin, qmax = scheme.qmax
    func single(_ scale: Float, _ zeroPoint: Int32 = 0) -> AffineQuantization {
        let safe = scale.isFinite && scale > 0 ? Swift.max(scale, .leastNormalMagnitude) : 1
        return AffineQuantization(scale: [safe], zeroPoint: [zeroPoint], qmin: qmin, qmax: qmax)
    }
    let magnitude = Swift.max(-lo, hi)
    guard magnitude > 0 else { return single(1) }
    if scheme.isBinary { return single(magnitude / 2) }
    if scheme.levels == .powerOfTwo {
        return single(Float(sign: .plus, exponent: smallestExponent(magnitude: magnitude, qmax: qmax), significand: 1))
    }
    if scheme.symmetric { return single(magnitude / Float(qmax)) }
    let scale = Float((Double(hi) - Double(lo)) / Double(qmax - qmin))
    guard scale.isFinite, scale >= .leastNormalMagnitude else { return single(scale) }
    let zero = (Float(qmin) - lo / scale).rounded(.toNearestOrEven)
    return single(scale, Int32(Swift.min(Swift.max(zero, Float(qmin)), Float(qmax))))
}

/// round(log2 m) for m > 0, exactly: m = f · 2^e with f in [1, 2) rounds up when f ≥ √2.
func roundedLog2(_ m: Float) -> Int {
    let e = Int(m.exponent)
    return Double(m.significand) >= 2.0.squareRoot() ? e + 1 : e
}

/// kmin of power-of-two levels whose largest level is 2^round(log2 magnitude).
func smallestExponent(magnitude: Float, qmax: Int32) -> Int {
    let kmax = Swift.min(roundedLog2(magnitude), Int(Float.greatestFiniteMagnitude.exponent))
    return Swift.max(kmax - Int(qmax) + 1, Int(Float.leastNormalMagnitude.exponent))
}

// MARK: Scalars (ONNX QuantizeLinear / DequantizeLinear)

/// The code of `x`: round_half_even(x / scale) + zeroPoint, saturated to [qmin, qmax] (NaN → zeroPoint).
///
///     quantize(3, scale: 2, zeroPoint: 128, qmin: 0, qmax: 255)   // 130 (1.5 rounds to 2)
@inlinable
public func quantize(_ x: Float, scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
    let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
    guard !q.isNaN else { return zeroPoint }
    return Int32(Swift.min(Swift.max(q, Float(qmin)), Float(qmax)))
}

/// The real value of code `q`: (q − zeroPoint) · scale.
@inlinable
public func dequantize(_ q: Int32, scale: Float, zeroPoint: Int32) -> Float {
    Float(q - zeroPoint) * scale
}

/// Power-of-two code of `x`: sign · (k − kmin + 1) with k = round(log2|x|) clamped to the levels; 0 below 2^kmin/√2.
func powerOfTwoCode(_ x: Float, smallest: Float, qmax: Int32) -> Int32 {
    let m = abs(x)
    guard m > 0, !m.isNaN else { return 0 }
    let k = roundedLog2(Swift.min(m, .greatestFiniteMagnitude)) - Int(smallest.exponent)
    guard k >= 0 else { return 0 }
    let code = Int32(Swift.min(k + 1, Int(qmax)))
    return x < 0 ? -code : code
}

/// The value of power-of-two code `q`: sign(q) · smallest · 2^(|q| − 1).
func powerOfTwoValue(_ q: Int32, smallest: Float) -> Float {
    guard q != 0 else { return 0 }
    let v = Float(sign: .plus, exponent: smallest.exponent + Int(abs(q)) - 1, significand: 1)
    return q < 0 ? -v : v
}

// MARK: Tensors

/// Quantizes a weight (per tensor, or per channel along `channelAxis`) and returns its parameters and codes.
///
/// The codes are stored as `Int8` for any width up to 8 bits. Uniform levels follow ONNX
/// QuantizeLinear with the range from `range`; binary weights use α = mean |w| of the channel or
/// tensor and codes ±1 (Rastegari et al. 2016, XNOR-Net), whatever `range` says.
///
///     let (q, codes) = quantizeWeights(w, shape: [out, inp], channelAxis: 0,
///                                      scheme: QuantizationScheme(perChannel: true), range: .minMax)
public func quantizeWeights(_ w: UnsafePointer<Float>, shape: [Int], channelAxis: Int,
                            scheme: QuantizationScheme, range: RangeMethod) -> (AffineQuantization, [Int8]) {
    let layout = ChannelLayout(shape: shape, channelAxis: channelAxis, perChannel: scheme.perChannel)
    let params = channelParameters(w, layout: layout, scheme: scheme, range: range)
    var codes = [Int8](repeating: 0, count: layout.count)
    codes.withUnsafeMutableBufferPointer { out in
        layout.forEachRun { offset, channel, length in
            let s = params.scale[channel], z = params.zeroPoint[channel]
            for i in offset..<(offset + length) {
                out[i] = Int8(code(w[i], scale: s, zeroPoint: z, params: params, scheme: scheme))
            }
        }
    }
    return (params, codes)
}

/// Quantizes then dequantizes in place (fake quantization for quantization-aware training).
///
/// Same parameters as `quantizeWeights`; backward through it is the straight-through estimator.
public func fakeQuantize(_ p: UnsafeMutablePointer<Float>, shape: [Int], channelAxis: Int,
                         scheme: QuantizationScheme, range: RangeMethod) {
    let layout = ChannelLayout(shape: shape, channelAxis: channelAxis, perChannel: scheme.perChannel)
    let params = channelParameters(UnsafePointer(p), layout: layout, scheme: scheme, range: range)
    layout.forEachRun { offset, channel, length in
        let s = params.scale[channel], z = params.zeroPoint[channel]
        if scheme.levels == .uniform, !scheme.isBinary {
            for i in offset..<(offset + length) {
                p[i] = dequantize(quantize(p[i], scale: s, zeroPoint: z, qmin: params.qmin, qmax: params.qmax),
                                  scale: s, zeroPoint: z)
            }
        } else {
            for i in offset..<(offset + length) {
                p[i] = value(code(p[i], scale: s, zeroPoint: z, params: params, scheme: scheme),
                             scale: s, zeroPoint: z, scheme: scheme)
            }
        }
    }
}

/// Real values of `codes` from `quantizeWeights` (uniform, power-of-two or binary).
public func dequantizeWeights(_ codes: [Int8], shape: [Int], quantization: AffineQuantization,
                              scheme: QuantizationScheme) -> [Float] {
    let layout = ChannelLayout(shape: shape, channelAxis: quantization.axis ?? 0,
                               perChannel: quantization.axis != nil)
    precondition(codes.count == layout.count, "codes do not match the shape")
    var out = [Float](repeating: 0, count: codes.count)
    layout.forEachRun { offset, channel, length in
        let s = quantization.scale[channel], z = quantization.zeroPoint[channel]
        for i in offset..<(offset + length) { out[i] = value(Int32(codes[i]), scale: s, zeroPoint: z, scheme: scheme) }
    }
    return out
}

private func code(_ x: Float, scale: Float, zeroPoint: Int32, params: AffineQuantization,
                  scheme: QuantizationScheme) -> Int32 {
    if scheme.isBinary { return x < 0 ? -1 : 1 }
    if scheme.levels == .powerOfTwo { return powerOfTwoCode(x, smallest: scale, qmax: params.qmax) }
    return quantize(x, scale: scale, zeroPoint: zeroPoint, qmin: params.qmin, qmax: params.qmax)
}

private func value(_ q: Int32, scale: Float, zeroPoint: Int32, scheme: QuantizationScheme) -> Float {
    scheme.levels == .powerOfTwo && !scheme.isBinary
        ? powerOfTwoValue(q, smallest: scale) : dequantize(q, scale: scale, zeroPoint: zeroPoint)
}

/// Scale and zero point for every channel of `w` (one for the tensor when the layout has one channel).
private func channelParameters(_ w: UnsafePointer<Float>, layout: ChannelLayout, scheme: QuantizationScheme,
                               range: RangeMethod) -> AffineQuantization {
    var scales = [Float](), zeroPoints = [Int32]()
    var values = [Float]()
    values.reserveCapacity(layout.count / layout.channels)
    for channel in 0..<layout.channels {
        values.removeAll(keepingCapacity: true)
        layout.forEachRun(channel: channel) { offset, length in
            values.append(contentsOf: UnsafeBufferPointer(start: w + offset, count: length))
        }
        let q: AffineQuantization
        if scheme.isBinary {
            let meanAbs = values.isEmpty ? 0 : values.reduce(0) { $0 + Double(abs($1)) } / Double(values.count)
            q = AffineQuantization(scale: [Swift.max(Float(meanAbs), .leastNormalMagnitude)], zeroPoint: [0],
                                   qmin: scheme.qmin, qmax: scheme.qmax)
        } else {
            let r = values.withUnsafeBufferPointer { range.clippingRange(of: $0, scheme: scheme) }
            q = quantizationParameters(min: r.min, max: r.max, scheme: scheme)
        }
        scales.append(q.scale[0]); zeroPoints.append(q.zeroPoint[0])
    }
    return AffineQuantization(scale: scales, zeroPoint: zeroPoints, qmin: scheme.qmin, qmax: scheme.qmax,
                              axis: scheme.perChannel ? layout.axis : nil)
}

/// A row-major tensor seen as (outer, channels, inner) around its channel axis.
struct ChannelLayout {
    let count: Int, outer: Int, channels: Int, inner: Int, axis: Int

    init(shape: [Int], channelAxis: Int, perChannel: Bool) {
        count = shape.reduce(1, *)
        axis = channelAxis
        guard perChannel else { outer = 1; channels = 1; inner = count; return }
        precondition(shape.indices.contains(channelAxis), "channel axis \(channelAxis) outside shape \(shape)")
        outer = shape[..<channelAxis].reduce(1, *)
        channels = shape[channelAxis]
        inner = shape[(channelAxis + 1)...].reduce(1, *)
    }

    /// Calls `body(offset, channel, length)` for every contiguous run of one channel, in memory order.
    func forEachRun(_ body: (Int, Int, Int) -> Void) {
        guard count > 0 else { return }
        for o in 0..<outer { for c in 0..<channels { body((o * channels + c) * inner, c, inner) } }
    }

    /// Calls `body(offset, length)` for every contiguous run of `channel`.
    func forEachRun(channel: Int, _ body: (Int, Int) -> Void) {
        guard count > 0 else { return }
        for o in 0..<outer { body((o * channels + channel) * inner, inner) }
    }
}

/// The affine map between real numbers and b-bit integers that every quantized tensor carries.
///
/// Quantize: q = clamp(round_half_even(x / scale) + zeroPoint, qmin, qmax); dequantize:
/// x̂ = (q − zeroPoint) · scale — the definition of ONNX QuantizeLinear / DequantizeLinear. One
/// scale and zero point for the whole tensor (`axis` nil), or one per slice along `axis`
/// (per-channel: the output channel of a weight).
///
///     let q = AffineQuantization(scale: [0.02], zeroPoint: [0], qmin: -127, qmax: 127)
public struct AffineQuantization: Codable, Equatable, Sendable {
    public var scale: [Float]
    public var zeroPoint: [Int32]
    public var qmin: Int32
    public var qmax: Int32
    /// The dimension the scales run along (nil: one scale for the whole tensor).
    public var axis: Int?

    public init(scale: [Float], zeroPoint: [Int32], qmin: Int32, qmax: Int32, axis: Int? = nil) {
        precondition(scale.count == zeroPoint.count && !scale.isEmpty, "one zero point per scale")
        self.scale = scale; self.zeroPoint = zeroPoint; self.qmin = qmin; self.qmax = qmax; self.axis = axis
    }

    /// Scales (one per channel, or one).
    public var channels: Int { scale.count }
}

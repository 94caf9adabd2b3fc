import Engine

/// How one tensor is stored after compression.
public struct TensorFootprint: Codable, Equatable, Sendable {
    public var name: String
    public var count: Int
    public var nonzero: Int
    /// "fp32", "bf16", "int8", "int4 codebook"...
    public var format: String
    public var bytes: Double
}

/// The bytes a model takes as stored, counted honestly: packed b-bit integers, their per-channel
/// scales and zero points, codebooks with their indices, and sparse tensors in the cheaper of
/// dense, bitmap (one bit per element plus the non-zeros) or index (log₂(count)-bit positions
/// plus the non-zeros) layouts.
public struct ModelFootprint: Codable, Equatable, Sendable {
    public var tensors: [TensorFootprint]

    public var bytes: Double { tensors.reduce(0) { $0 + $1.bytes } }
    /// The same parameters as dense FP32.
    public var fp32Bytes: Double { tensors.reduce(0) { $0 + 4 * Double($1.count) } }
    public var parameters: Int { tensors.reduce(0) { $0 + $1.count } }
    public var nonzeroParameters: Int { tensors.reduce(0) { $0 + $1.nonzero } }

    public init(tensors: [TensorFootprint]) { self.tensors = tensors }

    /// Bytes of `count` values of `bits` each, `nonzero` of them non-zero, plus `overhead`
    /// bytes (scales, codebook), in the cheapest of the three layouts.
    public static func storedBytes(count: Int, nonzero: Int, bits: Int, overhead: Double = 0) -> Double {
        let dense = Double(count * bits)
        let bitmap = Double(count) + Double(nonzero * bits)
        let indexBits = max(1, Int.bitWidth - (count - 1).leadingZeroBitCount)   // ⌈log₂ count⌉
        let index = Double(nonzero * (bits + indexBits))
        return (min(dense, bitmap, index) / 8).rounded(.up) + overhead
    }
}

/// How compression left each weight, for the footprint.
public struct WeightEncodings {
    /// Bits and per-channel overhead of quantized weights, by parameter.
    public var quantized: [ObjectIdentifier: (bits: Int, channels: Int, zeroPoints: Bool)] = [:]
    /// Index bits and centroid count of shared weights, by parameter.
    public var shared: [ObjectIdentifier: (bits: Int, centroids: Int)] = [:]
    /// Bits of everything else (32, or 16 under a 16-bit precision).
    public var defaultBits = 32
    /// Bits of biases and norm parameters of a quantized model (int32 biases, as ONNX's integer
    /// operators take them).
    public var quantizedBiasBits = 32

    public init() {}

    /// The footprint of `parameters` as they are now.
    public func footprint(_ parameters: [Parameter]) -> ModelFootprint {
        ModelFootprint(tensors: parameters.map { p in
            let values = p.value.array
            let nonzero = values.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            let id = ObjectIdentifier(p)
            if let q = quantized[id] {
                let overhead = Double(q.channels) * (4 + (q.zeroPoints ? 1 : 0))
                return TensorFootprint(name: p.name, count: p.count, nonzero: nonzero, format: q.bits == 1 ? "binary" : "int\(q.bits)",
                                       bytes: ModelFootprint.storedBytes(count: p.count, nonzero: nonzero, bits: q.bits, overhead: overhead))
            }
            if let s = shared[id] {
                return TensorFootprint(name: p.name, count: p.count, nonzero: nonzero, format: "\(s.bits)-bit codebook",
                                       bytes: ModelFootprint.storedBytes(count: p.count, nonzero: nonzero, bits: s.bits, overhead: Double(4 * s.centroids)))
            }
            let bits = quantized.isEmpty ? defaultBits : quantizedBiasBits
            return TensorFootprint(name: p.name, count: p.count, nonzero: nonzero, format: bits == 32 ? "fp32" : "\(bits)-bit",
                                   bytes: ModelFootprint.storedBytes(count: p.count, nonzero: nonzero, bits: bits))
        })
    }
}

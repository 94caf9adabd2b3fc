/// A numeric format the engine stores or computes in.
///
/// Numbers are always held as `Float` in memory here; the dtype says what the operation stands for,
/// so that the cost trace (FLOPs by dtype, bytes moved) describes the modelled precision.
public enum DType: String, Codable, Sendable, CaseIterable {
    case fp32, tf32, fp16, bf16, fp8, int8, int4, int2, binary, int32

    /// Storage bits per element.
    public var bits: Int {
        switch self {
        case .fp32, .tf32, .int32: return 32
        case .fp16, .bf16: return 16
        case .fp8, .int8: return 8
        case .int4: return 4
        case .int2: return 2
        case .binary: return 1
        }
    }

    /// Storage bytes per element (fractional for sub-byte formats).
    public var bytes: Double { Double(bits) / 8 }
}

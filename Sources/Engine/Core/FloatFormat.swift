/// A floating-point number format — the one type for a precision, whether the engine trains in it,
/// a parallel plan is costed in it or an export names it — emulated on `Float`: values are
/// rounded to what the format can hold.
///
/// Rounding is IEEE 754 narrowing — round to nearest, ties to even — and the result is kept in a
/// `Float`, so training code can run "in fp16" by rounding at every layer boundary.
///
///     FloatFormat.bf16.round(1.00390625)   // 1.0 (a tie, rounded to the even mantissa)
///     FloatFormat.fp16.round(70000)        // +infinity
///
/// - fp32: 1 sign, 8 exponent, 23 mantissa bits (the identity here).
/// - tf32: fp32's 8-bit exponent with a 10-bit mantissa (NVIDIA Ampere tensor cores).
/// - fp16: IEEE binary16, 1/5/10 bits, subnormals down to 2^-24, largest finite 65504.
/// - bf16: the top 16 bits of fp32, 1/8/7 bits (Kalamkar et al. 2019, "A Study of BFLOAT16").
/// - fp8: E4M3 (Micikevicius et al. 2022, "FP8 Formats for Deep Learning"): 1/4/3 bits, bias 7,
///   subnormals down to 2^-9, largest finite 448, no infinity (past 448 is NaN).
public enum FloatFormat: String, Codable, Sendable, CaseIterable {
    case fp32, tf32, fp16, bf16, fp8

    /// The formats the engine trains in (fp8 training is costed, not run: it needs per-tensor
    /// scaling the engine does not emulate).
    public static let trainable: [FloatFormat] = [.fp32, .tf32, .fp16, .bf16]

    /// Bits the format stores a number in (tf32 counts its 19 significant bits).
    public var bits: Int {
        switch self {
        case .fp32: return 32
        case .tf32: return 19
        case .fp16, .bf16: return 16
        case .fp8: return 8
        }
    }

    /// The dtype a trace prices this format's work at.
    public var dtype: DType {
        switch self {
        case .fp32: return .fp32
        case .tf32: return .tf32
        case .fp16: return .fp16
        case .bf16: return .bf16
        case .fp8: return .fp8
        }
    }

    /// Bytes of a working weight, an activation and a gradient in training: 2 for the 16-bit
    /// formats; fp8 keeps 16-bit weights and gradients (its fp8 copies are transient); tf32 is a
    /// compute format, stored as fp32.
    public var storageBytes: Double {
        switch self {
        case .fp32, .tf32: return 4
        case .fp16, .bf16, .fp8: return 2
        }
    }

    /// Whether training keeps fp32 master weights beside the working copy.
    public var keepsMasterWeights: Bool { storageBytes < 4 }

    /// The largest finite magnitude the format represents.
    public var largestFinite: Float {
        switch self {
        case .fp32: return .greatestFiniteMagnitude
        case .tf32: return Float(bitPattern: 0x7F7F_E000)  // (2 − 2^-10) · 2^127
        case .fp16: return 65504
        case .bf16: return Float(bitPattern: 0x7F7F_0000)  // (2 − 2^-7) · 2^127
        case .fp8: return 448
        }
    }

    /// `x` rounded to the nearest value of this format (ties to even), as a `Float`.
    ///
    /// NaN stays NaN (made quiet), infinities stay, magnitudes past the largest finite value round
    /// to infinity exactly where IEEE narrowing does (fp16: at and above 65520).
    @inlinable
    public func round(_ x: Float) -> Float {
        switch self {
        case .fp32: return x
        case .tf32: return Float(bitPattern: FloatFormat.roundMantissa(x.bitPattern, droppedBits: 13))
        case .fp16: return Float(bitPattern: FloatFormat.roundHalf(x.bitPattern))
        case .bf16: return Float(bitPattern: FloatFormat.roundMantissa(x.bitPattern, droppedBits: 16))
        case .fp8: return Float(bitPattern: FloatFormat.roundE4M3(x.bitPattern))
        }
    }

    /// Rounds `count` values at `p` in place; branch-free per element, split over threads when large.
    public func roundInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard self != .fp32, count > 0 else { return }
        let format = self
        parallelRanges(count, minimumPerThread: 1 << 18) { range in
            let base = UnsafeMutableRawPointer(p + range.lowerBound).assumingMemoryBound(to: UInt32.self)
            FloatFormat.roundBits(base, count: range.count, format: format)
        }
    }

    /// True when any of the `count` values at `p` is infinite or NaN (a gradient overflow).
    public static func containsNonFinite(_ p: UnsafePointer<Float>, count: Int) -> Bool {
        let bits = UnsafeRawPointer(p).assumingMemoryBound(to: UInt32.self)
        // An all-ones exponent plus one exponent unit carries into bit 31; OR-ing those sums is a
        // vectorised reduction, checked between blocks for an early exit.
        let block = 4096
        var start = 0
        while start < count {
            let end = min(count, start + block)
            var carries: UInt32 = 0
            for i in start..<end { carries |= (bits[i] & 0x7F80_0000) &+ 0x0080_0000 }
            if carries & 0x8000_0000 != 0 { return true }
            start = end
        }
        return false
    }

    // MARK: Bit-level rounding

    /// Rounds the fp32 bit pattern `u` to keep `23 − droppedBits` mantissa bits (RNE); NaN stays quiet NaN.
    ///
    /// Adding half an ulp minus one, plus the lowest kept bit, and truncating is round-to-nearest-even;
    /// a carry out of the mantissa moves into the exponent, which also turns the largest values into
    /// infinity and rounds fp32 subnormals correctly.
    @inlinable @inline(__always)
    static func roundMantissa(_ u: UInt32, droppedBits: UInt32) -> UInt32 {
        let half = (UInt32(1) << (droppedBits - 1)) - 1
        let keep = ~((UInt32(1) << droppedBits) - 1)
        let rounded = (u &+ half &+ ((u >> droppedBits) & 1)) & keep
        let quietNaN = (u | 0x0040_0000) & keep
        let isNaN = Int32(bitPattern: u & 0x7FFF_FFFF) > 0x7F80_0000
        return isNaN ? quietNaN : rounded
    }

    /// Rounds the fp32 bit pattern `u` to the nearest binary16 value, returned as an fp32 bit pattern.
    ///
    /// Normal range: 10 mantissa bits (as tf32). Below 2^-14 the spacing is fixed at 2^-24, so adding
    /// and subtracting 0.5 (whose fp32 ulp is 2^-24) rounds to it with the hardware's RNE. At and above
    /// 65520 — halfway between 65504 and 2^16, a tie that goes to the even 2^16 — the result is infinity.
    @inlinable @inline(__always)
    static func roundHalf(_ u: UInt32) -> UInt32 {
        roundNarrow(u, droppedBits: 13, smallestNormal: 0x3880_0000, subnormalStep: 0.5, overflow: 0x477F_F000, overflowValue: 0x7F80_0000)
    }

    /// Rounds the fp32 bit pattern `u` to the nearest E4M3 value (RNE), as an fp32 bit pattern.
    ///
    /// Normal range (from 2^-6): 3 mantissa bits. Below, the spacing is fixed at 2^-9, so adding and
    /// subtracting 2^14 (whose fp32 ulp is 2^-9) rounds to it with the hardware's RNE. From 464 —
    /// halfway between 448 and the 480 the format lacks — and for infinities the result is NaN.
    @inlinable @inline(__always)
    static func roundE4M3(_ u: UInt32) -> UInt32 {
        roundNarrow(u, droppedBits: 20, smallestNormal: 0x3C80_0000, subnormalStep: 16384, overflow: 0x43E8_0000, overflowValue: 0x7FC0_0000)
    }

    /// Narrowing to a format with fewer exponent bits: `23 − droppedBits` mantissa bits from the
    /// bit pattern `smallestNormal` up; below it a fixed spacing, reached by adding and subtracting
    /// `subnormalStep` (whose fp32 ulp is that spacing); `overflowValue` from the bit pattern
    /// `overflow` up; NaN stays a quiet NaN.
    @inlinable @inline(__always)
    static func roundNarrow(_ u: UInt32, droppedBits: UInt32, smallestNormal: Int32, subnormalStep: Float,
                            overflow: Int32, overflowValue: UInt32) -> UInt32 {
        let sign = u & 0x8000_0000
        let magnitude = u & 0x7FFF_FFFF
        let keep = ~((UInt32(1) << droppedBits) - 1)
        let normal = (magnitude &+ ((UInt32(1) << (droppedBits - 1)) - 1) &+ ((magnitude >> droppedBits) & 1)) & keep
        let tiny = ((Float(bitPattern: magnitude) + subnormalStep) - subnormalStep).bitPattern
        let m = Int32(bitPattern: magnitude)
        var result = m < smallestNormal ? tiny : normal
        result = m >= overflow ? overflowValue : result
        result = m > 0x7F80_0000 ? (magnitude | 0x0040_0000) & keep : result
        return sign | result
    }

    private static func roundBits(_ bits: UnsafeMutablePointer<UInt32>, count: Int, format: FloatFormat) {
        switch format {
        case .fp32: return
        case .tf32: for i in 0..<count { bits[i] = roundMantissa(bits[i], droppedBits: 13) }
        case .bf16: for i in 0..<count { bits[i] = roundMantissa(bits[i], droppedBits: 16) }
        case .fp16: for i in 0..<count { bits[i] = roundHalf(bits[i]) }
        case .fp8: for i in 0..<count { bits[i] = roundE4M3(bits[i]) }
        }
    }
}

/// An unknown format name in a config file is a `ConfigError` listing the valid ones.
extension FloatFormat: NamedChoice {}

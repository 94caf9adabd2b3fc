/// A seeded pseudo-random generator: xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64.
///
/// Every random choice in autotune flows from one of these, never from the system generator, so a
/// run replays bit for bit from its seed.
///
///     var rng = RandomSource(seed: 42)
///     let u = rng.nextFloat()          // uniform in [0, 1)
///     let z = rng.nextNormal()         // standard normal
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// An independent stream derived from this seed and a label (e.g. a layer index or an epoch).
    public static func derived(seed: UInt64, stream: UInt64) -> RandomSource {
        RandomSource(seed: seed &* 0x2545_F491_4F6C_DD1D &+ stream &* 0x9E37_79B9_7F4A_7C15 &+ 1)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift; bias below 2^-32 for bounds used here).
    @inline(__always)
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(((next() >> 32) &* UInt64(bound)) >> 32)
    }

    /// Standard normal by the Box–Muller transform.
    public mutating func nextNormal() -> Float {
        var u1 = nextDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = nextDouble()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Fisher–Yates shuffle, identical on every platform and toolchain.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }

import Engine

/// Seeded random inputs the int8 tests share.
enum RandomFixtures {
    /// int8 codes over the whole range, -128 and 127 included.
    static func codes(_ count: Int, _ rng: inout RandomSource) -> [Int8] {
        (0..<count).map { _ in Int8(rng.nextInt(below: 256) - 128) }
    }

    /// Values uniform in [-1, 1).
    static func values(_ count: Int, _ rng: inout RandomSource) -> [Float] {
        (0..<count).map { _ in 2 * rng.nextFloat() - 1 }
    }
}

import Engine

/// Uniform crossover for a categorical variable: the child takes either parent's option with
/// probability ½ (Syswerda 1989).
///
///     var rng = RandomSource(seed: 1)
///     UniformCrossover().cross(2, 0, using: &rng)   // 2 or 0
public struct UniformCrossover: Hashable, Sendable {
    public init() {}

    public func cross(_ a: Double, _ b: Double, using rng: inout RandomSource) -> Double {
        rng.nextDouble() < 0.5 ? a : b
    }
}

/// Random-reset mutation for a categorical variable: with `probability` the option is replaced by
/// a different one drawn uniformly from the others.
///
///     var rng = RandomSource(seed: 1)
///     RandomReset(probability: 1).mutate(1, options: 3, using: &rng)   // 0 or 2
public struct RandomReset: Hashable, Sendable {
    public var probability: Double

    public init(probability: Double) { self.probability = probability }

    /// The new option index, or nil when the variable was left alone (or has a single option).
    public func mutate(_ option: Double, options: Int, using rng: inout RandomSource) -> Double? {
        guard options > 1, rng.nextDouble() < probability else { return nil }
        return RandomReset.otherOption(than: option, options: options, using: &rng)
    }

    /// An option index other than `option`, uniformly among the `options − 1` others.
    public static func otherOption(than option: Double, options: Int, using rng: inout RandomSource) -> Double {
        let k = rng.nextInt(below: options - 1)
        return Double(k >= Int(option) ? k + 1 : k)
    }
}

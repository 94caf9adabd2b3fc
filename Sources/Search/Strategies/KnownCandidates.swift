import Engine

/// The candidates told to a strategy, by their active values, so it can avoid proposing one that
/// was already evaluated. Two configurations that differ only in inactive (carried) values are
/// the same candidate.
///
///     var known = KnownCandidates(space: space)
///     known.insert(configuration)
///     known.contains(configuration)   // true
struct KnownCandidates {
    let space: SearchSpace
    private var keys: Set<[Double]> = []

    init(space: SearchSpace) { self.space = space }

    /// The active values, with +∞ where a dimension is inactive.
    func key(_ configuration: Configuration) -> [Double] {
        configuration.values.indices.map { space.isActive($0, in: configuration) ? configuration.values[$0] : .infinity }
    }

    func contains(_ configuration: Configuration) -> Bool { keys.contains(key(configuration)) }

    mutating func insert(_ configuration: Configuration) { keys.insert(key(configuration)) }

    /// A draw from the prior that is not known yet, giving up after `attempts` draws (and
    /// returning the last) when the space is small or nearly used up.
    func sample(using rng: inout RandomSource, attempts: Int = 8) -> Configuration {
        var candidate = space.sample(using: &rng)
        var tries = 1
        while tries < attempts, contains(candidate) {
            candidate = space.sample(using: &rng)
            tries += 1
        }
        return candidate
    }
}

extension TrialResult {
    /// Whether a strategy can rank this result: it has `objectives` finite values and a value for
    /// each of the space's `dimensions` (anything else told from outside is ignored for ranking).
    func isRankable(objectives: Int, dimensions: Int) -> Bool {
        hasObjectives && self.objectives.count == objectives && self.objectives.allSatisfy(\.isFinite)
            && violation.isFinite && configuration.values.count == dimensions
    }
}

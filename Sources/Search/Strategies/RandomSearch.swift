import Engine

/// Independent draws from the prior: the baseline every other strategy has to beat
/// (Bergstra & Bengio 2012).
public final class RandomSearch: Strategy {
    public let space: SearchSpace
    let seed: UInt64

    public init(space: SearchSpace, seed: UInt64) {
        self.space = space; self.seed = seed
    }

    public func ask(number: Int) throws -> Configuration {
        var rng = RandomSource.derived(seed: seed, stream: UInt64(number))
        return space.sample(using: &rng)
    }

    public func tell(_ result: TrialResult) {}
}

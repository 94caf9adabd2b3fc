import Engine

/// Regularized (aging) evolution (Real, Aggarwal, Huang & Le 2019): tournament selection over a
/// population that is always the most recently told results, and one mutation per child.
///
/// Until `population` results with objectives have been told, trials are drawn from the prior.
/// After that the population is the last `population` of them in the order they were told (the
/// oldest leaves first, whatever its score: that is the aging); trial n samples `sample` members
/// at random, takes the best — with one objective the smallest value, with several the lowest
/// non-dominated rank within the sample and then the largest crowding distance, infeasible results
/// ranked by Deb's constrained domination — and proposes a copy with `mutations` active dimensions
/// changed:
/// - a choice takes a different option, uniformly;
/// - an integer, quantised or real dimension moves by a Gaussian step of deviation `sigma` in its
///   unit interval, clamped to [0, 1]; a finite domain moves at least one value, so an integer
///   steps by ±1 up to about ±sigma·(its number of values).
///
/// When a mutated choice wakes up the dimensions under its new option, they keep the values the
/// configuration carried for them (drawn from the prior with its ancestors, or inherited from an
/// ancestor that used that option), so a lineage that returns to an option finds its old settings.
/// A child equal to an already told candidate is replaced by another tournament's (a few times at
/// most).
///
///     let evolution = RegularizedEvolution(space: space, objectives: 1, seed: 7)
///     let configuration = try evolution.ask(number: 0)
public final class RegularizedEvolution: Strategy {
    public struct Options: Hashable, Sendable {
        /// Results the population holds (P).
        public var population: Int
        /// Tournament size (S), at most P.
        public var sample: Int
        /// Deviation of a numeric mutation's step in unit space.
        public var sigma: Double
        /// Active dimensions one mutation changes.
        public var mutations: Int

        public init(population: Int = 20, sample: Int = 5, sigma: Double = 0.1, mutations: Int = 1) {
            self.population = population; self.sample = sample; self.sigma = sigma; self.mutations = mutations
        }
    }

    public let space: SearchSpace
    public let objectives: Int
    public let options: Options
    let seed: UInt64
    /// Results with objectives, in told order (the population is the last P; older ones are let go).
    private var history: [TrialResult] = []
    private var known: KnownCandidates
    /// Mutation attempts before a duplicate child is accepted.
    static let attempts = 8

    public init(space: SearchSpace, objectives: Int, seed: UInt64, options: Options = Options()) {
        precondition(options.population >= 1 && (1...options.population).contains(options.sample),
                     "sample \(options.sample) for a population of \(options.population)")
        self.space = space; self.objectives = objectives; self.seed = seed; self.options = options
        known = KnownCandidates(space: space)
    }

    public func ask(number: Int) throws -> Configuration {
        var rng = RandomSource.derived(seed: seed, stream: UInt64(truncatingIfNeeded: number))
        guard history.count >= options.population else { return known.sample(using: &rng) }
        let population = Array(history.suffix(options.population))
        var child = offspring(of: population, using: &rng)
        var tries = 1
        while tries < RegularizedEvolution.attempts, known.contains(child) {
            child = offspring(of: population, using: &rng)
            tries += 1
        }
        return child
    }

    /// A mutated copy of the winner of one tournament of `sample` distinct members.
    private func offspring(of population: [TrialResult], using rng: inout RandomSource) -> Configuration {
        var members = Array(population.indices)
        var sampled: [TrialResult] = []
        for k in 0..<options.sample {                         // partial Fisher–Yates: S distinct members
            let j = k + rng.nextInt(below: members.count - k)
            members.swapAt(k, j)
            sampled.append(population[members[k]])
        }
        return mutate(sampled[RegularizedEvolution.best(of: sampled)].configuration, using: &rng)
    }

    public func tell(_ result: TrialResult) {
        guard result.configuration.values.count == space.dimensions.count else { return }
        known.insert(result.configuration)
        guard result.isRankable(objectives: objectives, dimensions: space.dimensions.count) else { return }
        history.append(result)
        if history.count >= 2 * options.population { history.removeFirst(history.count - options.population) }
    }

    /// Index of the tournament winner: lowest constrained non-dominated rank, then largest crowding
    /// distance, then the first drawn.
    static func best(of sample: [TrialResult]) -> Int {
        let ranked = RankedPoints(sample.map(\.objectives), violations: sample.map(\.violation))
        var winner = 0
        for i in sample.indices.dropFirst() where ranked.prefers(i, over: winner) { winner = i }
        return winner
    }

    /// `parent` with `mutations` distinct active dimensions changed.
    func mutate(_ parent: Configuration, using rng: inout RandomSource) -> Configuration {
        var candidates = space.activeDimensions(in: parent).filter { RegularizedEvolution.canChange(space.dimensions[$0].domain) }
        guard !candidates.isEmpty else { return parent }
        let k = min(options.mutations, candidates.count)
        for i in 0..<k { candidates.swapAt(i, i + rng.nextInt(below: candidates.count - i)) }
        var child = parent
        for d in candidates.prefix(k).sorted() {
            child.values[d] = mutate(child.values[d], in: space.dimensions[d].domain, using: &rng)
        }
        return child
    }

    /// A different value of `domain` near `value` (any other option for a choice).
    func mutate(_ value: Double, in domain: Domain, using rng: inout RandomSource) -> Double {
        if case .choice(let options) = domain {
            return RandomReset.otherOption(than: value, options: options.count, using: &rng)
        }
        let u = domain.unit(of: value)
        for _ in 0..<4 {
            let moved = domain.value(atUnit: min(max(u + options.sigma * Double(rng.nextNormal()), 0), 1))
            if moved != value { return moved }
        }
        guard let n = domain.cardinality, n > 1 else { return value }
        var step = (rng.nextDouble() < 0.5 ? -1.0 : 1.0) / Double(n)   // one value up or down, away from a bound
        if u + step < 0 || u + step > 1 { step = -step }
        return domain.value(atUnit: u + step)
    }

    /// Whether a dimension has more than one value to move to.
    static func canChange(_ domain: Domain) -> Bool {
        if let n = domain.cardinality { return n > 1 }
        if case .real(let p) = domain, case .uniform(let lo, let hi) = p.shape { return hi > lo }
        return true
    }
}

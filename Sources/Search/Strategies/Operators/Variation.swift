import Engine

/// How two parent configurations make a child: crossover dimension by dimension, then mutation of
/// the child's active dimensions (Deb et al. 2002's operators, extended to mixed and conditional
/// spaces). Shared by NSGA-II and SMS-EMOA.
///
/// Reals, integers and quantised reals are crossed with SBX and mutated polynomially in their unit
/// intervals (the domain rounds the result); choices take uniform crossover and random reset.
/// Crossover covers the whole configuration, inactive values included, except that a dimension
/// active in one parent only is taken from that parent, so a child inheriting a choice inherits
/// the settings that went with it.
///
///     let variation = Variation(space: space, crossoverProbability: 0.9, crossover: SimulatedBinaryCrossover(eta: 15),
///                               mutation: PolynomialMutation(eta: 20, probability: 0.1))
///     let child = variation.child(of: a, and: b, using: &rng)
public struct Variation: Sendable {
    public let space: SearchSpace
    /// Probability that a child is bred by crossover (else it starts as a copy of its first parent).
    public var crossoverProbability: Double
    public var crossover: SimulatedBinaryCrossover
    public var mutation: PolynomialMutation

    public init(space: SearchSpace, crossoverProbability: Double, crossover: SimulatedBinaryCrossover, mutation: PolynomialMutation) {
        self.space = space; self.crossoverProbability = crossoverProbability
        self.crossover = crossover; self.mutation = mutation
    }

    /// The operators' settings as strategies take them from their options.
    public struct Settings: Hashable, Sendable {
        /// Probability that a child is bred by crossover (else it copies its first parent).
        public var crossoverProbability: Double
        /// SBX distribution index η_c.
        public var crossoverEta: Double
        /// Polynomial mutation distribution index η_m.
        public var mutationEta: Double
        /// Per-dimension mutation probability; nil: 1 / number of dimensions.
        public var mutationProbability: Double?

        public init(crossoverProbability: Double, crossoverEta: Double, mutationEta: Double, mutationProbability: Double? = nil) {
            self.crossoverProbability = crossoverProbability; self.crossoverEta = crossoverEta
            self.mutationEta = mutationEta; self.mutationProbability = mutationProbability
        }
    }

    /// SBX and polynomial mutation with `settings` on `space`.
    public init(space: SearchSpace, settings: Settings) {
        self.init(space: space, crossoverProbability: settings.crossoverProbability,
                  crossover: SimulatedBinaryCrossover(eta: settings.crossoverEta),
                  mutation: PolynomialMutation(eta: settings.mutationEta,
                                               probability: settings.mutationProbability ?? 1 / Double(max(space.dimensions.count, 1))))
    }

    /// A child of `a` and `b`.
    public func child(of a: Configuration, and b: Configuration, using rng: inout RandomSource) -> Configuration {
        var child = a
        if rng.nextDouble() < crossoverProbability {
            for (i, d) in space.dimensions.enumerated() {
                let inA = space.isActive(i, in: a), inB = space.isActive(i, in: b)
                if inA != inB {
                    child.values[i] = inA ? a.values[i] : b.values[i]
                } else if d.domain.isCategorical {
                    child.values[i] = UniformCrossover().cross(a.values[i], b.values[i], using: &rng)
                } else {
                    let ua = d.domain.unit(of: a.values[i])
                    let (u, _) = crossover.cross(ua, d.domain.unit(of: b.values[i]), using: &rng)
                    if u != ua { child.values[i] = d.domain.value(atUnit: u) }
                }
            }
        }
        let reset = RandomReset(probability: mutation.probability)
        for (i, d) in space.dimensions.enumerated() where space.isActive(i, in: child) {
            if case .choice(let options) = d.domain {
                if let o = reset.mutate(child.values[i], options: options.count, using: &rng) { child.values[i] = o }
            } else if let u = mutation.mutate(d.domain.unit(of: child.values[i]), using: &rng) {
                child.values[i] = d.domain.value(atUnit: u)
            }
        }
        return child
    }
}

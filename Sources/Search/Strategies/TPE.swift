import Foundation
import Engine

/// The tree-structured Parzen estimator (Bergstra et al. 2011) with the components Watanabe 2023
/// found to work across benchmarks, and MOTPE for several objectives (Ozaki et al. 2022).
///
/// Until `startup` results are known, trials are drawn from the prior. Then trial n splits the
/// results into the γ good ones, `ceil(gamma · n)` capped at `maxGood` (`TPESplit`: by value, or
/// by non-dominated rank and hypervolume contribution for several objectives; infeasible results
/// after feasible ones), fits a multivariate `ParzenEstimator` l to the good and g to the rest,
/// draws `candidates` points from l and proposes the one maximising l(x)/g(x).
///
/// Conditional spaces are decomposed into groups of dimensions active together: first the
/// unconditional dimensions are proposed jointly, then the dimensions the chosen options wake,
/// each group modelled only on the results in which it was active — so the kernel of an mlp's
/// depth never mixes with that of a cnn's kernel size. Dimensions left inactive carry a draw from
/// the prior.
///
/// In a space without conditional dimensions, a candidate already asked or told is not proposed
/// again while l offers another (then a prior draw not yet known is taken): in a finite space,
/// such as a table of hyper-parameter levels, the best region is otherwise proposed over and over.
///
/// With several workers, a trial asked but not yet told is a constant liar (Ginsbourger et al.
/// 2010): it joins the bad observations, so parallel asks spread out instead of piling on one
/// mode. A resumed study has no pending trials, so it proposes what a sequential run would.
///
///     let tpe = TPE(space: space, objectives: 1, seed: 7)
///     let c = try tpe.ask(number: 0)
///     tpe.tell(TrialResult(number: 0, configuration: c, outcome: .complete, objectives: [0.3]))
public final class TPE: Strategy {
    public struct Options: Hashable, Sendable {
        /// Results known before the model replaces the prior.
        public var startup: Int
        /// Candidates drawn from l per proposal.
        public var candidates: Int
        /// Fraction γ of the results that are good.
        public var gamma: Double
        /// Most good results.
        public var maxGood: Int
        /// Weight of each estimator's prior component (each observation weighs 1).
        public var priorWeight: Double
        /// Whether pending trials count as bad observations (constant liar).
        public var constantLiar: Bool
        /// The newest observations of each estimator that weigh 1; older ones weigh less the older
        /// they are (`forgettingWeights`). 0: every observation weighs 1.
        public var recent: Int
        /// The smallest numeric bandwidth (a numeric dimension of finitely many values is also
        /// kept at or above the magic clip, see `ParzenEstimator.bandwidths`).
        public var minimumBandwidth: Double

        public init(startup: Int = 10, candidates: Int = 24, gamma: Double = 0.1, maxGood: Int = 25,
                    priorWeight: Double = 1, constantLiar: Bool = true, recent: Int = 25, minimumBandwidth: Double = 0.01) {
            self.startup = startup; self.candidates = candidates; self.gamma = gamma; self.maxGood = maxGood
            self.priorWeight = priorWeight; self.constantLiar = constantLiar
            self.recent = recent; self.minimumBandwidth = minimumBandwidth
        }
    }

    public let space: SearchSpace
    public let objectives: Int
    public let options: Options
    let seed: UInt64
    private let kinds: [ParzenEstimator.Kind]
    /// Numeric dimensions with finitely many values (integers, quantised reals): magic-clipped.
    private let finite: [Bool]
    /// Results with objectives (feasible or not), in told order.
    private var results: [TrialResult] = []
    /// Trials asked and not yet told.
    private var pending: [Int: Configuration] = [:]
    /// Candidates asked or told, to avoid proposing one twice (spaces without conditions only).
    private var known: KnownCandidates
    private let conditional: Bool
    private let lock = NSLock()

    public init(space: SearchSpace, objectives: Int, seed: UInt64, options: Options = Options()) {
        self.space = space; self.objectives = objectives; self.seed = seed; self.options = options
        kinds = space.dimensions.map { d in
            if case .choice(let o) = d.domain { return .categorical(options: o.count) }
            return .numeric
        }
        finite = space.dimensions.map { !$0.domain.isCategorical && $0.domain.cardinality != nil }
        known = KnownCandidates(space: space)
        conditional = space.dimensions.contains { $0.condition != nil }
    }

    /// The number of good results among `n` observations.
    func goodCount(_ n: Int) -> Int {
        Swift.max(1, Swift.min(options.maxGood, Int((options.gamma * Double(n)).rounded(.up))))
    }

    public func ask(number: Int) throws -> Configuration {
        lock.lock(); defer { lock.unlock() }
        var rng = RandomSource.derived(seed: seed, stream: UInt64(truncatingIfNeeded: number))
        var configuration = space.sample(using: &rng)
        var decided = [Bool](repeating: false, count: space.dimensions.count)
        while true {
            let group = space.dimensions.indices.filter { i in
                !decided[i] && (space.dimensions[i].condition.map { decided[$0.parent] } ?? true)
                    && space.isActive(i, in: configuration)
            }
            if group.isEmpty { break }
            if let values = propose(group, excluding: number, base: configuration, using: &rng) {
                for (i, v) in zip(group, values) { configuration.values[i] = value(of: i, coordinate: v) }
            }
            for i in group { decided[i] = true }
        }
        if !conditional, known.contains(configuration) { configuration = known.sample(using: &rng) }
        if options.constantLiar { pending[number] = configuration }
        if !conditional { known.insert(configuration) }
        return configuration
    }

    public func tell(_ result: TrialResult) {
        lock.lock(); defer { lock.unlock() }
        pending[result.number] = nil
        if !conditional, result.configuration.values.count == space.dimensions.count { known.insert(result.configuration) }
        guard result.isRankable(objectives: objectives, dimensions: space.dimensions.count) else { return }
        results.append(result)
    }

    /// The coordinates (see `ParzenEstimator`) of the group proposed by l/g, or nil while fewer than
    /// `startup` results have the group active (the prior's draw stays).
    private func propose(_ group: [Int], excluding number: Int, base: Configuration, using rng: inout RandomSource) -> [Double]? {
        let observed = results.filter { r in group.allSatisfy { space.isActive($0, in: r.configuration) } }
        guard observed.count >= Swift.max(options.startup, 1) else { return nil }
        let good = Set(TPESplit.good(observed.map(\.objectives), violations: observed.map(\.violation),
                                     count: goodCount(observed.count)))
        var below: [[Double]] = [], above: [[Double]] = []
        for (k, r) in observed.enumerated() {
            let x = coordinates(group, r.configuration)
            if good.contains(k) { below.append(x) } else { above.append(x) }
        }
        // Constant liar: pending trials, in number order so the model does not depend on the
        // dictionary's order.
        for n in pending.keys.sorted() where n != number {
            let c = pending[n]!
            if group.allSatisfy({ space.isActive($0, in: c) }) { above.append(coordinates(group, c)) }
        }
        let groupKinds = group.map { kinds[$0] }
        let clipped = Set(group.indices.filter { finite[group[$0]] })
        // Observations are in told order, the pending ones last: the newest are at the end.
        let l = ParzenEstimator(kinds: groupKinds, centres: below,
                                bandwidths: ParzenEstimator.bandwidths(kinds: groupKinds, centres: below, minimum: options.minimumBandwidth, clipped: clipped),
                                priorWeight: options.priorWeight, weights: TPE.forgettingWeights(below.count, recent: options.recent))
        let g = ParzenEstimator(kinds: groupKinds, centres: above,
                                bandwidths: ParzenEstimator.bandwidths(kinds: groupKinds, centres: above, minimum: options.minimumBandwidth, clipped: clipped),
                                priorWeight: options.priorWeight, weights: TPE.forgettingWeights(above.count, recent: options.recent))
        var best: [Double] = [], bestScore = -Double.infinity, bestIsKnown = true
        for _ in 0..<Swift.max(options.candidates, 1) {
            let x = l.sample(using: &rng)
            var isKnown = false
            if !conditional {
                var c = base
                for (i, v) in zip(group, x) { c.values[i] = value(of: i, coordinate: v) }
                isKnown = known.contains(c)
            }
            let score = l.logDensity(x) - g.logDensity(x)
            // An unknown candidate beats a known one; among equals, the higher l/g.
            if best.isEmpty || (bestIsKnown && !isKnown) || (isKnown == bestIsKnown && score > bestScore) {
                best = x; bestScore = score; bestIsKnown = isKnown
            }
        }
        return best
    }

    /// The weights of `n` observations in the order they were told, hyperopt's linear forgetting
    /// (Bergstra, Yamins & Cox 2013): the newest `recent` weigh 1 and the n − recent older ones
    /// rise evenly from 1/n (the oldest) to 1; nil (all 1) when n ≤ recent or recent is 0.
    ///
    ///     TPE.forgettingWeights(4, recent: 2)   // [0.25, 1, 1, 1]
    ///     TPE.forgettingWeights(5, recent: 2)   // [0.2, 0.6, 1, 1, 1]
    static func forgettingWeights(_ n: Int, recent: Int) -> [Double]? {
        guard recent > 0, n > recent else { return nil }
        let older = n - recent, first = 1 / Double(n)
        let ramp = (0..<older).map { k in older == 1 ? first : first + (1 - first) * Double(k) / Double(older - 1) }
        return ramp + [Double](repeating: 1, count: recent)
    }

    /// The estimator's coordinates of `configuration` on `group`: option indices for choices,
    /// unit coordinates otherwise.
    private func coordinates(_ group: [Int], _ configuration: Configuration) -> [Double] {
        group.map { i in
            if case .categorical = kinds[i] { return configuration.values[i] }
            return space.dimensions[i].domain.unit(of: configuration.values[i])
        }
    }

    private func value(of i: Int, coordinate: Double) -> Double {
        if case .categorical = kinds[i] { return coordinate }
        return space.dimensions[i].domain.value(atUnit: coordinate)
    }
}

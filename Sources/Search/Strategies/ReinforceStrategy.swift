import Foundation
import Engine

/// Policy-gradient search: a policy over the space's decisions, trained by PPO (Schulman et al.
/// 2017; the NAS controller of Zoph et al. 2018) or REINFORCE (Williams 1992; Zoph & Le 2017,
/// ENAS, Pham et al. 2018), with rewards shaped by rank so few trials teach it.
///
/// The policy has two parts. Choices, and numeric dimensions with at most `bins` values, are
/// discrete decisions of an autoregressive network (`PolicyNetwork`), sampled in dimension order,
/// each conditioned on the decisions already made. Every other numeric dimension is drawn from a
/// Gaussian over its unit coordinate whose mean and deviation are learned per dimension
/// (`GaussianPolicy`); with `"numeric": "bins"` it is instead cut into `bins` cells the network
/// chooses among (`DecisionCoding`). An inactive dimension is skipped and carries a fixed value
/// (the first value of a finite domain, the median of a continuous one).
///
/// Learning happens per batch of `batch` episodes. Each batch is ranked — by value for one
/// objective, by an augmented Chebyshev scalarisation under one random simplex weight vector per
/// batch for several (ParEGO's, Knowles 2006); feasible before infeasible (by violation) before
/// failed — together with the `elite` best results told before it (elite replay: the best
/// episodes so far are learned from again, as priority-queue training keeps its top-K, Abolafia
/// et al. 2018), and each episode's advantage is its fitness-shaping utility (`rankUtilities`,
/// Wierstra et al. 2014), so only the order of the results matters, never their scale. The
/// Gaussian takes one natural-gradient step on the utilities (SNES, Schaul et al. 2011). With PPO
/// (the default), the network takes `epochs` Adam steps on the clipped surrogate with those
/// advantages normalised over the batch (`proximalPolicyUpdate`), each episode's old
/// log-probability being the one the network gave it when told. With REINFORCE, the network
/// instead takes one Adam step per told result on −A·Σⱼ log π(aⱼ | a₍<ⱼ₎) − β·Σⱼ H(πⱼ), with
/// A = r − b, r the result's centred rank in [−1, 1] among all results so far (`RankedRewards`)
/// and b ← decay·b + (1 − decay)·r a moving-average baseline from b = 0. β halves every
/// `entropy_half_life` trials (the entropy schedule). A pruned result counts with the objectives
/// of its last rung.
///
/// Every result is learned from its configuration alone — the decisions and unit coordinates
/// that produce it — so results of trials other workers ran, or a resumed study's history, teach
/// the policy as much as its own.
///
///     let strategy = try ReinforceStrategy(space: space, objectives: 1, seed: 7)
///     let c = try strategy.ask(number: 0)
///     strategy.tell(TrialResult(number: 0, configuration: c, outcome: .complete, objectives: [0.3]))
///
/// The initial weights come from the seed; the draws of trial n from
/// `RandomSource.derived(seed:stream: n)`, so the same seed and the same tells give the same asks.
public final class ReinforceStrategy: Strategy {
    public let space: SearchSpace
    public let options: ReinforceOptions
    /// Objectives each result carries (all minimised).
    public let objectives: Int
    let seed: UInt64
    let codings: [DecisionCoding]
    /// Per dimension: its index among the network's decisions, nil when the Gaussian draws it.
    let decisionIndex: [Int?]
    /// Per dimension: its index in the Gaussian policy, nil when the network decides it.
    let gaussianIndex: [Int?]
    /// Nil when no dimension is a discrete decision.
    let policy: PolicyNetwork?
    /// The Gaussian part of the policy (no dimensions when the network decides everything).
    private(set) var gaussian: GaussianPolicy
    private let deviationRate: Double
    private var rewards: RankedRewards
    /// The moving-average baseline b (REINFORCE).
    public private(set) var baseline = 0.0
    /// Results the policy has learned from.
    public private(set) var updates = 0
    /// Batch updates made.
    public private(set) var batches = 0
    /// Episodes waiting for the next update.
    private var batch: [Episode] = []
    /// Episodes of earlier batches, for elite replay.
    private var history: [Episode] = []
    private let lock = NSLock()

    /// One told result as the policy learns from it.
    struct Episode {
        /// The network's decisions (nil where inactive).
        var decisions: [Int?]
        /// log π(aⱼ | a₍<ⱼ₎) of each active decision under the network when it was told.
        var oldLogProbabilities: [Double]
        /// The Gaussian dimensions' unit coordinates (nil where inactive).
        var coordinates: [Double?]
        var result: TrialResult
    }

    /// - Throws: `ConfigError` when an option is out of range for `objectives` objectives.
    public init(space: SearchSpace, objectives: Int, options: ReinforceOptions = ReinforceOptions(), seed: UInt64) throws {
        try options.validate(objectives: objectives)
        self.space = space
        self.options = options
        self.objectives = objectives
        self.seed = seed
        codings = space.dimensions.map { DecisionCoding(domain: $0.domain, bins: options.bins) }
        var decisionIndex: [Int?] = [], gaussianIndex: [Int?] = [], classes: [Int] = [], gaussians = 0
        var floors: [Double] = []
        for (dimension, coding) in zip(space.dimensions, codings) {
            let enumerated = dimension.domain.isCategorical || (dimension.domain.cardinality.map { $0 <= options.bins } ?? false)
            if options.numeric == .gaussian, !enumerated {
                gaussianIndex.append(gaussians); decisionIndex.append(nil); gaussians += 1
                // Half a cell of a finite domain (see `GaussianPolicy.init(mean:logDeviation:minimumDeviation:)`).
                floors.append(dimension.domain.cardinality.map { 0.5 / Double($0) } ?? GaussianPolicy.continuousMinimumDeviation)
            } else {
                decisionIndex.append(classes.count); gaussianIndex.append(nil); classes.append(coding.classes)
            }
        }
        self.decisionIndex = decisionIndex
        self.gaussianIndex = gaussianIndex
        policy = classes.isEmpty ? nil : PolicyNetwork(classes: classes, hidden: options.hidden, seed: seed)
        gaussian = GaussianPolicy(dimensions: gaussians, deviation: options.deviation, minimumDeviation: floors)
        deviationRate = options.deviationRate ?? GaussianPolicy.defaultDeviationRate(dimensions: gaussians)
        rewards = RankedRewards(scalarization: objectives == 1 ? .single : options.reward, objectives: objectives)
    }

    /// The strategy a space file asks for: options from `spec.options` (see `ReinforceOptions`).
    /// - Throws: `ConfigError` at `strategy.<option>` for a bad or unknown option.
    public static func make(spec: StrategySpec, space: SearchSpace, objectives: Int, seed: UInt64) throws -> ReinforceStrategy {
        try ReinforceStrategy(space: space, objectives: objectives,
                              options: ReinforceOptions(parsing: spec.options, objectives: objectives), seed: seed)
    }

    public func ask(number: Int) throws -> Configuration {
        lock.lock(); defer { lock.unlock() }
        var configuration = Configuration(codings.map(\.fixedValue))
        var rng = RandomSource.derived(seed: seed, stream: UInt64(truncatingIfNeeded: number))
        var state = policy?.emptyState() ?? []
        for i in codings.indices where space.isActive(i, in: configuration) {
            if let g = gaussianIndex[i] {
                configuration.values[i] = space.dimensions[i].domain.value(atUnit: gaussian.sample(g, using: &rng))
            } else if let j = decisionIndex[i], let policy {
                let k = draw(policy.probabilities(of: j, state: state), using: &rng)
                policy.set(j, choice: k, in: &state)
                configuration.values[i] = codings[i].value(of: k, using: &rng)
            }
        }
        return configuration
    }

    public func tell(_ result: TrialResult) {
        lock.lock(); defer { lock.unlock() }
        guard let parts = episodeParts(of: result.configuration) else { return }
        var rng = RandomSource.derived(seed: seed ^ ReinforceStrategy.weightSalt, stream: UInt64(truncatingIfNeeded: result.number))
        let weights = uniformSimplexWeights(count: objectives, using: &rng)
        let reward = rewards.reward(for: result, weights: weights)
        let advantage = reward - baseline
        baseline = options.baselineDecay * baseline + (1 - options.baselineDecay) * reward
        if options.algorithm == .reinforce, let policy, parts.decisions.contains(where: { $0 != nil }) {
            policy.reinforce(parts.decisions, advantage: advantage, entropyWeight: options.entropyWeight(afterTrials: updates),
                             learningRate: Float(options.learningRate))
        }
        batch.append(Episode(decisions: parts.decisions, oldLogProbabilities: policy?.decisionLogProbabilities(parts.decisions) ?? [],
                             coordinates: parts.coordinates, result: result))
        updates += 1
        if batch.count >= options.batch { learnFromBatch() }
    }

    /// Rank the batch with the elite of earlier batches, then step the Gaussian and (PPO) the
    /// network on the utilities.
    private func learnFromBatch() {
        var rng = RandomSource.derived(seed: seed ^ ReinforceStrategy.batchSalt, stream: UInt64(batches))
        let weights = uniformSimplexWeights(count: objectives, using: &rng)
        var members = batch
        if options.elite > 0, !history.isEmpty {
            let past = rewards.batchRewards(history.map(\.result), weights: weights)
            let best = history.indices.sorted { past[$0] != past[$1] ? past[$0] > past[$1] : $0 < $1 }.prefix(options.elite)
            for k in best {
                var episode = history[k]
                // Replayed as if drawn by the network as it is now (ratio 1 at the first epoch).
                episode.oldLogProbabilities = policy?.decisionLogProbabilities(episode.decisions) ?? []
                members.append(episode)
            }
        }
        let utilities = rankUtilities(rewards.batchRewards(members.map(\.result), weights: weights))
        if !gaussian.mean.isEmpty {
            gaussian.update(members.map(\.coordinates), utilities: utilities, meanRate: options.meanRate, deviationRate: deviationRate)
        }
        if options.algorithm == .ppo, let policy {
            let episodes = zip(members, utilities).compactMap { episode, u -> PolicyEpisode? in
                episode.decisions.contains { $0 != nil }
                    ? PolicyEpisode(decisions: episode.decisions, oldLogProbabilities: episode.oldLogProbabilities, advantage: u) : nil
            }
            proximalPolicyUpdate(policy, episodes: episodes, epochs: options.epochs, clip: options.clip,
                                 entropyWeight: options.entropyWeight(afterTrials: updates), learningRate: Float(options.learningRate))
        }
        history += batch
        batch.removeAll()
        batches += 1
    }

    /// log π(configuration): the log-probability that the network picks the decisions that
    /// produce it (the cells it falls in, for numeric dimensions it decides) plus the Gaussian's
    /// log-density at its unit coordinates; nil for a configuration that does not fit the space.
    public func logProbability(of configuration: Configuration) -> Double? {
        lock.lock(); defer { lock.unlock() }
        guard let parts = episodeParts(of: configuration) else { return nil }
        return (policy?.logProbability(parts.decisions) ?? 0) + gaussian.logDensity(parts.coordinates)
    }

    /// The network's decisions and the Gaussian's unit coordinates of `configuration` (nil for
    /// inactive dimensions); nil when it has the wrong number of values or a value no dimension
    /// can hold.
    func episodeParts(of configuration: Configuration) -> (decisions: [Int?], coordinates: [Double?])? {
        guard configuration.values.count == codings.count,
              configuration.values.allSatisfy({ $0.isFinite && abs($0) < 1e15 }) else { return nil }
        var decisions = [Int?](repeating: nil, count: policy?.classes.count ?? 0)
        var coordinates = [Double?](repeating: nil, count: gaussian.mean.count)
        for i in codings.indices where space.isActive(i, in: configuration) {
            if let j = decisionIndex[i] { decisions[j] = codings[i].decision(for: configuration.values[i]) }
            if let g = gaussianIndex[i] { coordinates[g] = space.dimensions[i].domain.unit(of: configuration.values[i]) }
        }
        return (decisions, coordinates)
    }

    /// Seeds the per-trial weight draws apart from the trial's sampling stream.
    static let weightSalt: UInt64 = 0x5745_4947_4854_5321
    /// Seeds the per-batch weight draws.
    static let batchSalt: UInt64 = 0x4241_5443_4857_4754
}

/// An index drawn from `probabilities` by inverting the cumulative sum.
private func draw(_ probabilities: [Double], using rng: inout RandomSource) -> Int {
    let u = rng.nextDouble()
    var cumulative = 0.0
    for (k, p) in probabilities.enumerated() {
        cumulative += p
        if u < cumulative { return k }
    }
    return probabilities.count - 1
}

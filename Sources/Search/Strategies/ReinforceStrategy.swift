import Foundation
import Engine

/// Policy-gradient search: an autoregressive policy over the space's decisions, trained by PPO
/// (Schulman et al. 2017; the NAS controller of Zoph et al. 2018) or REINFORCE (Williams 1992;
/// Zoph & Le 2017, ENAS, Pham et al. 2018) with a moving-average baseline and an entropy bonus.
///
/// `ask` samples the decisions in dimension order, each from the policy conditioned on the
/// decisions already made (`PolicyNetwork`); an inactive dimension is skipped and carries a fixed
/// value (the first value of a finite domain, the median of a continuous one). Numeric dimensions
/// are discretised as `DecisionCoding` describes: a decision picks one of `bins` cells and the
/// value is a uniform draw inside it, from the trial's own random stream.
///
/// With REINFORCE, `tell` takes one Adam step on −A·Σⱼ log π(aⱼ | a₍<ⱼ₎) − β·Σⱼ H(πⱼ), the
/// log-probabilities recomputed by a forward pass over the told configuration — so results of
/// trials other workers ran, or a resumed study's history, teach the policy as much as its own.
/// With PPO (the default), `tell` keeps the episode with its log-probabilities under the current
/// policy (the one that proposed it, when trials are told as they finish); every `batch` episodes
/// the policy takes `epochs` steps on the clipped surrogate with advantages normalised over the
/// batch (`proximalPolicyUpdate`). β halves every `entropy_half_life` trials (the entropy schedule). The reward is the
/// result's centred rank in [−1, 1] among all results so far (`RankedRewards`), so the metrics'
/// scale does not matter; infeasible results rank below feasible ones by their violation, failed
/// results score −1 (as low as the worst seen), and a pruned result counts with the objectives of
/// its last rung. A = reward − b, with b ← decay·b + (1 − decay)·reward from b = 0.
/// Several objectives are scalarised by `ReinforceOptions.reward` first (random simplex weights
/// per trial by default, or MnasNet's accuracy × (cost/target)^w).
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
    /// Nil for an empty space, which has nothing to decide.
    let policy: PolicyNetwork?
    private var rewards: RankedRewards
    /// The moving-average baseline b.
    public private(set) var baseline = 0.0
    /// Results the policy has learned from.
    public private(set) var updates = 0
    /// PPO: episodes waiting for the next update.
    private var episodes: [PolicyEpisode] = []
    private let lock = NSLock()

    /// - Throws: `ConfigError` when an option is out of range for `objectives` objectives.
    public init(space: SearchSpace, objectives: Int, options: ReinforceOptions = ReinforceOptions(), seed: UInt64) throws {
        try options.validate(objectives: objectives)
        self.space = space
        self.options = options
        self.objectives = objectives
        self.seed = seed
        codings = space.dimensions.map { DecisionCoding(domain: $0.domain, bins: options.bins) }
        policy = space.isEmpty ? nil : PolicyNetwork(classes: codings.map(\.classes), hidden: options.hidden, seed: seed)
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
        guard let policy else { return configuration }
        var rng = RandomSource.derived(seed: seed, stream: UInt64(truncatingIfNeeded: number))
        var state = policy.emptyState()
        for i in codings.indices where space.isActive(i, in: configuration) {
            let k = draw(policy.probabilities(of: i, state: state), using: &rng)
            policy.set(i, choice: k, in: &state)
            configuration.values[i] = codings[i].value(of: k, using: &rng)
        }
        return configuration
    }

    public func tell(_ result: TrialResult) {
        lock.lock(); defer { lock.unlock() }
        guard let policy, let decisions = decisions(of: result.configuration) else { return }
        var rng = RandomSource.derived(seed: seed ^ ReinforceStrategy.weightSalt, stream: UInt64(truncatingIfNeeded: result.number))
        let weights = uniformSimplexWeights(count: objectives, using: &rng)
        let reward = rewards.reward(for: result, weights: weights)
        let advantage = reward - baseline
        baseline = options.baselineDecay * baseline + (1 - options.baselineDecay) * reward
        let beta = options.entropyWeight(afterTrials: updates)
        switch options.algorithm {
        case .reinforce:
            policy.reinforce(decisions, advantage: advantage, entropyWeight: beta, learningRate: Float(options.learningRate))
        case .ppo:
            episodes.append(PolicyEpisode(decisions: decisions, oldLogProbabilities: policy.decisionLogProbabilities(decisions),
                                          advantage: advantage))
            if episodes.count >= options.batch {
                proximalPolicyUpdate(policy, episodes: episodes, epochs: options.epochs, clip: options.clip,
                                     entropyWeight: beta, learningRate: Float(options.learningRate))
                episodes.removeAll()
            }
        }
        updates += 1
    }

    /// log π(configuration): the log-probability that `ask` picks the decisions that produce it
    /// (the cells it falls in, for numeric dimensions); nil for a configuration that does not fit
    /// the space.
    public func logProbability(of configuration: Configuration) -> Double? {
        lock.lock(); defer { lock.unlock() }
        guard let decisions = decisions(of: configuration) else { return nil }
        return policy?.logProbability(decisions) ?? 0
    }

    /// The decision of every active dimension of `configuration` (nil for inactive ones); nil
    /// when it has the wrong number of values or a value no dimension can hold.
    func decisions(of configuration: Configuration) -> [Int?]? {
        guard configuration.values.count == codings.count,
              configuration.values.allSatisfy({ $0.isFinite && abs($0) < 1e15 }) else { return nil }
        return codings.indices.map { i in
            space.isActive(i, in: configuration) ? codings[i].decision(for: configuration.values[i]) : nil
        }
    }

    /// Seeds the per-trial weight draws apart from the trial's sampling stream.
    static let weightSalt: UInt64 = 0x5745_4947_4854_5321
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

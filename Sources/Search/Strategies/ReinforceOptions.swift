import Foundation
import Engine

/// The options of the policy-gradient strategy `rl`: the strategy's options object in a space file.
///
///     {"algorithm": "ppo", "batch": 8, "epochs": 4, "clip": 0.2, "learning_rate": 0.01, "bins": 8,
///      "reward": "mnasnet", "metric_index": 0, "cost_index": 1, "target": 80, "w": -0.07}
public struct ReinforceOptions: Hashable, Sendable {
    /// How the policy learns from its episodes.
    public enum Algorithm: String, Hashable, Sendable, CaseIterable {
        /// Proximal policy optimisation (Schulman et al. 2017): a batch of episodes, several epochs
        /// of the clipped surrogate objective with advantages normalised over the batch.
        case ppo
        /// REINFORCE (Williams 1992): one step per episode.
        case reinforce
    }

    public var algorithm: Algorithm
    /// PPO: episodes per update.
    public var batch: Int
    /// PPO: passes over each batch.
    public var epochs: Int
    /// PPO: ε of the clipped ratio.
    public var clip: Double
    /// Trials over which the entropy weight halves (the entropy schedule β·2^(−told/half-life)).
    public var entropyHalfLife: Double
    /// Adam's step size for the policy.
    public var learningRate: Double
    /// Width of the policy's shared hidden layer.
    public var hidden: Int
    /// Cells a numeric dimension is cut into.
    public var bins: Int
    /// Decay of the moving-average baseline, in [0, 1).
    public var baselineDecay: Double
    /// β of the entropy bonus, ≥ 0.
    public var entropyWeight: Double
    /// How several objectives become one reward (one objective always uses `.single`).
    public var reward: RewardScalarization
    /// How a numeric dimension with more values than `bins` is decided.
    public var numeric: NumericPolicy
    /// σ of the Gaussian policy at the start, in unit coordinates. The default, 0.15, had the best
    /// mean rank at 50 and 100 trials over the 66 problems of `autotune bench search --suite hpo`
    /// among 0.35, 0.25, 0.2 and 0.15 (the natural gradient widens it where the problem asks).
    public var deviation: Double
    /// η_μ, the natural-gradient step size of the Gaussian policy's mean.
    public var meanRate: Double
    /// η_σ, the natural-gradient step size of its log-deviations; nil for SNES's default
    /// (3 + ln d)/(5 √d) over the d Gaussian dimensions.
    public var deviationRate: Double?
    /// The best results told so far joined to each batch update (elite replay), 0 for none. The
    /// default, 2, ranked ahead of 0 at every budget on the `hpo` suite and level with 4.
    public var elite: Int

    /// How the policy decides a numeric dimension with more values than `bins`.
    public enum NumericPolicy: String, Hashable, Sendable, CaseIterable {
        /// A Gaussian over the unit coordinate, its mean and deviation learned (`GaussianPolicy`).
        case gaussian
        /// One of `bins` cells, as a discrete decision of the policy network (`DecisionCoding`).
        case bins
    }

    /// - Parameter learningRate: nil for the algorithm's default: 0.03 for PPO (a step per epoch
    ///   and batch), 0.01 for REINFORCE (a step per episode).
    public init(learningRate: Double? = nil, hidden: Int = 64, bins: Int = 6, baselineDecay: Double = 0.9,
                entropyWeight: Double = 0.01, reward: RewardScalarization = .randomWeights, algorithm: Algorithm = .ppo,
                batch: Int = 8, epochs: Int = 4, clip: Double = 0.2, entropyHalfLife: Double = 100,
                numeric: NumericPolicy = .gaussian, deviation: Double = 0.15, meanRate: Double = 1,
                deviationRate: Double? = nil, elite: Int = 2) {
        self.learningRate = learningRate ?? ReinforceOptions.defaultLearningRate(algorithm)
        self.hidden = hidden; self.bins = bins
        self.baselineDecay = baselineDecay; self.entropyWeight = entropyWeight; self.reward = reward
        self.algorithm = algorithm; self.batch = batch; self.epochs = epochs; self.clip = clip
        self.entropyHalfLife = entropyHalfLife
        self.numeric = numeric; self.deviation = deviation; self.meanRate = meanRate
        self.deviationRate = deviationRate; self.elite = elite
    }

    static func defaultLearningRate(_ algorithm: Algorithm) -> Double { algorithm == .ppo ? 0.03 : 0.01 }

    /// β after `told` results: halved every `entropyHalfLife` trials.
    public func entropyWeight(afterTrials told: Int) -> Double {
        entropyWeight * Foundation.pow(0.5, Double(told) / entropyHalfLife)
    }

    static let keys = ["algorithm", "batch", "epochs", "clip", "entropy_half_life",
                       "learning_rate", "hidden", "bins", "baseline_decay", "entropy_weight", "reward",
                       "numeric", "deviation", "mean_rate", "deviation_rate", "elite"]
    static let mnasnetKeys = ["metric_index", "cost_index", "target", "w"]
    static let rewardNames = ["random_weights", "mnasnet"]

    /// Read the options object of a study with `objectives` objectives; every problem is a
    /// `ConfigError` at `keyPath.key`.
    ///
    ///     try ReinforceOptions(parsing: .object([("learning_rate", .number(-1))]), objectives: 1)
    ///     // strategy.learning_rate: must be positive, got -1
    public init(parsing options: JSONValue, objectives: Int, keyPath: String = "strategy") throws {
        self.init()
        let members: [JSONValue.Member]
        switch options {
        case .null: members = []
        case .object(let m): members = m
        default: throw ConfigError(keyPath: keyPath, reason: "expected an object, got \(options.kindName)")
        }
        let reader = OptionReader(members: members, keyPath: keyPath)
        let rewardName = try reader.string("reward") ?? "random_weights"
        let allowed = ReinforceOptions.keys + (rewardName == "mnasnet" ? ReinforceOptions.mnasnetKeys : [])
        // `name` names the strategy when the options sit beside it.
        for member in members where member.key != "name" && !allowed.contains(member.key) {
            let path = ConfigError.join(keyPath, member.key)
            if ReinforceOptions.mnasnetKeys.contains(member.key) {
                throw ConfigError(keyPath: path, reason: "only used with \"reward\": \"mnasnet\"")
            }
            var reason = "unknown option of strategy 'reinforce' (valid: \((ReinforceOptions.keys + ReinforceOptions.mnasnetKeys).joined(separator: ", ")))"
            if let near = closestMatch(to: member.key, among: ReinforceOptions.keys + ReinforceOptions.mnasnetKeys) {
                reason += ". Did you mean '\(near)'?"
            }
            throw ConfigError(keyPath: path, reason: reason)
        }
        algorithm = try reader.choice("algorithm", kind: "algorithm") ?? algorithm
        batch = try reader.integer("batch") ?? batch
        epochs = try reader.integer("epochs") ?? epochs
        clip = try reader.number("clip") ?? clip
        entropyHalfLife = try reader.number("entropy_half_life") ?? entropyHalfLife
        learningRate = try reader.number("learning_rate") ?? ReinforceOptions.defaultLearningRate(algorithm)
        hidden = try reader.integer("hidden") ?? hidden
        bins = try reader.integer("bins") ?? bins
        baselineDecay = try reader.number("baseline_decay") ?? baselineDecay
        entropyWeight = try reader.number("entropy_weight") ?? entropyWeight
        numeric = try reader.choice("numeric", kind: "numeric policy") ?? numeric
        deviation = try reader.number("deviation") ?? deviation
        meanRate = try reader.number("mean_rate") ?? meanRate
        deviationRate = try reader.number("deviation_rate") ?? deviationRate
        elite = try reader.integer("elite") ?? elite
        switch rewardName {
        case "random_weights":
            reward = .randomWeights
        case "mnasnet":
            guard let target = try reader.number("target") else {
                throw reader.error("target", "required with \"reward\": \"mnasnet\" (the cost target T)")
            }
            reward = .mnasnet(MnasNetReward(metricIndex: try reader.integer("metric_index") ?? 0,
                                            costIndex: try reader.integer("cost_index") ?? 1,
                                            target: target, w: try reader.number("w") ?? -0.07))
        default:
            throw ConfigError.unknownName(rewardName, kind: "reward", among: ReinforceOptions.rewardNames,
                                          keyPath: ConfigError.join(keyPath, "reward"))
        }
        try validate(objectives: objectives, keyPath: keyPath)
    }

    /// Check every option for a study with `objectives` objectives; a problem is a `ConfigError`
    /// at `keyPath.key` (the key as written in a space file).
    public func validate(objectives: Int, keyPath: String = "strategy") throws {
        func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: ConfigError.join(keyPath, key), reason: reason) }
        let f = JSONValue.format
        guard learningRate > 0, learningRate.isFinite else { throw fail("learning_rate", "must be positive, got \(f(learningRate))") }
        guard (1...4096).contains(hidden) else { throw fail("hidden", "must be in 1...4096, got \(hidden)") }
        guard (2...1024).contains(bins) else { throw fail("bins", "must be in 2...1024, got \(bins)") }
        guard baselineDecay >= 0, baselineDecay < 1 else { throw fail("baseline_decay", "must be in [0, 1), got \(f(baselineDecay))") }
        guard entropyWeight >= 0, entropyWeight.isFinite else { throw fail("entropy_weight", "must be at least 0, got \(f(entropyWeight))") }
        guard (1...4096).contains(batch) else { throw fail("batch", "must be in 1...4096, got \(batch)") }
        guard (1...100).contains(epochs) else { throw fail("epochs", "must be in 1...100, got \(epochs)") }
        guard clip > 0, clip < 1 else { throw fail("clip", "must be in (0, 1), got \(f(clip))") }
        guard entropyHalfLife > 0, !entropyHalfLife.isNaN else { throw fail("entropy_half_life", "must be positive, got \(f(entropyHalfLife))") }
        guard deviation > 0, deviation <= 1 else { throw fail("deviation", "must be in (0, 1], got \(f(deviation))") }
        guard meanRate > 0, meanRate <= 1 else { throw fail("mean_rate", "must be in (0, 1], got \(f(meanRate))") }
        if let r = deviationRate, !(r > 0 && r <= 1) { throw fail("deviation_rate", "must be in (0, 1], got \(f(r))") }
        guard (0...1024).contains(elite) else { throw fail("elite", "must be in 0...1024, got \(elite)") }
        guard objectives >= 1 else { throw ConfigError(keyPath: "objectives", reason: "the reinforce strategy needs at least one objective") }
        switch reward {
        case .single, .randomWeights:
            if objectives > 1, reward == .single {
                throw fail("reward", "a single-objective reward for a study of \(objectives) objectives (use random_weights or mnasnet)")
            }
        case .mnasnet(let r):
            guard objectives >= 2 else {
                throw fail("reward", "mnasnet needs an accuracy and a cost objective, the study has \(objectives)")
            }
            for (key, index) in [("metric_index", r.metricIndex), ("cost_index", r.costIndex)] where !(0..<objectives).contains(index) {
                throw fail(key, "must be an objective index in 0...\(objectives - 1), got \(index)")
            }
            guard r.metricIndex != r.costIndex else { throw fail("cost_index", "must differ from metric_index, both are \(r.costIndex)") }
            guard r.target > 0, r.target.isFinite else { throw fail("target", "must be positive, got \(f(r.target))") }
            guard r.w <= 0 else { throw fail("w", "must be at most 0 (a cost above target lowers the reward), got \(f(r.w))") }
        }
    }
}

/// Typed reads from a strategy's options object, with errors at the option's key path.
private struct OptionReader {
    let members: [JSONValue.Member]
    let keyPath: String

    func error(_ key: String, _ reason: String) -> ConfigError {
        ConfigError(keyPath: ConfigError.join(keyPath, key), reason: reason)
    }

    private func value(_ key: String) -> JSONValue? {
        guard let v = members.last(where: { $0.key == key })?.value, v != .null else { return nil }
        return v
    }

    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let x = v.number, x.isFinite else { throw error(key, "expected a number, got \(v.kindName)") }
        return x
    }

    func integer(_ key: String) throws -> Int? {
        guard let x = try number(key) else { return nil }
        guard x == x.rounded(), abs(x) < 1e9 else { throw error(key, "expected a whole number, got \(JSONValue.format(x))") }
        return Int(x)
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw error(key, "expected a string, got \(v.kindName)") }
        return s
    }

    /// One of `T`'s names; an unknown one is an error listing the valid names, with a suggestion.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, kind: String) throws -> T? where T.RawValue == String {
        guard let name = try string(key) else { return nil }
        guard let value = T(rawValue: name) else {
            throw ConfigError.unknownName(name, kind: kind, among: T.allCases.map(\.rawValue), keyPath: ConfigError.join(keyPath, key))
        }
        return value
    }
}

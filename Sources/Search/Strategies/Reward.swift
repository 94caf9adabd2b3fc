import Foundation
import Engine

/// MnasNet's reward for an accurate model within a cost target (Tan et al. 2019, "MnasNet:
/// Platform-Aware Neural Architecture Search for Mobile"): ACC(m) · (COST(m) / T)^w.
///
/// Objectives arrive minimised, so the accuracy-like metric arrives negated and is negated back.
/// w = −0.07 is the paper's soft constraint; a cost of 0 or less counts as 10⁻¹²·T.
///
///     let r = MnasNetReward(metricIndex: 0, costIndex: 1, target: 80)
///     r([-0.75, 90])   // 0.75 · (90/80)^−0.07 ≈ 0.74384
public struct MnasNetReward: Hashable, Sendable {
    /// The objective holding the (negated) accuracy.
    public var metricIndex: Int
    /// The objective holding the cost (latency, size, FLOPs...), minimised.
    public var costIndex: Int
    /// T, the cost target, > 0.
    public var target: Double
    /// The exponent, ≤ 0: how much a cost above (or below) the target lowers (or raises) the reward.
    public var w: Double

    public init(metricIndex: Int = 0, costIndex: Int = 1, target: Double, w: Double = -0.07) {
        self.metricIndex = metricIndex; self.costIndex = costIndex; self.target = target; self.w = w
    }

    /// The reward of one result's minimised objectives.
    public func callAsFunction(_ objectives: [Double]) -> Double {
        let accuracy = -objectives[metricIndex]
        let cost = Swift.max(objectives[costIndex], 1e-12 * target)
        return accuracy * Foundation.pow(cost / target, w)
    }
}

/// How the objectives of a result become one reward for the policy.
public enum RewardScalarization: Hashable, Sendable {
    /// One objective: the reward is −objectives[0].
    case single
    /// A weight vector λ drawn per trial uniformly on the simplex (from the seed and the trial
    /// number, as ParEGO draws one per iteration, Knowles 2006); the reward is the negated
    /// augmented Chebyshev scalarisation max_m λ_m f̂_m + 0.05 Σ_m λ_m f̂_m, where f̂ is each
    /// objective normalised to [0, 1] by the range seen so far.
    case randomWeights
    /// MnasNet's accuracy × (cost / target)^w.
    case mnasnet(MnasNetReward)
}

/// `count` weights drawn uniformly on the probability simplex (normalised exponential draws).
public func uniformSimplexWeights(count: Int, using rng: inout RandomSource) -> [Double] {
    let e = (0..<count).map { _ in -Foundation.log(1 - rng.nextDouble()) }
    let total = e.reduce(0, +)
    return total > 0 ? e.map { $0 / total } : [Double](repeating: 1 / Double(count), count: count)
}

/// Rewards made independent of the metrics' scale: each result is scored by its centred rank
/// among every result told so far (Salimans et al. 2017 use centred ranks for the same reason),
/// in [−1, 1] with 1 for the best.
///
/// The order is Deb's constrained one (Deb 2000): every feasible result above every infeasible
/// one, feasible ones by scalarised reward, infeasible ones by their total violation, so an
/// infeasible result is penalised by how far it violates. A failed result — or one without finite
/// values for every objective — scores −1, below everything, and is not kept for later ranks.
/// With random weights, every kept result is re-scalarised with the new trial's weights and the
/// current ranges before ranking.
struct RankedRewards {
    let scalarization: RewardScalarization
    let objectives: Int
    private var feasible: [[Double]] = []
    private var violations: [Double] = []
    private var lower: [Double]
    private var upper: [Double]

    init(scalarization: RewardScalarization, objectives: Int) {
        self.scalarization = scalarization
        self.objectives = objectives
        lower = [Double](repeating: .infinity, count: objectives)
        upper = [Double](repeating: -.infinity, count: objectives)
    }

    /// Results ranked so far (failed ones excluded).
    var count: Int { feasible.count + violations.count }

    /// The centred rank of `result` among the results told so far, then keep it for later ranks.
    /// - Parameter weights: the trial's simplex weights (random-weight scalarisation only).
    mutating func reward(for result: TrialResult, weights: [Double]) -> Double {
        guard result.hasObjectives, result.objectives.count == objectives,
              result.objectives.allSatisfy(\.isFinite) else { return -1 }
        var better = 0, worse = 0, ties = 0
        func compare(_ mine: Double, _ other: Double) {
            if other > mine { better += 1 } else if other < mine { worse += 1 } else { ties += 1 }
        }
        let violation = result.violation.isFinite ? Swift.max(result.violation, 0) : .infinity
        if result.outcome == .infeasible || violation > 0 {
            better += feasible.count
            // Lower violation is better: compare negated violations as rewards.
            for v in violations { compare(-violation, -v) }
            violations.append(violation)
        } else {
            for m in 0..<objectives {
                lower[m] = Swift.min(lower[m], result.objectives[m])
                upper[m] = Swift.max(upper[m], result.objectives[m])
            }
            let mine = scalar(result.objectives, weights: weights)
            for f in feasible { compare(mine, scalar(f, weights: weights)) }
            worse += violations.count
            feasible.append(result.objectives)
        }
        let n = better + worse + ties
        guard n > 0 else { return 0 }
        return 2 * (Double(worse) + 0.5 * Double(ties)) / Double(n) - 1
    }

    /// Rewards of `results` that order them among themselves (higher is better) by the same rule
    /// as `reward(for:weights:)` — feasible by scalarised reward under `weights` and the ranges
    /// seen so far, then infeasible by violation, then failed — for ranking one batch. Equal
    /// results get equal rewards; only the order means anything.
    func batchRewards(_ results: [TrialResult], weights: [Double]) -> [Double] {
        // (tier, value): tier 2 feasible, 1 infeasible, 0 failed; higher value better.
        let keys = results.map { r -> (Int, Double) in
            guard r.hasObjectives, r.objectives.count == objectives, r.objectives.allSatisfy(\.isFinite) else { return (0, 0) }
            let violation = r.violation.isFinite ? Swift.max(r.violation, 0) : .infinity
            if r.outcome == .infeasible || violation > 0 { return (1, -violation) }
            return (2, scalar(r.objectives, weights: weights))
        }
        let order = keys.indices.sorted { keys[$0] < keys[$1] }
        var rewards = [Double](repeating: 0, count: results.count), level = 0.0
        for (position, i) in order.enumerated() {
            if position > 0, keys[order[position - 1]] != keys[i] { level += 1 }
            rewards[i] = level
        }
        return rewards
    }

    /// The scalar reward of minimised `objectives` (higher is better).
    func scalar(_ f: [Double], weights: [Double]) -> Double {
        switch scalarization {
        case .single:
            return -f[0]
        case .mnasnet(let r):
            return r(f)
        case .randomWeights:
            var worst = -Double.infinity, sum = 0.0
            for m in 0..<objectives {
                let range = upper[m] - lower[m]
                let normalised = range > 0 ? (f[m] - lower[m]) / range : 0
                worst = Swift.max(worst, weights[m] * normalised)
                sum += weights[m] * normalised
            }
            return -(worst + 0.05 * sum)
        }
    }
}

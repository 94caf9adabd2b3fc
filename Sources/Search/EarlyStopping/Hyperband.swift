import Foundation
import Engine

/// Hyperband (Li et al. 2018, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
/// Optimization") run asynchronously: several successive-halving brackets that differ in how
/// early they judge a trial, so a metric that ranks badly early does not doom every trial.
///
/// Bracket s = 0…s_max is an ASHA instance (`SuccessiveHalving`) whose first rung is at
/// min_resource·η^s, where s_max + 1 is the number of rungs from min_resource to max_resource:
/// bracket 0 is the most aggressive and bracket s_max runs every trial to the end. Each trial
/// belongs to one bracket, drawn from the seed and the trial number alone, with probability
/// proportional to the number of configurations Hyperband's Algorithm 1 starts in that bracket,
/// n = ⌈(s_max + 1)/(h + 1) · η^h⌉ for a bracket of h halvings (h = s_max − s). A trial is ranked
/// only against the trials of its own bracket.
///
///     let hb = try Hyperband(minResource: 1, maxResource: 27, reductionFactor: 3, seed: 7)
///     hb.brackets.map(\.rungs)         // [[1, 3, 9, 27], [3, 9, 27], [9, 27], [27]]
///     hb.bracket(of: 12)               // the same bracket on every run with seed 7
public final class Hyperband: EarlyStopping {
    public let minResource: Int
    public let maxResource: Int
    public let reductionFactor: Int
    public let objectives: Int
    public let seed: UInt64
    /// Bracket s judges first at min_resource·η^s.
    public let brackets: [SuccessiveHalving]
    /// The probability of each bracket, summing to 1.
    public let weights: [Double]

    /// - Throws: `ConfigError` at `early_stopping.<key>` for a resource or factor out of range.
    public init(minResource: Int, maxResource: Int, reductionFactor: Int, objectives: Int = 1, seed: UInt64) throws {
        try SuccessiveHalving.validate(minResource: minResource, maxResource: maxResource, reductionFactor: reductionFactor, objectives: objectives)
        self.minResource = minResource
        self.maxResource = maxResource
        self.reductionFactor = reductionFactor
        self.objectives = objectives
        self.seed = seed
        let starts = SuccessiveHalving.rungs(minResource: minResource, maxResource: maxResource, reductionFactor: reductionFactor)
        brackets = try starts.map {
            try SuccessiveHalving(minResource: $0, maxResource: maxResource, reductionFactor: reductionFactor, objectives: objectives)
        }
        weights = Hyperband.weights(brackets: starts.count, reductionFactor: reductionFactor)
    }

    /// Hyperband's configurations per bracket, normalised: bracket s of `brackets` has
    /// h = brackets − 1 − s halvings and n = ⌈brackets/(h + 1) · η^h⌉ configurations.
    ///
    ///     Hyperband.weights(brackets: 3, reductionFactor: 3)   // [9, 5, 3] / 17
    public static func weights(brackets: Int, reductionFactor: Int) -> [Double] {
        let counts = (0..<brackets).map { s -> Double in
            let h = brackets - 1 - s
            // ⌈B·η^h / (h + 1)⌉ in integers where they do not overflow.
            var power = 1, exact = true
            for _ in 0..<h {
                let (next, overflow) = power.multipliedReportingOverflow(by: reductionFactor)
                if overflow { exact = false; break }
                power = next
            }
            let (numerator, overflow) = power.multipliedReportingOverflow(by: brackets)
            if exact, !overflow { return Double((numerator + h) / (h + 1)) }
            return (Double(brackets) / Double(h + 1) * Foundation.pow(Double(reductionFactor), Double(h))).rounded(.up)
        }
        let total = counts.reduce(0, +)
        return counts.map { $0 / total }
    }

    /// The bracket trial `number` belongs to: a draw from `weights` on the trial's own stream.
    public func bracket(of number: Int) -> Int {
        var rng = RandomSource.derived(seed: seed ^ Hyperband.bracketSalt, stream: UInt64(truncatingIfNeeded: number))
        let u = rng.nextDouble()
        var cumulative = 0.0
        for (s, w) in weights.enumerated() {
            cumulative += w
            if u < cumulative { return s }
        }
        return weights.count - 1
    }

    public func record(number: Int, step: Int, objectives: [Double]) {
        brackets[bracket(of: number)].record(number: number, step: step, objectives: objectives)
    }

    public func shouldStop(number: Int, step: Int) -> Bool {
        brackets[bracket(of: number)].shouldStop(number: number, step: step)
    }

    /// Keeps bracket draws apart from the streams strategies draw trials from.
    static let bracketSalt: UInt64 = 0x4859_5045_5242_414E
}

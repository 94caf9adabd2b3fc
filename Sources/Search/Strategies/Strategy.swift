import Engine

/// How a finished trial ended, as strategies see it.
public enum TrialOutcome: String, Hashable, Sendable, Codable {
    /// Evaluated in full; `objectives` holds its values.
    case complete
    /// Stopped early by multi-fidelity early stopping; `objectives` holds the last rung's values.
    case pruned
    /// Evaluated, but it violates a constraint; `objectives` and `violation` are set.
    case infeasible
    /// The evaluation failed (crash, timeout, garbage output); no objectives.
    case failed
}

/// A finished trial as a strategy learns from it.
public struct TrialResult: Hashable, Sendable {
    public var number: Int
    public var configuration: Configuration
    public var outcome: TrialOutcome
    /// Objective values, every one **minimised** (maximised objectives arrive negated); empty for
    /// a failed trial.
    public var objectives: [Double]
    /// Total constraint violation (0 when feasible), for Deb's constrained domination.
    public var violation: Double

    public init(number: Int, configuration: Configuration, outcome: TrialOutcome, objectives: [Double], violation: Double = 0) {
        self.number = number; self.configuration = configuration; self.outcome = outcome
        self.objectives = objectives; self.violation = violation
    }

    /// Whether a strategy should rank it (failed trials carry no objective values).
    public var hasObjectives: Bool { outcome != .failed && !objectives.isEmpty }
}

/// A search strategy in two calls: propose a configuration, learn from a result.
///
/// Contract, shared by every strategy and checked for each by the same test suite:
/// - `ask(number:)` is deterministic given the study seed, the trial number and the results told
///   so far; randomness for trial n comes from `RandomSource.derived(seed:stream:)` with n, so a
///   resumed study (a fresh strategy told the stored history) proposes what the original would.
/// - `tell` accepts results in any order, including trials the strategy did not propose (told
///   from another worker or from `autotune tell`), and never blocks `ask`: with results pending
///   a strategy proposes from what it knows.
/// - `ask` may throw `StrategyError.exhausted` when a finite strategy (grid) has nothing left.
public protocol Strategy: AnyObject {
    var space: SearchSpace { get }
    func ask(number: Int) throws -> Configuration
    func tell(_ result: TrialResult)
}

public enum StrategyError: Error, Equatable, CustomStringConvertible {
    /// Every candidate of a finite space has been proposed.
    case exhausted(proposed: Int)
    public var description: String {
        switch self {
        case .exhausted(let n): return "the search space is exhausted after \(n) candidates"
        }
    }
}

import Compression
import Engine

/// What an evaluation measured: every metric it reports (accuracy, loss, params, flops, or
/// whatever a command prints), by name.
public struct EvaluationResult: Equatable, @unchecked Sendable {
    public var metrics: [String: Double]
    /// True when the evaluation stopped because `report` asked it to (early stopping); `metrics`
    /// then hold the last reported values.
    public var stoppedEarly: Bool
    /// The trained model the evaluation ended with, for a study that keeps its front members'
    /// weights (an engine evaluator asked to keep models); nil otherwise.
    public var finalModel: FinalModel?
    public init(metrics: [String: Double], stoppedEarly: Bool = false, finalModel: FinalModel? = nil) {
        self.metrics = metrics; self.stoppedEarly = stoppedEarly; self.finalModel = finalModel
    }

    /// Equal when the metrics and how the evaluation ended are (the model is not compared).
    public static func == (a: EvaluationResult, b: EvaluationResult) -> Bool {
        a.metrics == b.metrics && a.stoppedEarly == b.stoppedEarly
    }
}

/// A candidate's evaluation failed: why, on one line (the trial is stored as FAIL with it).
public struct EvaluationError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Turns a candidate into metrics: the engine trains it, a command runs it, a benchmark problem
/// computes it.
public protocol Evaluator: AnyObject {
    /// Evaluate one candidate.
    /// - Parameters:
    ///   - candidate: the materialised candidate document.
    ///   - parameters: its active parameters (key path → value), for placeholders.
    ///   - report: called with each learning-curve point (step ≥ 1, e.g. the epoch, and the metrics
    ///     at that step); returns false when the trial should stop early.
    /// - Throws: `EvaluationError` when the candidate cannot be evaluated.
    func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                  report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult
}

/// Multi-fidelity early stopping: decides from learning curves which trials get more resource.
public protocol EarlyStopping: AnyObject {
    /// Trial `number` reached `step` with these objective values (minimised, as strategies see
    /// them). Called for every trial, including those other workers run.
    func record(number: Int, step: Int, objectives: [Double])
    /// Whether trial `number`, which has just recorded `step`, should stop now.
    func shouldStop(number: Int, step: Int) -> Bool
}

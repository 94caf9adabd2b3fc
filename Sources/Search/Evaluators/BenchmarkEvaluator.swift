import Engine

/// Evaluates candidates of an analytic test problem (ZDT, DTLZ): the candidate holds the variables
/// `x0, x1, ...` as unit coordinates in [0, 1], each mapped onto its variable's bounds (ZDT4's
/// x₂…xₙ onto [−5, 5]), and the metrics are `f1 ... fM`.
public final class BenchmarkEvaluator: Evaluator {
    public let problem: BenchmarkProblem

    public init(_ problem: BenchmarkProblem) { self.problem = problem }

    /// The metric names, in objective order.
    public var metricNames: [String] { (1...problem.objectives).map { "f\($0)" } }

    public func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                         report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        var x = [Double](repeating: 0, count: problem.variables)
        for i in 0..<problem.variables {
            guard let v = candidate["x\(i)"]?.number else { throw EvaluationError("candidate has no number x\(i)") }
            x[i] = v
        }
        let f = problem.evaluate(unit: x)
        return EvaluationResult(metrics: Dictionary(uniqueKeysWithValues: zip(metricNames, f)))
    }
}

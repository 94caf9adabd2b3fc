import Engine
import Foundation
import Search

/// How `autotune export` chooses the trial to export, when no trial number is given.
///
///     knee                                       the front member at the knee (the default)
///     best:accuracy                              best value in the objective's own direction
///     best:peak_mib:min                          any stored metric, with the direction given
///     best:accuracy,latency_ms@jetson-orin-nano<=10,params<=100000
///
/// Constraints follow the rule, comma-separated, as `metric<=bound` or `metric>=bound`; only
/// COMPLETE trials that report every constrained metric and satisfy every bound take part.
public struct PickRule: Equatable, Sendable, CustomStringConvertible {
    public enum Choice: Equatable, Sendable {
        /// The knee of the Pareto front (see `TrialPicker.knee`).
        case knee
        /// The best value of `metric`; `direction` nil means the study's own for that objective.
        case best(metric: String, direction: Objective.Direction?)
    }

    public var choice: Choice
    public var constraints: [MetricConstraint]
    /// The rule as written, for messages.
    public var text: String

    public init(choice: Choice, constraints: [MetricConstraint] = [], text: String? = nil) {
        self.choice = choice; self.constraints = constraints
        self.text = text ?? Self.spell(choice, constraints)
    }

    public static let knee = PickRule(choice: .knee)

    public var description: String { text }

    /// Parse `text`; a malformed rule throws a `ReportError` naming the rule and the reason.
    public static func parse(_ text: String) throws -> PickRule {
        func fail(_ reason: String) -> ReportError { ReportError("pick rule '\(text)': \(reason)") }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let head = parts.first, !head.isEmpty else { throw fail("empty (use knee or best:METRIC)") }
        let choice: Choice
        let words = head.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch words[0] {
        case "knee":
            guard words.count == 1 else { throw fail("knee takes no argument") }
            choice = .knee
        case "best":
            guard words.count >= 2, !words[1].isEmpty else { throw fail("best needs a metric (best:METRIC or best:METRIC:min|max)") }
            guard words.count <= 3 else { throw fail("expected best:METRIC or best:METRIC:min|max") }
            var direction: Objective.Direction?
            if words.count == 3 {
                switch words[2] {
                case "min": direction = .minimize
                case "max": direction = .maximize
                default: throw fail("direction '\(words[2])' is not min or max")
                }
            }
            choice = .best(metric: words[1], direction: direction)
        default:
            var reason = "unknown rule '\(words[0])' (use knee or best:METRIC)"
            if let near = closestMatch(to: words[0], among: ["knee", "best"]) { reason += ". Did you mean '\(near)'?" }
            throw fail(reason)
        }
        let constraints = try parts.dropFirst().map { part -> MetricConstraint in
            guard !part.isEmpty else { throw fail("empty constraint after a comma") }
            for relation in [MetricConstraint.Relation.atMost, .atLeast] {
                guard let range = part.range(of: relation.rawValue) else { continue }
                let metric = part[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let bound = part[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard !metric.isEmpty else { throw fail("constraint '\(part)' names no metric") }
                guard let value = Double(bound), value.isFinite else { throw fail("bound '\(bound)' of '\(part)' is not a number") }
                return MetricConstraint(metric, relation, value)
            }
            throw fail("constraint '\(part)' is not METRIC<=NUMBER or METRIC>=NUMBER")
        }
        return PickRule(choice: choice, constraints: constraints, text: text)
    }

    private static func spell(_ choice: Choice, _ constraints: [MetricConstraint]) -> String {
        var head: String
        switch choice {
        case .knee: head = "knee"
        case .best(let metric, let direction):
            head = "best:" + metric
            if let direction { head += direction == .minimize ? ":min" : ":max" }
        }
        return ([head] + constraints.map { "\($0.metric)\($0.relation.rawValue)\(JSONValue.format($0.bound))" }).joined(separator: ",")
    }
}

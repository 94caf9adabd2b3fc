import Foundation
import Store

/// Reading a study's trials through its objectives: objective vectors, constraint violations,
/// the Pareto front, the reference point and the hypervolume. Pure functions of the records, so
/// every command (search, show, front, plot) sees the same answer.
public struct StudyObjectives: Sendable {
    public let objectives: [Objective]
    public let constraints: [MetricConstraint]

    public init(objectives: [Objective], constraints: [MetricConstraint] = []) {
        self.objectives = objectives; self.constraints = constraints
    }

    /// The objective values of `metrics` minimised (maximised ones negated), or the first missing
    /// metric's name.
    public func minimized(_ metrics: [String: Double]) -> Result<[Double], MissingMetric> {
        var out: [Double] = []
        for o in objectives {
            guard let v = metrics[o.metric] else { return .failure(MissingMetric(name: o.metric)) }
            out.append(o.minimized(v))
        }
        return .success(out)
    }

    public struct MissingMetric: Error { public let name: String }

    /// Total constraint violation: each constraint's shortfall relative to its bound's magnitude
    /// (so constraints in different units add up fairly), 0 when all hold. A constraint on a
    /// metric the evaluation did not report counts as violated by 1.
    public func violation(_ metrics: [String: Double]) -> Double {
        constraints.reduce(0) { total, c in
            guard let v = metrics[c.metric] else { return total + 1 }
            return total + c.violation(v) / max(abs(c.bound), 1e-12)
        }
    }

    /// How an evaluation's metrics end a trial: COMPLETE, INFEASIBLE (a constraint is violated)
    /// or FAIL (an objective is missing or a metric is not finite); PRUNED when it stopped early.
    public func verdict(_ metrics: [String: Double], stoppedEarly: Bool = false)
        -> (state: TrialState, violation: Double, message: String?) {
        if let bad = metrics.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
            return (.fail, 0, "metric '\(bad.key)' is \(bad.value)")
        }
        if case .failure(let missing) = minimized(metrics) {
            let got = metrics.isEmpty ? "nothing" : metrics.keys.sorted().joined(separator: ", ")
            return (.fail, 0, "metric '\(missing.name)' missing from the evaluation (it reported: \(got))")
        }
        let v = violation(metrics)
        if stoppedEarly { return (.pruned, v, "stopped early") }
        return (v > 0 ? .infeasible : .complete, v, nil)
    }

    /// A stored trial as strategies learn from it.
    public func result(_ trial: TrialRecord, configuration: Configuration) -> TrialResult {
        let outcome: TrialOutcome
        switch trial.state {
        case .complete: outcome = .complete
        case .infeasible: outcome = .infeasible
        case .pruned: outcome = .pruned
        case .fail, .running, .stale: outcome = .failed
        }
        guard outcome != .failed, case .success(let values) = minimized(trial.metrics) else {
            return TrialResult(number: trial.number, configuration: configuration, outcome: .failed, objectives: [])
        }
        return TrialResult(number: trial.number, configuration: configuration, outcome: outcome, objectives: values,
                           violation: trial.violation)
    }

    /// The trials that rank: fully evaluated ones (complete or infeasible) with every objective.
    public func ranked(_ trials: [TrialRecord]) -> [(trial: TrialRecord, values: [Double])] {
        trials.compactMap { t in
            guard t.state == .complete || t.state == .infeasible, case .success(let v) = minimized(t.metrics) else { return nil }
            return (t, v)
        }
    }

    /// The Pareto front under Deb's constrained domination: the non-dominated feasible trials
    /// (or, when none is feasible, the least-violating ones), ordered by the first objective as
    /// written (ties by trial number).
    public func front(_ trials: [TrialRecord]) -> [TrialRecord] {
        let r = ranked(trials)
        guard !r.isEmpty else { return [] }
        // Under constrained domination, rank 0 is the non-dominated feasible trials, or — none
        // being feasible — every trial with the least violation (they tie).
        let feasible = r.filter { $0.trial.violation <= 0 }
        var members: [(trial: TrialRecord, values: [Double])]
        if feasible.isEmpty {
            let least = r.map(\.trial.violation).min()!
            members = r.filter { $0.trial.violation == least }
        } else {
            // An archive: O(n · front size), not the O(n²) of a full sort, so large studies stay quick.
            members = []
            for candidate in feasible where !members.contains(where: { ParetoFront.dominates($0.values, candidate.values) }) {
                members.removeAll { ParetoFront.dominates(candidate.values, $0.values) }
                members.append(candidate)
            }
        }
        return members.sorted { ($0.values[0], $0.trial.number) < ($1.values[0], $1.trial.number) }.map(\.trial)
    }

    /// A reference point for the hypervolume, in the objectives' own units: per objective the
    /// worst value among feasible trials pushed out by 10% of the observed range (or by 10% of
    /// its magnitude when all values are equal). Nil when no feasible trial has objectives.
    public func chooseReferencePoint(_ trials: [TrialRecord]) -> [Double]? {
        let feasible = ranked(trials).filter { $0.trial.violation <= 0 }.map(\.values)
        guard !feasible.isEmpty else { return nil }
        return objectives.indices.map { m in
            let column = feasible.map { $0[m] }
            let worst = column.max()!, best = column.min()!
            let margin = worst > best ? 0.1 * (worst - best) : max(0.1 * abs(worst), 1e-9)
            let minimizedReference = worst + margin
            return objectives[m].direction == .minimize ? minimizedReference : -minimizedReference
        }
    }

    /// Hypervolume of the feasible trials against `reference` (own units), in minimised space.
    public func hypervolume(_ trials: [TrialRecord], reference: [Double]) -> Double {
        let members = front(trials).filter { $0.violation <= 0 }
        let points = members.compactMap { t -> [Double]? in
            if case .success(let v) = minimized(t.metrics) { return v } else { return nil }
        }
        return Search.hypervolume(points, reference: zip(objectives, reference).map { $0.minimized($1) })
    }
}

import Engine
import Search
import Store

/// Chooses the trial an export is made from: by number, or by a `PickRule` over the study's
/// COMPLETE trials. Pure functions of the records, so the rules are testable on hand-made fronts.
public enum TrialPicker {
    /// Trial `number` of the study, which must exist and be COMPLETE.
    public static func trial(_ number: Int, in trials: [TrialRecord], study: String) throws -> TrialRecord {
        guard let t = trials.first(where: { $0.number == number }) else {
            let last = trials.map(\.number).max()
            throw ReportError("study '\(study)' has no trial \(number)" + (last.map { " (trials are numbered 0 to \($0))" } ?? " (it has no trials)"))
        }
        guard t.state == .complete else {
            throw ReportError("trial \(number) of study '\(study)' is \(t.state.rawValue), not COMPLETE"
                              + (t.message.map { " (\($0))" } ?? "") + "; export a COMPLETE trial")
        }
        return t
    }

    /// The trial `rule` chooses among the COMPLETE trials of a study with `objectives`.
    /// - Throws: `ReportError` when the study has no COMPLETE trial, when the rule names a metric
    ///   no trial reports (with the nearest name), or when no trial satisfies the constraints.
    public static func pick(_ rule: PickRule, trials: [TrialRecord], objectives: StudyObjectives, study: String) throws -> TrialRecord {
        let complete = trials.filter { $0.state == .complete }
        guard !complete.isEmpty else {
            throw ReportError("study '\(study)' has no COMPLETE trial to export" + (trials.isEmpty ? " (it has no trials yet)" : " (\(trials.count) trial\(trials.count == 1 ? "" : "s"), none complete)"))
        }
        let known = Set(objectives.objectives.map(\.metric) + complete.flatMap(\.metrics.keys)).sorted()
        func check(_ metric: String) throws {
            guard !known.contains(metric) else { return }
            var reason = "pick rule '\(rule.text)': no trial of study '\(study)' reports '\(metric)'"
            if let near = closestMatch(to: metric, among: known) { reason += ". Did you mean '\(near)'?" }
            throw ReportError(reason)
        }
        for c in rule.constraints { try check(c.metric) }
        let admitted = complete.filter { t in
            rule.constraints.allSatisfy { c in t.metrics[c.metric].map { c.violation($0) <= 0 } ?? false }
        }
        func none(_ what: String) -> ReportError {
            ReportError("pick rule '\(rule.text)': of the \(complete.count) COMPLETE trials of study '\(study)', \(what)")
        }
        switch rule.choice {
        case .knee:
            let front = objectives.front(admitted)
            let points = front.compactMap { t -> (number: Int, values: [Double])? in
                guard case .success(let v) = objectives.minimized(t.metrics) else { return nil }
                return (t.number, v)
            }
            guard let number = knee(points), let t = front.first(where: { $0.number == number }) else {
                throw none(rule.constraints.isEmpty ? "none reports every objective" : "none satisfies the constraints")
            }
            return t
        case .best(let metric, let given):
            try check(metric)
            guard let direction = given ?? objectives.objectives.first(where: { $0.metric == metric })?.direction else {
                throw ReportError("pick rule '\(rule.text)': '\(metric)' is not an objective of study '\(study)'; "
                                  + "give its direction (best:\(metric):min or best:\(metric):max)")
            }
            // A tie goes to a member of the front (the tied trial that is no worse elsewhere),
            // then to the smaller trial number.
            let front = Set(objectives.front(admitted).map(\.number))
            let scored = admitted.compactMap { t -> (TrialRecord, Double, Int)? in
                guard let v = t.metrics[metric], v.isFinite else { return nil }
                return (t, Objective(metric, direction).minimized(v), front.contains(t.number) ? 0 : 1)
            }
            guard let best = scored.min(by: { ($0.1, $0.2, $0.0.number) < ($1.1, $1.2, $1.0.number) }) else {
                throw none(rule.constraints.isEmpty ? "none reports '\(metric)'" : "none satisfies the constraints and reports '\(metric)'")
            }
            return best.0
        }
    }

    /// Why `trial` is not on the Pareto front of `trials` (constrained domination, as
    /// `StudyObjectives.front`), or nil when it is on it.
    public static func offFront(_ trial: TrialRecord, trials: [TrialRecord], objectives: StudyObjectives) -> String? {
        let front = objectives.front(trials)
        guard !front.contains(where: { $0.number == trial.number }) else { return nil }
        guard case .success(let values) = objectives.minimized(trial.metrics) else { return "it does not report every objective" }
        if trial.violation > 0 { return "it breaks the study's constraints (violation \(JSONValue.format(trial.violation)))" }
        let dominators = front.filter { member in
            guard case .success(let v) = objectives.minimized(member.metrics) else { return false }
            return ParetoFront.dominates(v, values)
        }
        let names = dominators.prefix(3).map { "trial \($0.number)" }.joined(separator: ", ")
        return names.isEmpty ? "other trials dominate it"
            : "\(names)\(dominators.count > 3 ? " and \(dominators.count - 3) more" : "") \(dominators.count == 1 ? "is" : "are") as good in every objective and better in one"
    }

    /// The knee of a front: the member where improving one objective starts to cost most in the
    /// others.
    ///
    /// Objective values are minimised and normalised to [0, 1] over the front (an objective with
    /// one value across the front is 0 everywhere). With two objectives the knee is the member
    /// farthest from the straight line through the two extremes (the member best in the first
    /// objective, then the one best in the second) — the "maximum distance to the convex hull
    /// line" rule of Das (1999) and Deb & Gupta (2011). When that line degenerates (the extremes
    /// coincide, or no member lies off it), and for one or three or more objectives, the knee is
    /// the member closest (Euclidean) to the ideal point, the origin after normalisation.
    /// Ties (within 1e-12) go to the smaller trial number.
    ///
    ///     TrialPicker.knee([(0, [0, 1]), (1, [0.2, 0.3]), (2, [1, 0])])   // 1
    /// - Returns: the chosen member's trial number, nil for an empty front.
    public static func knee(_ front: [(number: Int, values: [Double])]) -> Int? {
        guard let first = front.first else { return nil }
        if front.count == 1 { return first.number }
        let m = first.values.count
        let lows = (0..<m).map { k in front.map { $0.values[k] }.min() ?? 0 }
        let highs = (0..<m).map { k in front.map { $0.values[k] }.max() ?? 0 }
        let normalised = front.map { p in
            (p.number, (0..<m).map { k in highs[k] > lows[k] ? (p.values[k] - lows[k]) / (highs[k] - lows[k]) : 0 })
        }
        /// The member with the largest score, ties to the smaller trial number.
        func argmax(_ score: ([Double]) -> Double) -> Int? {
            var best: (number: Int, score: Double)?
            for (number, v) in normalised {
                let s = score(v)
                if let b = best, s < b.score + 1e-12, !(abs(s - b.score) <= 1e-12 && number < b.number) { continue }
                best = (number, s)
            }
            return best?.number
        }
        func byIdealDistance() -> Int? { argmax { v in -v.reduce(0) { $0 + $1 * $1 }.squareRoot() } }
        guard m == 2 else { return byIdealDistance() }
        func extreme(_ k: Int) -> [Double] {
            normalised.min { ($0.1[k], $0.1[1 - k], $0.0) < ($1.1[k], $1.1[1 - k], $1.0) }!.1
        }
        let a = extreme(0), b = extreme(1)
        let dx = b[0] - a[0], dy = b[1] - a[1]
        let length = (dx * dx + dy * dy).squareRoot()
        guard length > 1e-12 else { return byIdealDistance() }
        let distance = { (v: [Double]) in abs(dx * (v[1] - a[1]) - dy * (v[0] - a[0])) / length }
        guard normalised.contains(where: { distance($0.1) > 1e-12 }) else { return byIdealDistance() }
        return argmax(distance)
    }
}

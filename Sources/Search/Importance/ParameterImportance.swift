import Engine
import Foundation
import Store

/// How much one parameter of a study matters for one objective.
public struct ParameterImportance: Equatable, Sendable {
    /// The parameter's key path, made unique by its option where two options define it
    /// (`SearchSpace.uniqueNames`).
    public var name: String
    /// Its share of the importances of all parameters, 0 to 1.
    public var importance: Double
    /// PED-ANOVA's v_d before normalising: the variance of the top-set indicator it explains.
    public var variance: Double

    public init(name: String, importance: Double, variance: Double) {
        self.name = name; self.importance = importance; self.variance = variance
    }
}

/// The parameter importances of one objective of a study, most important first.
///
///     let result = try StudyImportance.compute(trials: trials, space: spec.space, objectives: spec.objectives)
///     result[0].parameters.first?.name   // "x0"
public struct ObjectiveImportance: Equatable, Sendable {
    public var objective: Objective
    /// COMPLETE trials with this metric: the ones measured.
    public var trials: Int
    /// The trials the importance explains: the best `targetQuantile` of them (ties taken in).
    public var topTrials: Int
    /// Every parameter of the space, by importance (ties by name).
    public var parameters: [ParameterImportance]

    public init(objective: Objective, trials: Int, topTrials: Int, parameters: [ParameterImportance]) {
        self.objective = objective; self.trials = trials; self.topTrials = topTrials; self.parameters = parameters
    }
}

/// Parameter importance for a study's trials: which parameters decide whether a trial is among
/// the best, per objective and in the objective's own direction, by `PEDANOVA`.
///
/// Only COMPLETE trials count (an infeasible, pruned or failed trial says nothing about how good
/// its parameters are), and only those whose parameters still fit the space. Each objective of a
/// study with several is measured on its own: the importances of one objective sum to 1.
public enum StudyImportance {
    /// The importances for `objectives` (all of a study's, or the one asked for).
    /// - Throws: `StudyError(.input)` naming how many trials count and how many are needed when
    ///   there are fewer than `PEDANOVA.minimumTrials`, or when the space has no parameters.
    public static func compute(trials: [TrialRecord], space: SearchSpace, objectives: [Objective],
                               options: PEDANOVA.Options = .init(), study: String = "the study") throws -> [ObjectiveImportance] {
        guard !space.isEmpty else { throw StudyError(.input, "\(study) searches no parameters: there is nothing to rank") }
        let ped = PEDANOVA(options)
        let names = space.uniqueNames
        // Each COMPLETE trial's configuration and each parameter's column, read once for all objectives.
        let complete = trials.compactMap { t -> (trial: TrialRecord, configuration: Configuration)? in
            guard t.state == .complete, let c = try? space.configuration(from: t.parameters) else { return nil }
            return (t, c)
        }
        let all = space.dimensions.indices.map { d in
            ImportanceColumn(domain: space.dimensions[d].domain,
                             values: complete.map { space.isActive(d, in: $0.configuration) ? $0.configuration.values[d] : nil })
        }
        return try objectives.map { objective in
            var rows: [Int] = [], losses: [Double] = []
            for (i, t) in complete.enumerated() {
                guard let v = t.trial.metrics[objective.metric], v.isFinite else { continue }
                rows.append(i)
                losses.append(objective.minimized(v))
            }
            guard losses.count >= ped.minimumTrials else {
                throw StudyError(.input, "\(study) has \(losses.count) complete trial\(losses.count == 1 ? "" : "s") with '\(objective.metric)'; "
                                         + "parameter importance needs at least \(ped.minimumTrials) (the best "
                                         + "\(percent(options.targetQuantile)) must hold \(PEDANOVA.minimumTarget))")
            }
            let columns = rows.count == complete.count ? all
                : all.map { column in ImportanceColumn(domain: column.domain, values: rows.map { column.values[$0] }) }
            let variances = ped.variances(columns, losses: losses)
            let shares = PEDANOVA.normalized(variances)
            let parameters = names.indices.map { ParameterImportance(name: names[$0], importance: shares[$0], variance: variances[$0]) }
                .sorted { ($1.importance, $0.name) < ($0.importance, $1.name) }
            return ObjectiveImportance(objective: objective, trials: losses.count, topTrials: ped.split(losses).target,
                                       parameters: parameters)
        }
    }

    /// "10%", "2.5%".
    public static func percent(_ q: Double) -> String { JSONValue.format(q * 100) + "%" }
}

extension Study {
    /// The parameter importances of this study's objectives (or of `metric` alone), from its
    /// COMPLETE trials.
    /// - Throws: `StudyError(.input)` for a metric that is not one of the study's objectives
    ///   (naming the closest) or too few complete trials.
    public func importance(of metric: String? = nil, options: PEDANOVA.Options = .init()) throws -> [ObjectiveImportance] {
        var chosen = spec.objectives
        if let metric {
            guard let objective = spec.objectives.first(where: { $0.metric == metric }) else {
                let metrics = spec.objectives.map(\.metric)
                var reason = "study '\(name)' has no objective '\(metric)' (objectives: \(metrics.joined(separator: ", ")))"
                if let near = closestMatch(to: metric, among: metrics) { reason += ". Did you mean '\(near)'?" }
                throw StudyError(.input, reason)
            }
            chosen = [objective]
        }
        return try StudyImportance.compute(trials: try trials(), space: spec.space, objectives: chosen, options: options,
                                           study: "study '\(name)'")
    }
}

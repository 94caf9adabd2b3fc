import Foundation
import Search
import Store

/// One trial drawn as a point: its number and two metric values in their own units.
public struct PlotPoint: Equatable, Sendable {
    public var trial: Int
    public var x: Double
    public var y: Double
    public init(trial: Int, x: Double, y: Double) { self.trial = trial; self.x = x; self.y = y }
}

/// The trials of a study on two of its objectives: the pair's Pareto front (feasible, non-dominated
/// on these two under constrained domination; ordered along x so it can be joined), the feasible
/// trials it dominates, and the infeasible ones. Failed, pruned and running trials are not drawn.
///
///     let scatter = FrontScatter(trials, objectives: analysis, x: 0, y: 1)
///     scatter.front.map(\.trial)      // the members, left to right
public struct FrontScatter: Equatable, Sendable {
    public var xMetric: String
    public var yMetric: String
    public var front: [PlotPoint]
    public var dominated: [PlotPoint]
    public var infeasible: [PlotPoint]

    public init(_ trials: [TrialRecord], objectives: StudyObjectives, x: Int, y: Int) {
        let ox = objectives.objectives[x], oy = objectives.objectives[y]
        xMetric = ox.metric; yMetric = oy.metric
        let pair = StudyObjectives(objectives: [ox, oy], constraints: objectives.constraints)
        let ranked = pair.ranked(trials).map(\.trial)
        func point(_ t: TrialRecord) -> PlotPoint { PlotPoint(trial: t.number, x: t.metrics[ox.metric]!, y: t.metrics[oy.metric]!) }
        let members = pair.front(ranked).filter { $0.violation <= 0 }
        let onFront = Set(members.map(\.number))
        front = members.map(point).sorted { ($0.x, $0.trial) < ($1.x, $1.trial) }
        dominated = ranked.filter { $0.violation <= 0 && !onFront.contains($0.number) }.map(point)
        infeasible = ranked.filter { $0.violation > 0 }.map(point)
    }

    /// Whether there is anything to draw.
    public var isEmpty: Bool { front.isEmpty && dominated.isEmpty && infeasible.isEmpty }
}

/// The study's hypervolume after each finished trial, in finish order: (trials finished so far,
/// hypervolume of the feasible ones against `reference`, in the objectives' own units).
/// At most `points` samples, evenly spaced over the trials (always including the last), so a
/// study of 100,000 trials does not compute 100,000 hypervolumes.
///
///     HypervolumeHistory.make(trials, objectives: analysis, reference: [0.5, 1e6])
///     // [(1, 0.0), (2, 0.031), ..., (40, 0.274)]
public enum HypervolumeHistory {
    public static func make(_ trials: [TrialRecord], objectives: StudyObjectives, reference: [Double],
                            points: Int = 400) -> [(trials: Int, hypervolume: Double)] {
        let finished = trials.filter { $0.state.isFinished }.sorted {
            ($0.finishSequence ?? Int64($0.number), $0.number) < ($1.finishSequence ?? Int64($1.number), $1.number)
        }
        guard !finished.isEmpty else { return [] }
        let minimizedReference = zip(objectives.objectives, reference).map { $0.minimized($1) }
        let vectors = finished.map { t -> [Double]? in
            guard t.state == .complete, t.violation <= 0, case .success(let v) = objectives.minimized(t.metrics) else { return nil }
            return v
        }
        return Search.hypervolumeHistory(vectors, reference: minimizedReference, checkpoints: max(points, 1))
            .map { ($0.count, $0.hypervolume) }
    }
}

/// Per trial, one metric's learning curve from its intermediate values (step, value), with the
/// trial's state so pruned trials can be drawn apart.
public struct LearningCurve: Equatable, Sendable {
    public var trial: Int
    public var state: TrialState
    public var points: [PlotPoint]

    /// Curves of `metric` for every trial that reported it, in trial order.
    public static func make(_ trials: [TrialRecord], metric: String) -> [LearningCurve] {
        trials.compactMap { t in
            let points = t.intermediate.keys.sorted().compactMap { step in
                t.intermediate[step]?[metric].map { PlotPoint(trial: t.number, x: Double(step), y: $0) }
            }
            return points.isEmpty ? nil : LearningCurve(trial: t.number, state: t.state, points: points)
        }
    }

    /// The metric curves are drawn for: the first objective any trial reported at a step, else
    /// the first metric reported at all (alphabetically); nil when no trial reported one.
    public static func metric(_ trials: [TrialRecord], objectives: [String]) -> String? {
        let reported = Set(trials.flatMap { $0.intermediate.values.flatMap(\.keys) })
        return objectives.first(where: reported.contains) ?? reported.sorted().first
    }
}

/// Parallel coordinates: one axis per parameter of the space (its position in the domain, 0 to
/// 1, log-scaled where the domain is) and one per objective (min to max over the trials drawn),
/// one line per fully evaluated trial (thinned beyond `limit`), front members marked.
public struct ParallelCoordinates: Equatable, Sendable {
    public struct Axis: Equatable, Sendable {
        public var name: String
        /// Labels at 0 and 1 (the domain's ends or the objective's range).
        public var low: String
        public var high: String
    }
    public struct Line: Equatable, Sendable {
        public var trial: Int
        public var onFront: Bool
        /// One value in [0, 1] per axis; nil where the parameter is inactive for this trial.
        public var values: [Double?]
    }
    public var axes: [Axis]
    public var lines: [Line]

    /// Four significant digits: enough to read an axis end.
    static func short(_ x: Double) -> String { String(format: "%.4g", x) }

    /// - Parameter limit: at most this many lines besides the front's: the others are thinned
    ///   to every k-th trial, so a study of 100,000 trials still draws in seconds.
    public init(_ trials: [TrialRecord], space: SearchSpace, objectives: StudyObjectives, limit: Int = 1000) {
        let front = Set(objectives.front(trials).map(\.number))
        let all = objectives.ranked(trials).map(\.trial)
        let others = all.count - front.count, stride = max(1, (others + limit - 1) / max(limit, 1))
        var seen = 0
        let ranked = all.filter { t in
            if front.contains(t.number) { return true }
            seen += 1
            return (seen - 1) % stride == 0
        }
        var axes = space.dimensions.map { d -> Axis in
            let ends = [0.0, 1.0].map { u -> String in
                let v = d.domain.json(d.domain.value(atUnit: u))
                if case .number(let x) = v { return Self.short(x) }
                return v.compactText
            }
            return Axis(name: d.name, low: ends[0], high: ends[1])
        }
        let ranges = objectives.objectives.map { o -> ClosedRange<Double> in
            let values = ranked.compactMap { $0.metrics[o.metric] }
            return (values.min() ?? 0) ... (values.max() ?? 1)
        }
        axes += zip(objectives.objectives, ranges).map { o, r in
            Axis(name: o.metric, low: Self.short(r.lowerBound), high: Self.short(r.upperBound))
        }
        self.axes = axes
        lines = ranked.map { t in
            let byName = Dictionary(t.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            var values: [Double?] = space.dimensions.map { d in byName[d.name].map { d.domain.unit(of: $0) } }
            values += zip(objectives.objectives, ranges).map { o, r in
                t.metrics[o.metric].map { r.upperBound > r.lowerBound ? ($0 - r.lowerBound) / (r.upperBound - r.lowerBound) : 0.5 }
            }
            return Line(trial: t.number, onFront: front.contains(t.number), values: values)
        }
    }
}

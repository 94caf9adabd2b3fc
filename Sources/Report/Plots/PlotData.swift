import Foundation
import Search
import Store

/// One trial drawn as a point: its number and two (or three) metric values in their own units.
public struct PlotPoint: Equatable, Sendable {
    public var trial: Int
    public var x: Double
    public var y: Double
    public var z: Double?
    public init(trial: Int, x: Double, y: Double, z: Double? = nil) { self.trial = trial; self.x = x; self.y = y; self.z = z }
}

/// The trials of a study on two (or three) of its objectives, split by the study's own Pareto
/// front over EVERY objective: its members (feasible and non-dominated in all objectives, so a
/// panel of a three-objective study highlights the true front, not the pair's), the feasible
/// trials they dominate, and the infeasible ones. Failed, pruned and running trials are not drawn.
///
/// The axis ranges are set by the feasible trials alone (all trials when none is feasible);
/// infeasible trials outside them are moved onto the nearest edge and listed in `clipped`.
/// `labelled` are the front members worth a label: the knee, the extremes, then others spread
/// along the front, at most `labels` of them and none overlapping another.
///
///     let scatter = FrontScatter(trials, objectives: analysis, x: 0, y: 1)
///     scatter.front.map(\.trial)      // the members, left to right
public struct FrontScatter: Equatable, Sendable {
    public var xMetric: String
    public var yMetric: String
    public var zMetric: String?
    public var front: [PlotPoint]
    public var dominated: [PlotPoint]
    /// Infeasible trials inside the ranges.
    public var infeasible: [PlotPoint]
    /// Infeasible trials outside the ranges, drawn on their edge.
    public var clipped: [PlotPoint]
    /// One range per coordinate drawn (x, y and z when there is one).
    public var ranges: [AxisRange]
    public var labelled: [PlotPoint]

    public init(_ trials: [TrialRecord], objectives: StudyObjectives, x: Int, y: Int, z: Int? = nil,
                scale: AxisScale = .automatic, labels: Int = 10) {
        let drawn = [x, y] + (z.map { [$0] } ?? []), metrics = drawn.map { objectives.objectives[$0].metric }
        xMetric = metrics[0]; yMetric = metrics[1]; zMetric = z == nil ? nil : metrics[2]
        let ranked = objectives.ranked(trials)
        let feasible = ranked.filter { $0.trial.violation <= 0 }
        let members = feasible.isEmpty ? [] : objectives.front(feasible.map(\.trial))
        let onFront = Set(members.map(\.number))
        func point(_ t: TrialRecord) -> PlotPoint {
            let v = metrics.map { t.metrics[$0]! }
            return PlotPoint(trial: t.number, x: v[0], y: v[1], z: v.count > 2 ? v[2] : nil)
        }
        front = members.map(point).sorted { ($0.x, $0.trial) < ($1.x, $1.trial) }
        dominated = feasible.filter { !onFront.contains($0.trial.number) }.map { point($0.trial) }
        let outside = ranked.filter { $0.trial.violation > 0 }.map { point($0.trial) }
        let setting = feasible.isEmpty ? outside : front + dominated
        let coordinates: [(PlotPoint) -> Double] = [{ $0.x }, { $0.y }, { $0.z ?? 0 }]
        let ranges = drawn.indices.map { k in AxisRange(setting.map(coordinates[k]), scale: scale) }
        self.ranges = ranges
        infeasible = []; clipped = []
        for p in outside {
            let moved = ranges.indices.map { ranges[$0].clip(coordinates[$0](p)) }
            let q = PlotPoint(trial: p.trial, x: moved[0].value, y: moved[1].value, z: moved.count > 2 ? moved[2].value : nil)
            if moved.contains(where: \.clipped) { clipped.append(q) } else { infeasible.append(q) }
        }
        let minimized = Dictionary(ranked.map { ($0.trial.number, $0.values) }, uniquingKeysWith: { a, _ in a })
        let knee = TrialPicker.knee(members.compactMap { t in minimized[t.number].map { (t.number, $0) } })
        let extremes = objectives.objectives.indices.compactMap { k in
            members.min { (minimized[$0.number]?[k] ?? 0, $0.number) < (minimized[$1.number]?[k] ?? 0, $1.number) }?.number
        }
        labelled = FrontLabels.choose(front, ranges: ranges, first: (knee.map { [$0] } ?? []) + extremes, limit: labels)
    }

    /// Whether there is anything to draw.
    public var isEmpty: Bool { front.isEmpty && dominated.isEmpty && infeasible.isEmpty && clipped.isEmpty }
}

/// Which front members get a label: those named in `first` (the knee, then the best member in
/// each objective), then members spread evenly along the front, skipping any whose label would
/// overlap one already placed (closer than `width` of the x axis and `height` of the y axis as
/// drawn), at most `limit` in all.
///
///     FrontLabels.choose(front, ranges: scatter.ranges, first: [knee], limit: 10)
public enum FrontLabels {
    public static func choose(_ front: [PlotPoint], ranges: [AxisRange], first: [Int], limit: Int,
                              width: Double = 0.07, height: Double = 0.04) -> [PlotPoint] {
        guard ranges.count >= 2, limit > 0 else { return [] }
        let byTrial = Dictionary(front.map { ($0.trial, $0) }, uniquingKeysWith: { a, _ in a })
        let step = max(1, front.count / max(limit, 1))
        let spread = stride(from: 0, to: front.count, by: step).map { front[$0].trial }
        var chosen: [PlotPoint] = []
        for trial in first + spread where chosen.count < limit {
            guard let p = byTrial[trial], !chosen.contains(where: { $0.trial == trial }) else { continue }
            let overlaps = chosen.contains { q in
                abs(ranges[0].fraction(p.x) - ranges[0].fraction(q.x)) < width
                    && abs(ranges[1].fraction(p.y) - ranges[1].fraction(q.y)) < height
            }
            if !overlaps { chosen.append(p) }
        }
        return chosen
    }
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

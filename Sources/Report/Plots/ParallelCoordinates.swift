import Engine
import Foundation
import Search
import Store

/// Parallel coordinates: one axis per parameter of the space (its position in the domain, 0 to
/// 1, log-scaled where the domain is) and one per objective (min to max over the trials drawn),
/// one line per fully evaluated trial (thinned beyond `limit`), front members marked.
///
/// Every axis is named by a key path no other axis has (a parameter that two options of a choice
/// both define is told apart by its option: `training.optimizer[sgd].lr`). A parameter inactive
/// for a trial (its option not chosen) has no value; the plot draws it on a level of its own
/// below the axis so the trial's line goes on. `panels` splits the parameters so that each
/// panel, objectives included, holds at most a given number of axes.
public struct ParallelCoordinates: Equatable, Sendable {
    public struct Tick: Equatable, Sendable {
        /// Where along the axis, 0 to 1.
        public var position: Double
        public var label: String
    }
    public struct Axis: Equatable, Sendable {
        public var name: String
        /// Labelled places: the domain's ends or the objective's range, each option of a small
        /// choice; never so many nor so long that two overprint.
        public var ticks: [Tick]
        public var isParameter: Bool
        public var low: String { ticks.first?.label ?? "" }
        public var high: String { ticks.last?.label ?? "" }
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

    /// The longest tick label, in characters: what fits between two axes 1280 px / 11 apart.
    static let labelLength = 12
    /// The most labels one axis carries: what fits, one above the other, on a panel's axis.
    static let labelsPerAxis = 9

    /// A label cut to `labelLength` characters, "…" marking the cut.
    static func fit(_ s: String) -> String {
        s.count <= labelLength ? s : String(s.prefix(labelLength - 1)) + "…"
    }

    /// The labelled places of a parameter's axis: every option (or integer) of a small discrete
    /// domain, every k-th of a larger one (first and last always), the two ends of a continuous one.
    static func ticks(_ domain: Domain) -> [Tick] {
        func label(_ u: Double) -> String {
            let v = domain.json(domain.value(atUnit: u))
            if case .number(let x) = v { return fit(short(x)) }
            return fit(SearchSpace.optionLabel(v))
        }
        guard let count = domain.cardinality, count > 1, domain.isCategorical || count <= labelsPerAxis,
              let values = domain.allValues else {
            return [Tick(position: 0, label: label(0)), Tick(position: 1, label: label(1))]
        }
        let step = (count + labelsPerAxis - 2) / (labelsPerAxis - 1)
        var kept = Array(stride(from: 0, to: count, by: max(step, 1)))
        if let last = kept.last, last != count - 1 {
            if count - 1 - last < step { kept.removeLast() }
            kept.append(count - 1)
        }
        return kept.map { i in
            let u = domain.unit(of: values[i])
            return Tick(position: u, label: label(u))
        }
    }

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
        var axes = zip(space.uniqueNames, space.dimensions).map { name, d in
            Axis(name: name, ticks: Self.ticks(d.domain), isParameter: true)
        }
        let ranges = objectives.objectives.map { o -> ClosedRange<Double> in
            let values = ranked.compactMap { $0.metrics[o.metric] }
            return (values.min() ?? 0) ... (values.max() ?? 1)
        }
        axes += zip(objectives.objectives, ranges).map { o, r in
            Axis(name: o.metric, ticks: [Tick(position: 0, label: Self.short(r.lowerBound)), Tick(position: 1, label: Self.short(r.upperBound))],
                 isParameter: false)
        }
        self.axes = axes
        lines = ranked.map { t in
            let byName = Dictionary(t.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            // A dimension is active when its parent is and took its option (parents come first).
            var raw: [Double?] = []
            for d in space.dimensions {
                if let c = d.condition, raw[c.parent].map({ Int($0) != c.option }) ?? true {
                    raw.append(nil)
                } else {
                    raw.append(byName[d.name])
                }
            }
            var values: [Double?] = zip(space.dimensions, raw).map { d, v in v.map { d.domain.unit(of: $0) } }
            values += zip(objectives.objectives, ranges).map { o, r in
                t.metrics[o.metric].map { r.upperBound > r.lowerBound ? ($0 - r.lowerBound) / (r.upperBound - r.lowerBound) : 0.5 }
            }
            return Line(trial: t.number, onFront: front.contains(t.number), values: values)
        }
    }

    /// The axes of each panel, as indices into `axes`: the parameters in the space's order, split
    /// as evenly as possible so no panel has more than `maxAxes` axes, each panel followed by
    /// every objective axis. One panel when everything fits.
    ///
    ///     pc.panels(maxAxes: 12)   // 30 parameters, 2 objectives: [[0…9, 30, 31], [10…19, 30, 31], [20…29, 30, 31]]
    public func panels(maxAxes: Int) -> [[Int]] {
        let parameters = axes.indices.filter { axes[$0].isParameter }
        let objectives = axes.indices.filter { !axes[$0].isParameter }
        let room = max(maxAxes - objectives.count, 1)
        guard parameters.count > room else { return [parameters + objectives] }
        let count = (parameters.count + room - 1) / room
        let size = (parameters.count + count - 1) / count
        return Swift.stride(from: 0, to: parameters.count, by: size).map { start in
            Array(parameters[start ..< min(start + size, parameters.count)]) + objectives
        }
    }
}

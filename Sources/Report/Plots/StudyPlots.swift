import Engine
import Foundation
import Search
import Store

/// The plots of one study, as gnuplot scripts built from the pure plot data:
///
/// - `front`: the Pareto front of two objectives (dominated trials faint, the front joined and
///   labelled with trial numbers, infeasible trials marked); with three or more objectives,
///   `fronts`, a matrix of every pair; with one objective, `progress`, each trial's value and the
///   best so far;
/// - `hypervolume`: the hypervolume of the feasible trials after each finished trial;
/// - `learning_curves`: the first objective's intermediate values per trial (pruned trials dashed);
/// - `parallel_coordinates`: every parameter and objective, one line per evaluated trial, the
///   front's highlighted.
///
/// Titles name the study and the hardware profiles its metrics are costed on; axis labels carry
/// units and which way is better.
///
///     let plots = StudyPlots(study: record, spec: spec, trials: trials)
///     let paths = try plots.draw(format: .svg, directory: "results/quickstart", gnuplot: try .locate())
public struct StudyPlots {
    public let study: StudyRecord
    public let spec: StudySpec
    public let trials: [TrialRecord]

    public init(study: StudyRecord, spec: StudySpec, trials: [TrialRecord]) {
        self.study = study; self.spec = spec; self.trials = trials
    }

    var analysis: StudyObjectives { StudyObjectives(objectives: spec.objectives, constraints: spec.constraints) }

    static let frontColour = "'#1f77b4'", faint = "'#c8c8c8'", infeasibleColour = "'#d62728'", prunedColour = "'#ff7f0e'"

    /// "quickstart: <what>", with " on PROFILE" when the study's metrics are costed on hardware.
    func title(_ what: String) -> String {
        let profiles = MetricLabel.profiles(of: spec)
        return "\(study.name): \(what)" + (profiles.isEmpty ? "" : " on \(profiles.joined(separator: ", "))")
    }

    /// An axis label: the metric's quantity and unit and which way is better.
    func axisLabel(_ objective: Objective) -> String {
        let label = MetricLabel(objective.metric, evaluator: spec.evaluator)
        return "\(label.quantity ?? label.base), \(objective.direction == .minimize ? "lower" : "higher") is better"
    }

    /// Log scale when every value is positive and they span more than three decades.
    static func wantsLog(_ values: [Double]) -> Bool {
        guard let lo = values.min(), let hi = values.max(), lo > 0 else { return false }
        return hi / lo > 1000
    }

    /// Every plot this study can draw now, by file stem, as scripts writing `directory/<stem>.<format>`.
    public func scripts(format: PlotFormat, directory: String) -> [(name: String, script: GnuplotScript)] {
        func output(_ name: String) -> String { (directory as NSString).appendingPathComponent("\(name).\(format.rawValue)") }
        var out: [(String, GnuplotScript)] = []
        let objectives = spec.objectives
        if objectives.count == 1 {
            if let s = progressScript(format: format, output: output("progress")) { out.append(("progress", s)) }
        } else if objectives.count == 2 {
            let scatter = FrontScatter(trials, objectives: analysis, x: 0, y: 1)
            if !scatter.isEmpty { out.append(("front", frontScript(scatter, format: format, output: output("front")))) }
        } else if let s = matrixScript(format: format, output: output("fronts")) {
            out.append(("fronts", s))
        }
        if objectives.count >= 2, let s = hypervolumeScript(format: format, output: output("hypervolume")) { out.append(("hypervolume", s)) }
        if let s = learningCurveScript(format: format, output: output("learning_curves")) { out.append(("learning_curves", s)) }
        if let s = parallelCoordinatesScript(format: format, output: output("parallel_coordinates")) {
            out.append(("parallel_coordinates", s))
        }
        return out
    }

    /// Draw every plot into `directory` (created if needed), keeping each script beside its image.
    /// - Returns: the image paths written.
    /// - Throws: `ReportError` when the study has nothing to draw yet, the directory cannot be
    ///   made, or gnuplot fails.
    public func draw(format: PlotFormat, directory: String, gnuplot: Gnuplot) throws -> [String] {
        let plots = scripts(format: format, directory: directory)
        guard !plots.isEmpty else {
            throw ReportError("study '\(study.name)' has no evaluated trials to plot yet")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError("\(directory): cannot create the plot directory (\(error.localizedDescription))", kind: .tool)
        }
        return try plots.map { name, script in
            let path = (directory as NSString).appendingPathComponent("\(name).gp")
            try gnuplot.run(script, scriptPath: path)
            return (directory as NSString).appendingPathComponent("\(name).\(format.rawValue)")
        }
    }

    // MARK: - Fronts

    /// The plot commands of one pair's scatter, its data blocks named with `tag`.
    func scatterPlot(_ s: FrontScatter, tag: String, into script: inout GnuplotScript, labels: Bool) -> String {
        func rows(_ points: [PlotPoint]) -> [[Double]] { points.map { [$0.x, $0.y, Double($0.trial)] } }
        var clauses: [String] = []
        if !s.dominated.isEmpty {
            script.dataBlock("dominated\(tag)", rows: rows(s.dominated))
            clauses.append("$dominated\(tag) using 1:2 with points pt 7 ps 0.7 lc rgb \(Self.faint) title 'dominated (\(s.dominated.count))'")
        }
        if !s.infeasible.isEmpty {
            script.dataBlock("infeasible\(tag)", rows: rows(s.infeasible))
            clauses.append("$infeasible\(tag) using 1:2 with points pt 2 ps 1.1 lc rgb \(Self.infeasibleColour) title 'infeasible (\(s.infeasible.count))'")
        }
        if !s.front.isEmpty {
            script.dataBlock("front\(tag)", rows: rows(s.front))
            clauses.append("$front\(tag) using 1:2 with linespoints pt 7 ps 1.2 lw 2 lc rgb \(Self.frontColour) title 'Pareto front (\(s.front.count))'")
            if labels {
                clauses.append("$front\(tag) using 1:2:(sprintf('#%d', $3)) with labels offset char 0.8,0.8 font ',8' tc rgb \(Self.frontColour) notitle")
            }
        }
        return clauses.joined(separator: ", \\\n     ")
    }

    func setAxes(_ s: FrontScatter, x: Objective, y: Objective, into script: inout GnuplotScript) {
        script.set("xlabel", GnuplotScript.quote(axisLabel(x)))
        script.set("ylabel", GnuplotScript.quote(axisLabel(y)))
        let all = s.front + s.dominated + s.infeasible
        for (axis, values) in [("x", all.map(\.x)), ("y", all.map(\.y))] {
            script.set("format", "\(axis) '%g'")
            if Self.wantsLog(values) { script.set("logscale", axis) }
        }
    }

    func frontScript(_ s: FrontScatter, format: PlotFormat, output: String) -> GnuplotScript {
        var script = GnuplotScript(format: format, output: output)
        let x = spec.objectives[0], y = spec.objectives[1]
        script.set("title", GnuplotScript.quote(title("Pareto front, \(x.metric) against \(y.metric)")))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("key", "outside right top")
        setAxes(s, x: x, y: y, into: &script)
        script.append("plot " + scatterPlot(s, tag: "", into: &script, labels: s.front.count <= 40))
        return script
    }

    /// Every pair of objectives in one image.
    func matrixScript(format: PlotFormat, output: String) -> GnuplotScript? {
        let m = spec.objectives.count
        let pairs = (0 ..< m).flatMap { i in (i + 1 ..< m).map { (i, $0) } }
        let scatters = pairs.map { FrontScatter(trials, objectives: analysis, x: $0.0, y: $0.1) }
        guard scatters.contains(where: { !$0.isEmpty }) else { return nil }
        let columns = pairs.count <= 3 ? pairs.count : 3, rows = (pairs.count + columns - 1) / columns
        var script = GnuplotScript(format: format, output: output, width: 520 * columns, height: 420 * rows + 40)
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("key", "top right font ',8'")
        script.append("set multiplot layout \(rows),\(columns) title \(GnuplotScript.quote(title("Pareto fronts of each pair of objectives")))")
        for ((i, j), s) in zip(pairs, scatters) where !s.isEmpty {
            script.append("unset logscale")
            setAxes(s, x: spec.objectives[i], y: spec.objectives[j], into: &script)
            script.append("plot " + scatterPlot(s, tag: "_\(i)_\(j)", into: &script, labels: false))
        }
        script.append("unset multiplot")
        return script
    }

    /// One objective: each trial's value and the best so far.
    func progressScript(format: PlotFormat, output: String) -> GnuplotScript? {
        let o = spec.objectives[0]
        let ranked = analysis.ranked(trials).filter { $0.trial.violation <= 0 }.sorted { $0.trial.number < $1.trial.number }
        guard !ranked.isEmpty else { return nil }
        var best = Double.infinity
        let rows = ranked.map { r -> [Double] in
            best = min(best, r.values[0])
            return [Double(r.trial.number), o.minimized(r.values[0]), o.minimized(best)]
        }
        var script = GnuplotScript(format: format, output: output)
        script.set("title", GnuplotScript.quote(title("\(o.metric) per trial and best so far")))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("xlabel", "'trial number'")
        script.set("ylabel", GnuplotScript.quote(axisLabel(o)))
        script.dataBlock("values", rows: rows)
        script.append("plot $values using 1:2 with points pt 7 ps 0.7 lc rgb \(Self.faint) title 'trial', \\\n"
            + "     $values using 1:3 with steps lw 2 lc rgb \(Self.frontColour) title 'best so far'")
        return script
    }

    // MARK: - Over the study

    /// The study's stored reference point, or one chosen from its trials.
    var referencePoint: [Double]? { study.referencePoint ?? analysis.chooseReferencePoint(trials) }

    func hypervolumeScript(format: PlotFormat, output: String) -> GnuplotScript? {
        guard let reference = referencePoint else { return nil }
        let history = HypervolumeHistory.make(trials, objectives: analysis, reference: reference)
        guard !history.isEmpty else { return nil }
        var script = GnuplotScript(format: format, output: output)
        let point = zip(spec.objectives, reference).map { "\($0.metric) \(JSONValue.format($1))" }.joined(separator: ", ")
        script.set("title", GnuplotScript.quote(title("hypervolume over trials (\(study.strategy))")))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("xlabel", "'trials finished'")
        script.set("ylabel", GnuplotScript.quote("hypervolume (reference \(point)), higher is better"))
        script.set("key", "bottom right")
        script.dataBlock("hypervolume", rows: history.map { [Double($0.trials), $0.hypervolume] })
        script.append("plot $hypervolume using 1:2 with steps lw 2 lc rgb \(Self.frontColour) title \(GnuplotScript.quote(study.strategy))")
        return script
    }

    func learningCurveScript(format: PlotFormat, output: String) -> GnuplotScript? {
        guard let metric = LearningCurve.metric(trials, objectives: spec.objectives.map(\.metric)) else { return nil }
        let curves = LearningCurve.make(trials, metric: metric)
        let groups: [(name: String, style: String, curves: [LearningCurve])] = [
            ("complete", "lw 1.5 lc rgb \(Self.frontColour)", curves.filter { $0.state == .complete }),
            ("pruned (stopped early)", "lw 1.5 dt 2 lc rgb \(Self.prunedColour)", curves.filter { $0.state == .pruned }),
            ("infeasible", "lw 1 lc rgb \(Self.infeasibleColour)", curves.filter { $0.state == .infeasible }),
            ("failed or running", "lw 1 lc rgb \(Self.faint)", curves.filter { $0.state == .fail || $0.state == .running }),
        ]
        var script = GnuplotScript(format: format, output: output)
        script.set("title", GnuplotScript.quote(title("learning curves of \(metric)")))
        script.set("grid", "lc rgb '#e5e5e5'")
        let steps = curves.flatMap { $0.points.map(\.x) }
        script.set("format", "x '%.0f'")
        if let last = steps.max(), last <= 20 { script.set("xtics", "1") }
        if case .engine = spec.evaluator {
            script.set("xlabel", "'epoch'")
            script.set("ylabel", GnuplotScript.quote("\(metric) on the validation split (the training batches without one)"))
        } else {
            script.set("xlabel", "'step'")
            script.set("ylabel", GnuplotScript.quote("\(metric) as reported at each step"))
        }
        script.set("key", "outside right top")
        var clauses: [String] = []
        for (i, g) in groups.enumerated() where !g.curves.isEmpty {
            script.dataBlock("curves\(i)", sets: g.curves.map { $0.points.map { [$0.x, $0.y] } })
            clauses.append("$curves\(i) using 1:2 with linespoints pt 7 ps 0.4 \(g.style) title '\(g.name) (\(g.curves.count))'")
        }
        script.append("plot " + clauses.joined(separator: ", \\\n     "))
        return script
    }

    func parallelCoordinatesScript(format: PlotFormat, output: String) -> GnuplotScript? {
        let pc = ParallelCoordinates(trials, space: spec.space, objectives: analysis)
        guard !pc.lines.isEmpty, pc.axes.count >= 2 else { return nil }
        var script = GnuplotScript(format: format, output: output, width: max(960, 110 * pc.axes.count), height: 640)
        script.set("title", GnuplotScript.quote(title("parameters and objectives of every evaluated trial")))
        script.set("yrange", "[-0.08:1.08]")
        script.set("xrange", "[0.7:\(Double(pc.axes.count) + 0.3)]")
        script.append("unset ytics")
        script.set("border", "0")
        script.set("bmargin", "8")
        script.set("lmargin", "14")
        let tics = pc.axes.enumerated().map { "\(GnuplotScript.quote($1.name)) \($0 + 1)" }.joined(separator: ", ")
        script.set("xtics", "(\(tics)) rotate by 30 right scale 0 font ',9'")
        for (i, axis) in pc.axes.enumerated() {
            let x = i + 1
            script.append("set arrow from \(x),0 to \(x),1 nohead lc rgb '#808080'")
            script.append("set label \(GnuplotScript.quote(axis.low)) at \(x),-0.04 center font ',8'")
            script.append("set label \(GnuplotScript.quote(axis.high)) at \(x),1.04 center font ',8'")
        }
        func sets(_ lines: [ParallelCoordinates.Line]) -> [[[Double]]] {
            lines.map { line in line.values.enumerated().map { [Double($0 + 1), $1 ?? .nan] } }
        }
        let others = pc.lines.filter { !$0.onFront }, front = pc.lines.filter(\.onFront)
        var clauses: [String] = []
        if !others.isEmpty {
            script.dataBlock("others", sets: sets(others))
            clauses.append("$others using 1:2 with lines lw 1 lc rgb \(Self.faint) title 'other trials (\(others.count))'")
        }
        if !front.isEmpty {
            script.dataBlock("front", sets: sets(front))
            clauses.append("$front using 1:2 with lines lw 2 lc rgb \(Self.frontColour) title 'Pareto front (\(front.count))'")
        }
        script.set("key", "outside bottom center horizontal")
        script.append("plot " + clauses.joined(separator: ", \\\n     "))
        return script
    }
}

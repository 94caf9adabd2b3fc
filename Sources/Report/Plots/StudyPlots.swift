import Engine
import Foundation
import Search
import Store

/// The plots of one study, as gnuplot scripts built from the pure plot data:
///
/// - `front`: the Pareto front of two objectives (dominated trials faint, the front joined, its
///   knee, extremes and a few more members labelled with trial numbers, infeasible trials marked);
///   with three or more objectives, `fronts`, every pair of objectives with the study's front
///   (over all objectives) highlighted, and with three, `front_3d`, the same in 3-D; with one
///   objective, `progress`, each trial's value and the best so far;
/// - `hypervolume`: the hypervolume of the feasible trials after each finished trial;
/// - `learning_curves`: the first objective's intermediate values per trial (pruned trials dashed);
/// - `parallel_coordinates`: every parameter and objective, one line per evaluated trial, the
///   front's highlighted, in panels of at most 12 axes.
///
/// Titles name the study and the hardware profiles its metrics are costed on; axis labels carry
/// units, which way is better, and "(log scale)" on a logarithmic axis.
///
///     let plots = StudyPlots(study: record, spec: spec, trials: trials)
///     let paths = try plots.draw(format: .svg, directory: "results/quickstart", gnuplot: try .locate())
public struct StudyPlots {
    public let study: StudyRecord
    public let spec: StudySpec
    public let trials: [TrialRecord]
    /// How the objective axes of the fronts are scaled.
    public let scale: AxisScale

    public init(study: StudyRecord, spec: StudySpec, trials: [TrialRecord], scale: AxisScale = .automatic) {
        self.study = study; self.spec = spec; self.trials = trials; self.scale = scale
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

    /// Every plot this study can draw now, by file stem, as scripts writing `directory/<stem>.<format>`.
    public func scripts(format: PlotFormat, directory: String) -> [(name: String, script: GnuplotScript)] {
        func output(_ name: String) -> String { (directory as NSString).appendingPathComponent("\(name).\(format.rawValue)") }
        var out: [(String, GnuplotScript)] = []
        let objectives = spec.objectives
        if objectives.count == 1 {
            if let s = progressScript(format: format, output: output("progress")) { out.append(("progress", s)) }
        } else if objectives.count == 2 {
            let pair = scatter([0, 1], labels: 10)
            if !pair.isEmpty { out.append(("front", frontScript(pair, format: format, output: output("front")))) }
        } else if let s = matrixScript(format: format, output: output("fronts")) {
            out.append(("fronts", s))
            if objectives.count == 3, let s = frontScript3D(format: format, output: output("front_3d")) { out.append(("front_3d", s)) }
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
        // The reference point goes under the title: on the axis it would run off the image.
        script.set("title", GnuplotScript.quoteLines([title("hypervolume over trials (\(study.strategy))"), "reference point: \(point)"]))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("xlabel", "'trials finished'")
        script.set("ylabel", "'hypervolume, higher is better'")
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
            ("failed, stale or running", "lw 1 lc rgb \(Self.faint)",
             curves.filter { $0.state == .fail || $0.state == .stale || $0.state == .running }),
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
}

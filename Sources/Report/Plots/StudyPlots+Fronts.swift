import Foundation
import Search

/// The front plots: two objectives, every pair of three or more, and three in 3-D.
extension StudyPlots {
    static let clippedMarker = "pt 8 ps 1.1"

    /// The plot clauses of one scatter, its data blocks named with `tag`: dominated trials faint,
    /// infeasible ones as red crosses (red triangles on the edge when outside the feasible range),
    /// the front (joined when `joined`), and its chosen labels.
    func scatterClauses(_ s: FrontScatter, tag: String, joined: Bool, into script: inout GnuplotScript) -> String {
        let columns = s.zMetric == nil ? "1:2" : "1:2:3"
        func rows(_ points: [PlotPoint]) -> [[Double]] { points.map { [$0.x, $0.y] + ($0.z.map { [$0] } ?? []) + [Double($0.trial)] } }
        let trialColumn = s.zMetric == nil ? 3 : 4
        var clauses: [String] = []
        func add(_ name: String, _ points: [PlotPoint], _ style: String, _ title: String) {
            guard !points.isEmpty else { return }
            script.dataBlock("\(name)\(tag)", rows: rows(points))
            clauses.append("$\(name)\(tag) using \(columns) \(style) title \(GnuplotScript.quote("\(title) (\(points.count))"))")
        }
        add("dominated", s.dominated, "with points pt 7 ps 0.6 lc rgb \(Self.faint)", "dominated")
        add("infeasible", s.infeasible, "with points pt 2 ps 1.1 lc rgb \(Self.infeasibleColour)", "infeasible")
        add("clipped", s.clipped, "with points \(Self.clippedMarker) lc rgb \(Self.infeasibleColour)", "infeasible beyond the range, on its edge")
        let frontTitle = spec.objectives.count > 2 ? "Pareto front over all \(spec.objectives.count)" : "Pareto front"
        add("front", s.front, "with \(joined ? "linespoints" : "points") pt 7 ps 1.1 lw 2 lc rgb \(Self.frontColour)", frontTitle)
        if !s.labelled.isEmpty {
            script.dataBlock("labels\(tag)", rows: rows(s.labelled))
            clauses.append("$labels\(tag) using \(columns):(sprintf('#%d', $\(trialColumn))) with labels offset char 0.9,0.7 font ',8' "
                           + "tc rgb '#0b3d66' notitle")
        }
        return clauses.joined(separator: ", \\\n     ")
    }

    /// Axis labels (with "(log scale)" when logarithmic), ranges and scales of a scatter.
    func setAxes(_ s: FrontScatter, objectives: [Objective], into script: inout GnuplotScript) {
        for (axis, (o, range)) in zip(["x", "y", "z"], zip(objectives, s.ranges)) {
            script.set("\(axis)label", GnuplotScript.quote(range.label(axisLabel(o))) + (axis == "z" ? " rotate parallel" : ""))
            script.set("\(axis)range", "[\(GnuplotScript.number(range.low)):\(GnuplotScript.number(range.high))]")
            script.set("format", "\(axis) '%g'")
            script.append(range.log ? "set logscale \(axis)" : "unset logscale \(axis)")
            let tics = range.logTics.map { GnuplotScript.number($0) }
            script.set("\(axis)tics", tics.isEmpty ? "autofreq" : "(\(tics.joined(separator: ", ")))")
        }
    }

    func scatter(_ axes: [Int], labels: Int) -> FrontScatter {
        FrontScatter(trials, objectives: analysis, x: axes[0], y: axes[1], z: axes.count > 2 ? axes[2] : nil, scale: scale, labels: labels)
    }

    func frontScript(_ s: FrontScatter, format: PlotFormat, output: String) -> GnuplotScript {
        var script = GnuplotScript(format: format, output: output)
        let x = spec.objectives[0], y = spec.objectives[1]
        script.set("title", GnuplotScript.quote(title("Pareto front, \(x.metric) against \(y.metric)")))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("key", "at screen 0.5, 0.01 center bottom horizontal width -2")
        script.set("bmargin", "6")
        setAxes(s, objectives: [x, y], into: &script)
        script.append("plot " + scatterClauses(s, tag: "", joined: true, into: &script))
        return script
    }

    /// Every pair of objectives in one image, the study's own front highlighted in each.
    func matrixScript(format: PlotFormat, output: String) -> GnuplotScript? {
        let m = spec.objectives.count
        let pairs = (0 ..< m).flatMap { i in (i + 1 ..< m).map { [i, $0] } }
        let scatters = pairs.map { scatter($0, labels: 6) }
        guard let first = scatters.first(where: { !$0.isEmpty }) else { return nil }
        let columns = pairs.count <= 3 ? pairs.count : 3, rows = (pairs.count + columns - 1) / columns
        var script = GnuplotScript(format: format, output: output, width: 520 * columns, height: 440 * rows + 60)
        script.set("grid", "lc rgb '#e5e5e5'")
        script.append("unset key")
        var legend = ["blue: Pareto front over all \(m) objectives (\(first.front.count))", "grey: dominated (\(first.dominated.count))"]
        if scatters.contains(where: { !$0.infeasible.isEmpty || !$0.clipped.isEmpty }) {
            legend.append("red ×: infeasible (\(first.infeasible.count + first.clipped.count)), △ where beyond the feasible range, on its edge")
        }
        let heading = GnuplotScript.quoteLines([title("each pair of objectives"), legend.joined(separator: "; ")])
        script.append("set multiplot layout \(rows),\(columns) title \(heading)")
        for (pair, s) in zip(pairs, scatters) where !s.isEmpty {
            setAxes(s, objectives: pair.map { spec.objectives[$0] }, into: &script)
            script.append("plot " + scatterClauses(s, tag: "_\(pair[0])_\(pair[1])", joined: false, into: &script))
        }
        script.append("unset multiplot")
        return script
    }

    /// Three objectives in one 3-D view: the front, the trials it dominates, infeasible ones.
    func frontScript3D(format: PlotFormat, output: String) -> GnuplotScript? {
        let s = scatter([0, 1, 2], labels: 4)
        guard !s.isEmpty else { return nil }
        var script = GnuplotScript(format: format, output: output, width: 960, height: 800)
        script.set("title", GnuplotScript.quote(title("Pareto front in three objectives")))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("key", "at screen 0.97, 0.93 right top")
        script.set("xyplane", "at \(GnuplotScript.number(s.ranges[2].low))")
        script.set("view", "62, 40")
        setAxes(s, objectives: spec.objectives, into: &script)
        // Clear of the tick labels, which gnuplot's 3-D view puts under the axis names.
        script.set("xlabel", "offset -3,-1.5")
        script.set("ylabel", "offset 3,-1.5")
        script.append("splot " + scatterClauses(s, tag: "", joined: false, into: &script))
        return script
    }
}

/// Strategies side by side: one line each of a value over a budget, e.g. the hypervolume each
/// strategy reaches after n evaluations of a benchmark problem, with an optional dashed line at
/// the best reachable value (the true front's hypervolume).
///
///     let script = ComparisonPlot.script(title: "zdt1: hypervolume over evaluations", xLabel: "evaluations",
///                                        yLabel: "hypervolume", series: [("nsga2", [(100, 0.2), (200, 0.5)])],
///                                        ceiling: ("true front", 0.8767), format: .png, output: "zdt1.png")
public enum ComparisonPlot {
    static let colours = ["'#1f77b4'", "'#ff7f0e'", "'#2ca02c'", "'#d62728'", "'#9467bd'", "'#8c564b'", "'#e377c2'", "'#17becf'"]

    public static func script(title: String, xLabel: String, yLabel: String, series: [(name: String, points: [(Double, Double)])],
                              ceiling: (name: String, value: Double)? = nil, format: PlotFormat, output: String) -> GnuplotScript {
        var script = GnuplotScript(format: format, output: output)
        script.set("title", GnuplotScript.quote(title))
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("xlabel", GnuplotScript.quote(xLabel))
        script.set("ylabel", GnuplotScript.quote(yLabel))
        script.set("key", "outside right top")
        script.set("format", "x '%g'")
        var clauses: [String] = []
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            script.dataBlock("s\(i)", rows: s.points.map { [$0.0, $0.1] })
            clauses.append("$s\(i) using 1:2 with lines lw 2 lc rgb \(colours[i % colours.count]) title \(GnuplotScript.quote(s.name))")
        }
        if let ceiling {
            clauses.append("\(ceiling.value) with lines dt 2 lw 1.5 lc rgb '#555555' title \(GnuplotScript.quote("\(ceiling.name) (\(String(format: "%.4g", ceiling.value)))"))")
        }
        script.append("plot " + clauses.joined(separator: ", \\\n     "))
        return script
    }
}

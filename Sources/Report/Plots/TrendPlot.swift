/// A benchmark's metrics over the nightly runs: one panel per metric, the value of each run in
/// order (oldest left), the newest run marked, red when it was judged a regression.
///
///     let script = TrendPlot.script(title: "engine on EPYC (2 cores)", metrics: [
///         .init(name: "mlp.epoch_seconds", unit: "s", better: "lower", runs: [(1, 1.9), (2, 1.8)], regression: false)],
///         format: .svg, output: "trend_engine.svg")
public enum TrendPlot {
    public struct Metric: Sendable {
        public var name: String
        public var unit: String
        /// "lower" or "higher".
        public var better: String
        /// (run id, value), oldest first.
        public var runs: [(run: Int64, value: Double)]
        /// Whether the newest run is a regression.
        public var regression: Bool

        public init(name: String, unit: String, better: String, runs: [(run: Int64, value: Double)], regression: Bool) {
            self.name = name; self.unit = unit; self.better = better; self.runs = runs; self.regression = regression
        }
    }

    public static func script(title: String, metrics: [Metric], format: PlotFormat, output: String) -> GnuplotScript {
        let shown = metrics.filter { !$0.runs.isEmpty }
        let columns = min(3, max(shown.count, 1)), rows = (shown.count + columns - 1) / columns
        var script = GnuplotScript(format: format, output: output, width: 440 * columns, height: 300 * max(rows, 1) + 40)
        script.set("grid", "lc rgb '#e5e5e5'")
        script.set("key", "off")
        script.set("format", "y '%g'")
        script.set("format", "x '%.0f'")
        script.set("xlabel", "'run' font ',8'")
        script.set("tics", "font ',8'")
        script.append("set multiplot layout \(max(rows, 1)),\(columns) title \(GnuplotScript.quote(title))")
        for (i, m) in shown.enumerated() {
            let unit = m.unit.isEmpty ? "" : " (\(m.unit))"
            script.set("title", GnuplotScript.quote("\(m.name)\(unit), \(m.better) is better") + " font ',9'")
            script.dataBlock("m\(i)", rows: m.runs.map { [Double($0.run), $0.value] })
            let span = Double(m.runs[m.runs.count - 1].run - m.runs[0].run)
            script.set("xtics", "\(max(1, Int((span / 8).rounded(.up))))")
            let last = m.runs[m.runs.count - 1]
            let colour = m.regression ? "'#d62728'" : "'#1f77b4'"
            script.append("plot $m\(i) using 1:2 with linespoints pt 7 ps 0.6 lw 1.5 lc rgb '#1f77b4', \\\n"
                + "     '+' using (\(Double(last.run))):(\(GnuplotScript.number(last.value))) every ::0::0 with points pt 7 ps 1.6 lc rgb \(colour)")
        }
        script.append("unset multiplot")
        return script
    }
}

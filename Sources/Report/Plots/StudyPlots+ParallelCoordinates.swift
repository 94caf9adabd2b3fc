import Foundation

/// Parallel coordinates, drawn in panels 1280 px wide.
extension StudyPlots {
    /// The most axes in one panel: at 1280 px, about 100 px between two axes.
    static let axesPerPanel = 12
    /// Where an inactive parameter is drawn, below its axis.
    static let inactiveLevel = -0.14

    func parallelCoordinatesScript(format: PlotFormat, output: String) -> GnuplotScript? {
        let pc = ParallelCoordinates(trials, space: spec.space, objectives: analysis)
        guard !pc.lines.isEmpty, pc.axes.count >= 2 else { return nil }
        let panels = pc.panels(maxAxes: Self.axesPerPanel)
        let others = pc.lines.filter { !$0.onFront }, front = pc.lines.filter(\.onFront)
        var script = GnuplotScript(format: format, output: output, width: 1280, height: 420 * panels.count + 50)
        script.append("unset key")
        script.append("unset ytics")
        script.set("border", "0")
        script.set("lmargin", "13")
        script.set("rmargin", "4")
        script.set("bmargin", "7")
        script.set("yrange", "[\(Self.inactiveLevel - 0.06):1.06]")
        script.set("style", "textbox opaque noborder margins 0.5,0.5")
        let legend = "blue: Pareto front (\(front.count)), grey: other trials (\(others.count))"
            + (pc.lines.contains { $0.values.contains(nil) } ? "; a parameter not in a trial's configuration is drawn at 'inactive'" : "")
        let heading = GnuplotScript.quoteLines([title("parameters and objectives of every evaluated trial"), legend])
        script.append("set multiplot layout \(panels.count),1 title \(heading)")
        for (p, panel) in panels.enumerated() {
            script.append("unset label")
            script.append("unset arrow")
            script.set("xrange", "[0.7:\(Double(panel.count) + 0.6)]")
            let tics = panel.enumerated().map { "\(GnuplotScript.quote(pc.axes[$1].name)) \($0 + 1)" }.joined(separator: ", ")
            script.set("xtics", "(\(tics)) rotate by 20 right scale 0 font ',9'")
            if pc.lines.contains(where: { line in panel.contains { line.values[$0] == nil } }) {
                script.append("set label 'inactive' at graph 0, first \(Self.inactiveLevel) right offset char -0.5,0 font ',8' tc rgb '#808080'")
            }
            for (i, a) in panel.enumerated() {
                let x = i + 1, axis = pc.axes[a]
                script.append("set arrow from \(x),0 to \(x),1 nohead lc rgb '#808080'")
                for tick in axis.ticks {
                    script.append("set label \(GnuplotScript.quote(tick.label)) at \(x),\(tick.position) left offset char 0.4,0 font ',8' front boxed")
                }
            }
            func sets(_ lines: [ParallelCoordinates.Line]) -> [[[Double]]] {
                lines.map { line in panel.enumerated().map { [Double($0 + 1), line.values[$1] ?? Self.inactiveLevel] } }
            }
            var clauses: [String] = []
            if !others.isEmpty {
                script.dataBlock("others\(p)", sets: sets(others))
                clauses.append("$others\(p) using 1:2 with lines lw 1 lc rgb \(Self.faint)")
            }
            if !front.isEmpty {
                script.dataBlock("front\(p)", sets: sets(front))
                clauses.append("$front\(p) using 1:2 with lines lw 2 lc rgb \(Self.frontColour)")
            }
            script.append("plot " + clauses.joined(separator: ", \\\n     "))
        }
        script.append("unset multiplot")
        return script
    }
}

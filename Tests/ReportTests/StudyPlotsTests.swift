import Foundation
import Search
import Store
import XCTest
@testable import Report

/// The gnuplot scripts (golden text), the plots a study gets, drawing for real with gnuplot, and
/// the HTML report.
final class StudyPlotsTests: XCTestCase {
    func study(_ space: String, name: String = "demo") throws -> (StudyRecord, StudySpec) {
        let spec = try SpaceFile.parse(Data(space.utf8), file: "space.json")
        let record = StudyRecord(id: 1, name: name, space: space, objectives: spec.objectives.map(\.metric),
                                 directions: spec.objectives.map(\.direction.rawValue), referencePoint: nil, seed: 1,
                                 strategy: "nsga2", created: Date(timeIntervalSince1970: 0))
        return (record, spec)
    }

    static let twoObjectives = """
        {"evaluator": {"command": {"run": "true"}},
         "objectives": {"accuracy": "maximize", "latency_ms@Jetson-Orin-Nano": "minimize"},
         "constraints": [{"metric": "params", "<=": 1000}],
         "training": {"lr": {"_type": "loguniform", "_value": [0.0001, 0.1]}}}
        """

    func trial(_ n: Int, _ metrics: [String: Double], violation: Double = 0, state: TrialState = .complete,
               curve: [Int: [String: Double]] = [:]) -> TrialRecord {
        TrialRecord(study: 1, number: n, state: state, parameters: [ParameterRecord(name: "training.lr", value: 0.001 * Double(n + 1), json: "\(0.001 * Double(n + 1))")],
                    metrics: metrics, violation: violation, intermediate: curve, started: Date(), heartbeat: Date(), worker: "w",
                    finishSequence: Int64(n))
    }

    var trials: [TrialRecord] {
        [trial(0, ["accuracy": 0.9, "latency_ms@Jetson-Orin-Nano": 2, "params": 10], curve: [1: ["accuracy": 0.7], 2: ["accuracy": 0.9]]),
         trial(1, ["accuracy": 0.8, "latency_ms@Jetson-Orin-Nano": 1, "params": 10]),
         trial(2, ["accuracy": 0.7, "latency_ms@Jetson-Orin-Nano": 3, "params": 10]),
         trial(3, ["accuracy": 0.95, "latency_ms@Jetson-Orin-Nano": 0.5, "params": 5000], violation: 4, state: .infeasible),
         trial(4, ["accuracy": 0.5], state: .pruned, curve: [1: ["accuracy": 0.5]])]
    }

    func testGnuplotQuotingAndDataBlocks() {
        XCTAssertEqual(GnuplotScript.quote("it's"), "'it''s'")
        var s = GnuplotScript(format: .png, output: "a b.png", width: 100, height: 50)
        s.dataBlock("d", rows: [[1, 0.5], [2, .nan]])
        s.dataBlock("e", sets: [[[1, 2]], [[3, 4]]])
        XCTAssertEqual(s.text, """
            set terminal pngcairo size 100,50 noenhanced font 'Sans,11' background rgb 'white'
            set output 'a b.png'
            $d << EOD
            1.0 0.5
            2.0 NaN
            EOD
            $e << EOD
            1.0 2.0


            3.0 4.0
            EOD

            """)
    }

    /// What the front plot says, checked on its parts (title, axis labels, the three sets of
    /// points) rather than on the whole gnuplot script, which may change its styling freely.
    func testFrontPlotTitleAxesAndPoints() throws {
        let (record, spec) = try study(Self.twoObjectives)
        let plots = StudyPlots(study: record, spec: spec, trials: trials)
        let scripts = plots.scripts(format: .svg, directory: "out")
        XCTAssertEqual(scripts.map(\.name), ["front", "hypervolume", "learning_curves", "parallel_coordinates"])
        XCTAssertEqual(plots.title("Pareto front"), "demo: Pareto front on Jetson-Orin-Nano")
        XCTAssertEqual(plots.axisLabel(spec.objectives[0]), "accuracy, higher is better", "a command's metric as the program names it")
        XCTAssertEqual(plots.axisLabel(spec.objectives[1]), "latency_ms, lower is better")
        let front = scripts[0].script.text
        // Rows are (x, y, trial): trials 1 and 0 on the front, 2 dominated, 3 infeasible and beyond the
        // feasible range (drawn on its corner); 4 was pruned.
        for block in ["$front << EOD\n0.8 1.0 1.0\n0.9 2.0 0.0\nEOD", "$dominated << EOD\n0.7 3.0 2.0\nEOD"] {
            XCTAssertTrue(front.contains(block), block)
        }
        XCTAssertTrue(front.contains("$clipped << EOD\n0.908 0.92 3.0\nEOD"), front)
        XCTAssertTrue(front.contains("set xrange [0.692:0.908]"), "the feasible 0.7 to 0.9, padded")
        XCTAssertTrue(front.contains("set xlabel 'accuracy, higher is better'"), "linear: no 'log scale'")
        let forced = StudyPlots(study: record, spec: spec, trials: trials, scale: .log).scripts(format: .svg, directory: "out")[0].script.text
        XCTAssertTrue(forced.contains("set ylabel 'latency_ms, lower is better (log scale)'"), forced)
        XCTAssertTrue(forced.contains("set logscale y"))
        XCTAssertTrue(front.contains("title 'Pareto front (2)'"), front)
        let hypervolume = scripts[1].script.text
        XCTAssertTrue(hypervolume.contains("set ylabel 'hypervolume, higher is better'"), "short enough to fit the image")
        XCTAssertTrue(hypervolume.contains("\\nreference point: accuracy "), "the reference point under the title")
        let curves = scripts[2].script.text
        XCTAssertTrue(curves.contains("title 'pruned (stopped early) (1)'"), curves)
        XCTAssertTrue(curves.contains("dt 2"), "pruned curves are dashed")
    }

    func testPlotsPerNumberOfObjectives() throws {
        let (one, oneSpec) = try study(#"{"evaluator": {"command": {"run": "true"}}, "objectives": {"loss": "minimize"}, "training": {"lr": {"_type": "uniform", "_value": [0, 1]}}}"#)
        let lossTrials = [trial(0, ["loss": 3]), trial(1, ["loss": 1]), trial(2, ["loss": 2])]
        let progress = StudyPlots(study: one, spec: oneSpec, trials: lossTrials).scripts(format: .png, directory: ".")
        XCTAssertEqual(progress.map(\.name), ["progress", "parallel_coordinates"])
        XCTAssertTrue(progress[0].script.text.contains("0.0 3.0 3.0\n1.0 1.0 1.0\n2.0 2.0 1.0"), "value and best so far per trial")

        let (three, threeSpec) = try study(#"{"evaluator": {"benchmark": {"problem": "dtlz2", "variables": 4}}, "objectives": {"f1": "minimize", "f2": "minimize", "f3": "minimize"}}"#)
        let points = [trial(0, ["f1": 1, "f2": 0, "f3": 0]), trial(1, ["f1": 0, "f2": 1, "f3": 0]), trial(2, ["f1": 0, "f2": 0, "f3": 1])]
        let matrix = StudyPlots(study: three, spec: threeSpec, trials: points).scripts(format: .png, directory: ".")
        XCTAssertEqual(matrix.map(\.name), ["fronts", "front_3d", "hypervolume", "parallel_coordinates"])
        XCTAssertTrue(matrix[1].script.text.contains("\nsplot $front using 1:2:3 "), "a 3-D view of three objectives")
        XCTAssertEqual(matrix.first?.script.text.components(separatedBy: "\nplot ").count, 4, "three pairs, three panels")
        XCTAssertTrue(matrix.first?.script.text.contains("set multiplot layout 1,3") ?? false)
    }

    func testNothingToDrawAndNoGnuplot() throws {
        let (record, spec) = try study(Self.twoObjectives)
        XCTAssertThrowsError(try StudyPlots(study: record, spec: spec, trials: []).draw(format: .png, directory: "unused",
                                                                                      gnuplot: Gnuplot(executable: "/bin/false"))) {
            XCTAssertEqual("\($0)", "study 'demo' has no evaluated trials to plot yet")
        }
        XCTAssertThrowsError(try Gnuplot.locate(path: "/nonexistent")) {
            XCTAssertEqual(($0 as? ReportError)?.kind, .tool)
            XCTAssertTrue("\($0)".contains("apt-get install gnuplot-nox"), "\($0)")
        }
    }

    /// Drawn for real: gnuplot is installed by `make test`'s setup.
    func testDrawsEveryPlotWithGnuplot() throws {
        let gnuplot = try Gnuplot.locate()
        let (record, spec) = try study(Self.twoObjectives)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plots-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for format in PlotFormat.allCases {
            let paths = try StudyPlots(study: record, spec: spec, trials: trials).draw(format: format, directory: directory, gnuplot: gnuplot)
            XCTAssertEqual(paths.count, 4)
            for p in paths {
                let size = (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0
                XCTAssertGreaterThan(size, 1000, p)
            }
        }
        let svg = try String(contentsOfFile: directory + "/front.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("Pareto front (2)"))
        // A script gnuplot rejects becomes a one-line error naming the script.
        var broken = GnuplotScript(format: .png, output: directory + "/x.png")
        broken.append("plot $nothing using 1:2")
        XCTAssertThrowsError(try gnuplot.run(broken, scriptPath: directory + "/x.gp")) {
            XCTAssertTrue("\($0)".hasPrefix("gnuplot failed on \(directory)/x.gp: "), "\($0)")
        }
    }

    func testReportHoldsEveryFrontMemberAndEscapesText() throws {
        let (record, spec) = try study(Self.twoObjectives.replacingOccurrences(of: "\"training\": {", with: "\"training\": {\"tag\": \"<b>&</b>\", "),
                                       name: "demo<1>")
        let page = StudyReport(study: record, spec: spec, trials: trials,
                               plots: [("front", "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg width=\"10\"></svg>")])
        let html = page.html
        XCTAssertEqual(page.front.map(\.number), [0, 1], "best accuracy first")
        for n in [0, 1] { XCTAssertTrue(html.contains("id=\"trial-\(n)\""), "member \(n)") }
        XCTAssertFalse(html.contains("id=\"trial-2\""), "a dominated trial is no member")
        XCTAssertTrue(html.contains("<figure id=\"plot-front\"><svg width=\"10\"></svg>"), "SVG inline, without its prolog")
        XCTAssertFalse(html.contains("<?xml"))
        XCTAssertTrue(html.contains("autotune study demo&lt;1&gt;"))
        XCTAssertTrue(html.contains("&lt;b&gt;&amp;&lt;/b&gt;"), "the stored space is escaped")
        XCTAssertTrue(html.contains("&quot;lr&quot;: 0.002"), "member 1's configuration: its lr put back in the template")
        XCTAssertTrue(html.contains("<dt>hardware</dt><dd>Jetson-Orin-Nano</dd>"))
        let empty = StudyReport(study: record, spec: spec, trials: [], plots: [], plotNote: "No plots: nothing to draw.").html
        XCTAssertTrue(empty.contains("No trial is complete and feasible yet."))
        XCTAssertTrue(empty.contains("No plots: nothing to draw."))
    }
}

final class ComparisonPlotTests: XCTestCase {
    func testALinePerStrategyAndTheCeiling() {
        let script = ComparisonPlot.script(title: "zdt1", xLabel: "evaluations", yLabel: "hypervolume",
                                           series: [("nsga2", [(100, 0.5), (200, 0.8)]), ("empty", []), ("random", [(100, 0.1)])],
                                           ceiling: ("true front", 0.8767), format: .png, output: "z.png").text
        XCTAssertTrue(script.hasSuffix("""
            plot $s0 using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'nsga2', \\
                 $s2 using 1:2 with lines lw 2 lc rgb '#2ca02c' title 'random', \\
                 0.8767 with lines dt 2 lw 1.5 lc rgb '#555555' title 'true front (0.8767)'

            """), script)
        XCTAssertTrue(script.contains("$s0 << EOD\n100.0 0.5\n200.0 0.8\nEOD"))
        XCTAssertFalse(script.contains("$s1"), "a strategy without points draws nothing")
    }
}

final class NightlyOutputTests: XCTestCase {
    func testTrendPanelsAndThePage() throws {
        let metrics = [TrendPlot.Metric(name: "mlp.epoch_seconds", unit: "s", better: "lower", runs: [(1, 1.9), (2, 1.8), (17, 2.6)], regression: true),
                       TrendPlot.Metric(name: "empty", unit: "", better: "higher", runs: [], regression: false),
                       TrendPlot.Metric(name: "mlp.test_accuracy", unit: "fraction", better: "higher", runs: [(1, 0.87)], regression: false)]
        let script = TrendPlot.script(title: "engine", metrics: metrics, format: .svg, output: "t.svg").text
        XCTAssertTrue(script.contains("set multiplot layout 1,2 title 'engine'"), "a panel per metric with runs")
        XCTAssertTrue(script.contains("set title 'mlp.epoch_seconds (s), lower is better' font ',9'"))
        XCTAssertTrue(script.contains("set xtics 2\n"), "16 runs apart: a tic every 2")
        XCTAssertTrue(script.contains("'+' using (17.0):(2.6) every ::0::0 with points pt 7 ps 1.6 lc rgb '#d62728'"), "the newest run, red: a regression")
        XCTAssertTrue(script.contains("'+' using (1.0):(0.87) every ::0::0 with points pt 7 ps 1.6 lc rgb '#1f77b4'"))
        if let gnuplot = try? Gnuplot.locate() {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trend-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try gnuplot.run(TrendPlot.script(title: "engine", metrics: metrics, format: .svg, output: dir + "/t.svg"), scriptPath: dir + "/t.gp")
            XCTAssertTrue(try String(contentsOfFile: dir + "/t.svg", encoding: .utf8).contains("<svg"))
        }
        let page = NightlyPage(title: "nightly <1>", facts: [("commit", "abc")], header: ["metric", "verdict"],
                               rows: [["a", "ok"], ["b", "regression"]], regressions: [1], plots: [("engine", "<?xml?><svg/>")]).html
        XCTAssertTrue(page.contains("<tr class=\"regression\"><td>b</td><td>regression</td></tr>"))
        XCTAssertTrue(page.contains("<tr><td>a</td><td>ok</td></tr>"))
        XCTAssertTrue(page.contains("<title>nightly &lt;1&gt;</title>"))
        XCTAssertTrue(page.contains("<figure id=\"trend-engine\"><svg/>"))
    }
}

import Foundation
import XCTest

/// `autotune plot` and `autotune report` through the built executable, on a quick benchmark
/// study; and the plots `autotune search` draws when it ends.
final class PlotReportEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }

    private func searchZDT(budget: Int = 40) {
        let space = write("zdt.json", """
        {"name": "zdt", "evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "nsga2", "budget": \(budget), "seed": 2}
        """)
        let r = runAutotune(["search", space, "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testSearchDrawsItsPlotsBesideTheStore() {
        searchZDT()
        let folder = scratch.appendingPathComponent("zdt").path
        for name in ["front.png", "front.gp", "hypervolume.png", "parallel_coordinates.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + name), name)
        }
    }

    func testPlotWritesEveryImageAndPrintsItsPaths() {
        searchZDT()
        let out = scratch.appendingPathComponent("svg").path
        let r = runAutotune(["plot", "zdt", "--db", db, "--format", "svg", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, ["front", "hypervolume", "parallel_coordinates"].map { "\(out)/\($0).svg\n" }.joined())
        let svg = (try? String(contentsOfFile: out + "/front.svg", encoding: .utf8)) ?? ""
        XCTAssertTrue(svg.contains("zdt: Pareto front, f1 against f2"), "the title names the study")
    }

    func testPlotErrors() {
        searchZDT(budget: 5)
        let unknown = runAutotune(["plot", "zdtt", "--db", db])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("no study 'zdtt' in \(db) (studies: zdt). Did you mean 'zdt'?"), unknown.stderr)
        let format = runAutotune(["plot", "zdt", "--db", db, "--format", "jpg"])
        XCTAssertEqual(format.status, 2)
        XCTAssertTrue(format.stderr.contains("valid: png, svg"), format.stderr)
        let missing = runAutotune(["plot", "zdt", "--db", scratch.appendingPathComponent("none.sqlite").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no such store"), missing.stderr)
        // A study with no evaluated trial: claimed through ask, never told.
        let space = write("empty.json", #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}}"#)
        XCTAssertEqual(runAutotune(["ask", space, "--study", "empty", "--db", db]).status, 0)
        let empty = runAutotune(["plot", "empty", "--db", db])
        XCTAssertEqual(empty.status, 2)
        XCTAssertEqual(empty.stderr, "autotune: error: study 'empty' has no evaluated trials to plot yet\n")
        let emptyReport = runAutotune(["report", "empty", "--db", db])
        XCTAssertEqual(emptyReport.status, 2)
        XCTAssertEqual(emptyReport.stderr, "autotune: error: study 'empty' has no finished trials to report yet\n")
        let noGnuplot = runAutotune(["plot", "zdt", "--db", db], environment: ["PATH": "/nonexistent"])
        XCTAssertEqual(noGnuplot.status, 1)
        XCTAssertTrue(noGnuplot.stderr.contains("gnuplot not found on PATH: install it (apt-get install gnuplot-nox)"), noGnuplot.stderr)
    }

    func testReportIsOnePageWithTheFront() throws {
        searchZDT()
        let r = runAutotune(["report", "zdt", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let path = scratch.appendingPathComponent("zdt/report.html").path
        XCTAssertEqual(r.stdout, path + "\n")
        let html = try String(contentsOfFile: path, encoding: .utf8)
        let front = runAutotune(["front", "zdt", "--db", db, "--json"])
        let members = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(front.stdout.utf8)) as? [String: Any])?["front"] as? [[String: Any]])
        XCTAssertFalse(members.isEmpty)
        for m in members {
            let n = try XCTUnwrap(m["trial"] as? Int)
            XCTAssertTrue(html.contains("id=\"trial-\(n)\""), "front member \(n)")
        }
        XCTAssertTrue(html.contains("<figure id=\"plot-front\"><svg"), "the front drawn inline")
        XCTAssertFalse(html.contains("src=\"http"), "nothing loaded from outside")
        XCTAssertTrue(html.contains("<h2>Exports</h2>"), "the knee's export")
        XCTAssertTrue(html.contains("<h3>recipe.json</h3>"))
        XCTAssertTrue(html.contains("autotune export zdt --format deepspeed"))

        // A folder that cannot be made is an I/O failure, reported before any plot is drawn.
        let blocker = write("blocker", "")
        let blocked = runAutotune(["report", "zdt", "--db", db, "--out", blocker + "/r.html"])
        XCTAssertEqual(blocked.status, 1)
        XCTAssertTrue(blocked.stderr.hasPrefix("autotune: error: \(blocker)/r.html: cannot create its folder \(blocker) ("), blocked.stderr)
        XCTAssertFalse(blocked.stderr.contains("note:"), "no plotting was tried")

        // Without gnuplot the page is still written, saying why it has no plots.
        let bare = runAutotune(["report", "zdt", "--db", db, "--out", scratch.appendingPathComponent("bare.html").path],
                               environment: ["PATH": "/nonexistent"])
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stderr.contains("gnuplot not found on PATH"), bare.stderr)
        let page = try String(contentsOfFile: scratch.appendingPathComponent("bare.html").path, encoding: .utf8)
        XCTAssertTrue(page.contains("No plots: gnuplot not found on PATH"))
        XCTAssertFalse(page.contains("<figure id=\"plot-"), "no plot drawn")
    }
}

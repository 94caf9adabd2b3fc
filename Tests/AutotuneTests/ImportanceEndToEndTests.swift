import Foundation
import XCTest

/// `autotune importance` through the built executable, on the ZDT1 benchmark sampled at random
/// (so that no strategy ties the variables of its trials together): f1 is x0 itself, so x0 must
/// carry f1's importance; f2 depends on every variable. Its errors, and the report's importance
/// section.
final class ImportanceEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }
    /// The repository root (where searchspaces/ lives), from this file's path.
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func searchZDT1(budget: Int) {
        let r = runAutotune(["search", root.appendingPathComponent("searchspaces/zdt1.json").path, "--budget", String(budget),
                            "--strategy", "random", "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testZDT1ImportanceAsJSONTableAndReport() throws {
        searchZDT1(budget: 200)
        let r = runAutotune(["importance", "zdt1", "--db", db, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["method"] as? String, "PED-ANOVA")
        let objectives = try XCTUnwrap(document["objectives"] as? [[String: Any]])
        XCTAssertEqual(objectives.map { $0["metric"] as? String }, ["f1", "f2"])
        func parameters(_ k: Int) throws -> [(name: String, importance: Double)] {
            try XCTUnwrap(objectives[k]["parameters"] as? [[String: Any]]).map { ($0["name"] as? String ?? "", $0["importance"] as? Double ?? -1) }
        }
        let f1 = try parameters(0), f2 = try parameters(1)
        XCTAssertEqual(f1.count, 30)
        XCTAssertEqual(f1.map(\.importance).reduce(0, +), 1, accuracy: 1e-9)
        XCTAssertEqual(f2.map(\.importance).reduce(0, +), 1, accuracy: 1e-9)
        XCTAssertEqual(f1.first?.name, "x0", "f1 = x0")
        XCTAssertGreaterThan(f1.first!.importance, 0.5)
        XCTAssertLessThan(f1.dropFirst().map(\.importance).max()!, f1.first!.importance / 5)
        XCTAssertLessThan(f2.first!.importance, 0.5, "f2 depends on every variable")
        XCTAssertGreaterThan(f2.filter { $0.name != "x0" }.map(\.importance).reduce(0, +), 0.4)
        XCTAssertEqual(objectives[0]["trials"] as? Int, 200)
        XCTAssertEqual(objectives[0]["top_trials"] as? Int, 20)

        // One objective, as a table of bars and numbers, most important first.
        let table = runAutotune(["importance", "zdt1", "--db", db, "--objective", "f1"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "study 'zdt1': parameter importance (PED-ANOVA: what puts a trial among the best 10% of its 200 complete trials)")
        XCTAssertTrue(lines[1].hasPrefix("parameter  f1 (min)"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("x0         █"), lines[2])
        XCTAssertTrue(lines[2].hasSuffix(String(format: " %.3f", f1[0].importance)), lines[2])
        XCTAssertEqual(lines.count, 32)

        let report = runAutotune(["report", "zdt1", "--db", db, "--out", scratch.appendingPathComponent("r.html").path])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = try String(contentsOf: scratch.appendingPathComponent("r.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<section id=\"importance\"><h2>Parameter importance</h2>"))
        XCTAssertTrue(html.contains("<figure id=\"importance-f1\"><svg"))
        XCTAssertTrue(html.contains("<figure id=\"importance-f2\"><svg"))
        XCTAssertTrue(html.contains("f1 (minimize): the best 20 of 200 complete trials"))
    }

    func testErrorsAreOneLineWithExitTwo() throws {
        searchZDT1(budget: 12)
        let metric = runAutotune(["importance", "zdt1", "--db", db, "--objective", "f3"])
        XCTAssertEqual(metric.status, 2)
        XCTAssertEqual(metric.stderr, "autotune: error: study 'zdt1' has no objective 'f3' (objectives: f1, f2). Did you mean 'f1'?\n")
        let study = runAutotune(["importance", "zdt", "--db", db])
        XCTAssertEqual(study.status, 2)
        XCTAssertEqual(study.stderr, "autotune: error: no study 'zdt' in \(db) (studies: zdt1). Did you mean 'zdt1'?\n")
        let few = runAutotune(["importance", "zdt1", "--db", db])
        XCTAssertEqual(few.status, 2)
        XCTAssertEqual(few.stderr, "autotune: error: study 'zdt1' has 12 complete trials with 'f1'; parameter importance needs at least 20 "
                                   + "(the best 10% must hold 2)\n")
        XCTAssertEqual(few.stdout, "")
        // Too few trials for importance: the report leaves the section out.
        let report = runAutotune(["report", "zdt1", "--db", db, "--out", scratch.appendingPathComponent("r.html").path])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertFalse(try String(contentsOf: scratch.appendingPathComponent("r.html"), encoding: .utf8).contains("id=\"importance\""))

        let help = runAutotune(["help"])
        XCTAssertTrue(help.stdout.contains("  importance "), help.stdout)
        let usage = runAutotune(["importance", "--help"])
        XCTAssertTrue(usage.stdout.contains("autotune importance STUDY [--db PATH] [--storage URL] [--objective METRIC] [--json]"), usage.stdout)
    }
}

import Foundation
import Search
import Store
import XCTest
import Engine
@testable import Bench

final class SearchBenchmarkTests: XCTestCase {
    func testRecordsPerProblemAndStrategy() throws {
        let records = try searchQualityRecords(problems: ["zdt1", "dtlz2"], evaluations: 300, seeds: 2, strategies: ["nsga2", "random"])
        XCTAssertEqual(records.map(\.name), [
            "zdt1.nsga2.hypervolume", "zdt1.nsga2.seconds", "zdt1.random.hypervolume", "zdt1.random.seconds",
            "dtlz2.nsga2.hypervolume", "dtlz2.nsga2.seconds", "dtlz2.random.hypervolume", "dtlz2.random.seconds",
        ])
        XCTAssertTrue(records.allSatisfy { $0.suite == "search" })
        let hv = records.filter { $0.name.hasSuffix("hypervolume") }
        XCTAssertTrue(hv.allSatisfy { $0.unit == "" && $0.better == .higher && $0.value >= 0 })
        // 1.1³ bounds any 3-objective hypervolume against this reference; 1.21 any 2-objective one.
        XCTAssertLessThan(hv[2].value, 1.331)
        XCTAssertLessThan(hv[0].value, 1.21)
        XCTAssertThrowsError(try searchQualityRecords(problems: ["zdt9"], evaluations: 10, seeds: 1))
        XCTAssertThrowsError(try searchQualityRecords(problems: ["zdt1"], evaluations: 10, seeds: 1, strategies: ["nsga3"]))
        XCTAssertThrowsError(try searchQualityRecords(evaluations: 0))
    }

    func testHypervolumeHistoryAndTheCurvesPerStrategy() throws {
        // Reference 1.1: (0.1, 1) alone covers 1.0 · 0.1; (1, 0.1) adds 0.1 · 0.9 (the overlap
        // (1, 1.1)×(1, 1.1) counted once); (0.5, 0.5) adds 0.5 · 0.5 … its box minus the others'.
        let points: [[Double]] = [[0.1, 1], [2, 2], [1, 0.1], [0.5, 0.5]]
        let history = SearchQuality.history(points, objectives: 2, checkpoints: 2)
        XCTAssertEqual(history.map(\.evaluations), [2, 4])
        XCTAssertEqual(history[0].hypervolume, 0.1, accuracy: 1e-12)
        XCTAssertEqual(history[1].hypervolume, SearchQuality.score(points, objectives: 2), accuracy: 1e-12)
        XCTAssertEqual(history[1].hypervolume, 0.1 + 0.09 + 0.25, accuracy: 1e-12)
        XCTAssertEqual(SearchQuality.trueFrontHypervolume("zdt2") ?? 0, 0.5433, accuracy: 1e-4)
        var curves: [String] = []
        _ = try searchQualityRecords(problems: ["zdt1"], evaluations: 200, seeds: 3, strategies: ["nsga2", "random"],
                                     curve: { problem, strategy, h in
                                         XCTAssertEqual(h.count, 50)
                                         XCTAssertEqual(h.last?.evaluations, 200)
                                         XCTAssertEqual(h.map(\.hypervolume), h.map(\.hypervolume).sorted(), "never falls")
                                         curves.append("\(problem).\(strategy)")
                                     })
        XCTAssertEqual(curves, ["zdt1.nsga2", "zdt1.random"])
    }

    func testScoreIsTheHypervolumeOfTheNonDominatedPoints() {
        let points: [[Double]] = [[1, 2], [2, 1], [2, 2], [1, 2], [3, 3]]
        var archive: [[Double]] = []
        XCTAssertEqual(points.map { ParetoFront.insert($0, into: &archive) }, [true, true, false, false, false])
        XCTAssertEqual(archive, [[1, 2], [2, 1]], "one of each duplicate, dominated points left out")
        XCTAssertTrue(ParetoFront.insert([0, 0], into: &archive))
        XCTAssertEqual(archive, [[0, 0]], "a point that dominates the archive replaces it")
        // Against [1.1, 1.1] neither point is inside; shifted down they give 0.1·1.1 + 0.1·1.1 − 0.1·0.1.
        XCTAssertEqual(SearchQuality.score(points, objectives: 2), 0)
        XCTAssertEqual(SearchQuality.score([[0, 1], [1, 0]], objectives: 2), 0.21, accuracy: 1e-12)
        XCTAssertEqual(median([3, 1, 2]), 2)
        XCTAssertEqual(median([4, 1, 2, 3]), 2.5)
    }

    func testSameSeedSameFront() throws {
        let problem = try SearchQuality.problem("zdt2")
        XCTAssertEqual(problem.variables, 30)
        XCTAssertEqual(try SearchQuality.problem("dtlz2").variables, 12)
        let a = try SearchQuality.run(problem, strategy: .init(name: "nsga2"), evaluations: 100, seed: 3)
        XCTAssertEqual(a, try SearchQuality.run(problem, strategy: .init(name: "nsga2"), evaluations: 100, seed: 3))
        XCTAssertEqual(a.count, 100)
    }

    /// The peers' records come from the script's JSON on stdout; a failing script is an error
    /// carrying its last stderr lines.
    func testPeersAreReadFromTheScript() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("search-peers-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.py"), bad = directory.appendingPathComponent("bad.py")
        try """
        import json, sys
        args = sys.argv[1:]
        print("peer running", args[args.index("--only") + 1], file=sys.stderr)
        json.dump({"results": [{"suite": "peers", "name": "zdt1.pymoo_nsga2.hypervolume", "value": 0.85,
                                "unit": "", "better": "higher"}], "host": {"peer": "fake"}}, sys.stdout)
        """.write(to: good, atomically: true, encoding: .utf8)
        try "import sys\nprint('pymoo is missing', file=sys.stderr)\nsys.exit(3)\n".write(to: bad, atomically: true, encoding: .utf8)

        var lines: [String] = []
        let records = try searchQualityRecords(problems: ["zdt1"], evaluations: 20, seeds: 1, strategies: ["random"],
                                               peers: SearchPeers(script: good.path), progress: { lines.append($0) })
        XCTAssertEqual(records.last, BenchRecord(suite: "peers", name: "zdt1.pymoo_nsga2.hypervolume", value: 0.85, unit: "", better: .higher))
        XCTAssertTrue(lines.contains("peer running zdt1"), "\(lines)")

        XCTAssertThrowsError(try searchQualityRecords(problems: ["zdt1"], evaluations: 20, seeds: 1, strategies: ["random"],
                                                      peers: SearchPeers(script: bad.path))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("status 3") && text.contains("pymoo is missing"), text)
        }
        XCTAssertThrowsError(try searchQualityRecords(problems: ["zdt1"], evaluations: 20, seeds: 1, strategies: ["random"],
                                                      peers: SearchPeers(script: directory.appendingPathComponent("none.py").path)))
    }
}

/// A `search` study of a benchmark problem and `bench search` of it evaluate the same points: the
/// same problem (ZDT4's x₂…xₙ in [−5, 5] in both), strategy and seed give the same objectives.
final class SearchAndBenchAgreeTests: XCTestCase {
    func testEveryProblemAgrees() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agree-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let storage = try SQLiteStorage(path: path)
        for kind in BenchmarkProblem.Kind.allCases {
            let problem = try SearchQuality.problem(kind.rawValue)
            let text = """
            {"evaluator": {"benchmark": {"problem": "\(kind.rawValue)", "variables": \(problem.variables), "objectives": \(problem.objectives)}},
             "strategy": "random", "budget": 12, "seed": 4}
            """
            let (study, _) = try Study.create(try SpaceFile.parse(Data(text.utf8), file: "s.json"), named: kind.rawValue, in: storage, location: path)
            try StudyRunner(study: study).run()
            let searched = try study.trials().map { t in (1...problem.objectives).map { t.metrics["f\($0)"]! } }
            let benched = try SearchQuality.run(problem, strategy: StrategySpec(name: "random"), evaluations: 12, seed: 4)
            XCTAssertEqual(searched, benched, kind.rawValue)
        }
    }
}

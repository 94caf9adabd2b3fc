import Foundation
import StoreTesting
import XCTest

/// `autotune worker STUDY`: more workers joining a study that exists, by name, against a real
/// PostgreSQL server (skipped, saying why, without one) and an SQLite file.
final class WorkerEndToEndTests: ScratchTestCase {
    private func zdtSpace(budget: Int) -> String {
        write("zdt.json", """
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "budget": \(budget), "seed": 3}
        """)
    }

    private func trials(_ store: [String], study: String) throws -> [[String: Any]] {
        let r = runAutotune(["show", study, "--json"] + store, in: scratch)
        XCTAssertEqual(r.status, 0, r.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        return try XCTUnwrap(document["trials"] as? [[String: Any]])
    }

    /// Runs `autotune` with `arguments` without waiting for it.
    private func start(_ arguments: [String]) throws -> Process {
        try startAutotune(arguments, in: scratch)
    }

    func testWorkersJoinAStudyByNameAndSpendTheLargerBudget() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        let first = runAutotune(["search", zdtSpace(budget: 20), "--storage", url, "--study", "joined", "--quiet", "--no-plots"], in: scratch)
        XCTAssertEqual(first.status, 0, first.stderr)
        let workers = try (0..<3).map { _ in try start(["worker", "joined", "--storage", url, "--budget", "300", "--quiet"]) }
        workers.forEach { $0.waitUntilExit() }
        XCTAssertEqual(workers.map(\.terminationStatus), [0, 0, 0])
        let all = try trials(["--storage", url], study: "joined")
        XCTAssertEqual(all.compactMap { $0["trial"] as? Int }, Array(0..<300))
        XCTAssertTrue(all.allSatisfy { $0["state"] as? String == "COMPLETE" })
        XCTAssertGreaterThanOrEqual(Set(all.dropFirst(20).compactMap { $0["worker"] as? String }).count, 2, "the joined workers shared the work")

        let idle = runAutotune(["worker", "joined", "--storage", url], in: scratch)
        XCTAssertEqual(idle.status, 0, idle.stderr)
        XCTAssertTrue(idle.stderr.contains("0 trials of study 'joined' evaluated"), idle.stderr)
    }

    func testAWorkerOfAnSQLiteStudy() throws {
        let db = scratch.appendingPathComponent("s.sqlite").path
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 5), "--db", db, "--study", "s", "--quiet", "--no-plots"], in: scratch).status, 0)
        let r = runAutotune(["worker", "s", "--db", db, "--budget", "9", "--quiet"], in: scratch)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try trials(["--db", db], study: "s").count, 9)
    }

    func testAWorkerOfAStudyThatDoesNotExistIsRefused() throws {
        let db = scratch.appendingPathComponent("s.sqlite").path
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 2), "--db", db, "--study", "zdt", "--quiet", "--no-plots"], in: scratch).status, 0)
        let r = runAutotune(["worker", "zdx", "--db", db], in: scratch)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: no study 'zdx' in \(db) (studies: zdt). Did you mean 'zdt'?\n")
        let bad = runAutotune(["worker", "zdt", "--db", db, "--budget", "0"], in: scratch)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasPrefix("autotune: error: invalid value '0' for '--budget': must be at least 1"), bad.stderr)
    }
}

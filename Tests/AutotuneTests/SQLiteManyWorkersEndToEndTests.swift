import Foundation
import XCTest

/// Many worker processes on one SQLite file, through the built executable: claims and finishes
/// contend for the write lock all the time, and the study still ends with exactly its budget.
final class SQLiteManyWorkersEndToEndTests: ScratchTestCase {
    func testSixteenWorkerProcessesOnOneFileSpendExactlyTheBudget() throws {
        let store = scratch.appendingPathComponent("many.sqlite").path
        let space = write("zdt.json", """
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "budget": 1, "seed": 3}
        """)
        let first = runAutotune(["search", space, "--db", store, "--study", "many", "--quiet", "--no-plots"], in: scratch)
        XCTAssertEqual(first.status, 0, first.stderr)

        let budget = 600
        let started = Date()
        let workers = try (0..<16).map { index -> (Process, URL) in
            let log = scratch.appendingPathComponent("worker\(index).log")
            let process = try startAutotune(["worker", "many", "--db", store, "--budget", "\(budget)", "--threads", "1", "--quiet"],
                                            in: scratch, stderr: log)
            return (process, log)
        }
        defer { workers.map(\.0).filter(\.isRunning).forEach { kill($0.processIdentifier, SIGKILL) } }
        XCTAssertTrue(waitUntil(timeout: 120, interval: 0.05) { workers.allSatisfy { !$0.0.isRunning } }, "every worker ends")
        let elapsed = Date().timeIntervalSince(started)
        for (process, log) in workers {
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            XCTAssertEqual(process.terminationStatus, 0, stderr)
            XCTAssertFalse(stderr.contains("locked"), stderr)
        }

        let shown = runAutotune(["show", "many", "--db", store, "--json"], in: scratch)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let trials = try XCTUnwrap(document["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.compactMap { $0["trial"] as? Int }, Array(0..<budget), "numbers 0..<budget, none twice, none skipped")
        XCTAssertEqual(trials.filter { $0["state"] as? String == "COMPLETE" }.count, budget)
        let claimedBy = Set(trials.compactMap { $0["worker"] as? String })
        XCTAssertGreaterThan(claimedBy.count, 8, "most of the sixteen processes claimed trials")
        print("sixteen SQLite workers, \(budget) trials: \(String(format: "%.1f", elapsed)) s")
    }
}

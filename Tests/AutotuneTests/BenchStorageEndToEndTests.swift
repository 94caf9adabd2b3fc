import Foundation
import StoreTesting
import XCTest

/// `autotune bench storage` end to end on tiny studies: real worker processes on SQLite and on the
/// test server, the records and targets it prints, the PostgreSQL parts skipped without a server,
/// and its usage errors. No timing is asserted.
final class BenchStorageEndToEndTests: ScratchTestCase {
    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private func records(_ report: [String: Any]) -> [String: Double] {
        var values: [String: Double] = [:]
        for r in report["results"] as? [[String: Any]] ?? [] {
            if let name = r["name"] as? String, let value = r["value"] as? Double { values[name] = value }
        }
        return values
    }

    func testATinyRunOnSQLiteWithTwoWorkerCounts() throws {
        let run = runAutotune(["bench", "storage", "--only", "sqlite", "--workers", "1,3", "--trials", "30", "--flat-trials", "0", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try json(run.stdout)
        let values = records(report)
        XCTAssertEqual(Set(values.keys), ["sqlite.w1.ms_per_trial", "sqlite.w1.trials_per_second",
                                          "sqlite.w3.ms_per_trial", "sqlite.w3.trials_per_second"])
        XCTAssertTrue(values.values.allSatisfy { $0 > 0 && $0.isFinite }, "\(values)")
        // One worker: the time per trial and the trials per second are each other's reciprocal.
        XCTAssertEqual(values["sqlite.w1.ms_per_trial"]! * values["sqlite.w1.trials_per_second"]!, 1000, accuracy: 1e-6)
        let targets = try XCTUnwrap(report["targets"] as? [[String: Any]])
        XCTAssertEqual(targets.count, 3)
        XCTAssertTrue(targets.allSatisfy { $0["met"] == nil }, "no PostgreSQL part ran: \(targets)")
        XCTAssertEqual(report["skipped"] as? [String], [])
        XCTAssertNil(report["server"], "no server was asked for")

        let text = runAutotune(["bench", "storage", "--only", "sqlite", "--workers", "2", "--trials", "10", "--flat-trials", "0"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("sqlite.w2.trials_per_second"), text.stdout)
        XCTAssertTrue(text.stdout.contains("not measured: PostgreSQL ≤ 2 ms per trial with 1 worker"), text.stdout)
    }

    func testOnPostgreSQLItTimesTheFlatStudyAndDropsItsSchema() throws {
        let url = try PostgreSQLTestServer.url()
        let run = runAutotune(["bench", "storage", "--only", "postgresql", "--workers", "1,2", "--trials", "20",
                               "--flat-trials", "40", "--window", "10", "--storage", url, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try json(run.stdout)
        let values = records(report)
        XCTAssertEqual(Set(values.keys), ["postgresql.w1.ms_per_trial", "postgresql.w1.trials_per_second",
                                          "postgresql.w2.ms_per_trial", "postgresql.w2.trials_per_second",
                                          "postgresql.flat.ms_per_trial_first_10", "postgresql.flat.ms_per_trial_last_10"])
        let targets = try XCTUnwrap(report["targets"] as? [[String: Any]])
        XCTAssertNotNil(targets[0]["met"] as? Bool, "one worker's time is judged")
        XCTAssertNotNil(targets[1]["met"] as? Bool, "the flat study is judged")
        XCTAssertNil(targets[2]["met"], "Optuna did not run")
        XCTAssertEqual(report["server"] as? String, "\(url) (--storage)")
        XCTAssertEqual(try PostgreSQLTestServer.run("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'autotune_bench_%'", on: url), ["0"],
                       "the benchmark's schema is dropped")
    }

    func testWithoutAServerThePostgreSQLRowsAreSkipped() throws {
        // A server named in the environment that does not answer (nothing listens on port 1).
        let environment = ["AUTOTUNE_STORAGE": "postgresql://autotune@127.0.0.1:1/postgres"]
        let run = runAutotune(["bench", "storage", "--only", "sqlite,postgresql", "--workers", "1", "--trials", "5", "--flat-trials", "0"],
                              environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("sqlite.w1.ms_per_trial"), run.stdout)
        XCTAssertFalse(run.stdout.contains("postgresql.w1"), run.stdout)
        XCTAssertTrue(run.stdout.contains("skipped: PostgreSQL and Optuna: NO POSTGRESQL SERVER, AUTOTUNE_STORAGE names a server that does not answer"),
                      run.stdout)

        // The nightly suite's quick part: SQLite records kept, the skip said on stderr, exit 0.
        let nightly = runAutotune(["bench", "nightly", "--quick", "--only", "storage", "--db", scratch.appendingPathComponent("h.sqlite").path],
                                  environment: environment)
        XCTAssertEqual(nightly.status, 0, nightly.stderr)
        XCTAssertTrue(nightly.stdout.contains("storage.sqlite.w4.trials_per_second"), nightly.stdout)
        XCTAssertTrue(nightly.stderr.contains("storage: skipped: PostgreSQL and Optuna: NO POSTGRESQL SERVER"), nightly.stderr)
    }

    func testBadOptionsAreUsageErrors() {
        func expectUsage(_ args: [String], _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            let run = runAutotune(["bench", "storage"] + args)
            XCTAssertEqual(run.status, 2, run.stderr, file: file, line: line)
            XCTAssertTrue(run.stderr.contains(text), run.stderr, file: file, line: line)
            XCTAssertEqual(run.stderr.split(separator: "\n").first.map { $0.contains(text) }, true, "the reason on the first line: \(run.stderr)",
                           file: file, line: line)
        }
        expectUsage(["--workers", "0"], "--workers")
        expectUsage(["--only", "sqlit"], "Did you mean 'sqlite'?")
        expectUsage(["--flat-trials", "100", "--window", "60"], "--flat-trials")
        expectUsage(["--storage", "mysql://db/x"], "--storage")
        expectUsage(["--db", "x.sqlite"], "only a --worker reads a store from --db")
        expectUsage(["--worker", "w1", "--db", scratch.appendingPathComponent("none.sqlite").path], "none.sqlite: no such store")
    }

    func testAnUnreachableNamedServerIsARuntimeError() {
        let run = runAutotune(["bench", "storage", "--only", "postgresql", "--storage", "postgresql://autotune:secret@127.0.0.1:1/postgres"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("postgresql://autotune@127.0.0.1:1/postgres: cannot connect"), run.stderr)
        XCTAssertFalse(run.stderr.contains("secret"), "the password is never printed")
    }
}

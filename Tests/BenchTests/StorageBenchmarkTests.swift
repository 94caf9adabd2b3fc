import Foundation
import Store
import XCTest
@testable import Bench

/// The storage benchmark's arithmetic (per-trial time, throughput, windows, targets) on timings
/// worked out by hand, and how it finds its PostgreSQL server.
final class StorageBenchmarkTests: XCTestCase {
    func testPerTrialTimeIsTheWorkersRunTimeOverTheTrialsAndThroughputUsesTheWallClock() {
        // Worker 1: 100 trials from 0 to 200 ms; worker 2: 300 trials from 50 to 250 ms.
        // Busy time 200 + 200 = 400 ms over 400 trials: 1 ms a trial. Wall 0 → 250 ms: 400 / 0.25 s.
        let timings = [WorkerTiming(evaluated: 100, begin: 0, end: 200_000_000),
                       WorkerTiming(evaluated: 300, begin: 50_000_000, end: 250_000_000)]
        let summary = StorageBenchmark.summary(timings)
        XCTAssertEqual(summary.msPerTrial, 1.0, accuracy: 1e-12)
        XCTAssertEqual(summary.trialsPerSecond, 1600, accuracy: 1e-9)
        // One worker: the two figures are each other's reciprocal (4 ms a trial, 250 a second).
        let one = StorageBenchmark.summary([WorkerTiming(evaluated: 50, begin: 1_000_000_000, end: 1_200_000_000)])
        XCTAssertEqual(one.msPerTrial, 4, accuracy: 1e-12)
        XCTAssertEqual(one.trialsPerSecond, 250, accuracy: 1e-9)
        XCTAssertTrue(StorageBenchmark.summary([]).msPerTrial.isNaN)
        XCTAssertTrue(StorageBenchmark.summary([WorkerTiming(evaluated: 0, begin: 5, end: 5)]).trialsPerSecond.isNaN)
    }

    func testRecordsNameTheBackendAndTheWorkerCount() {
        let records = StorageBenchmark.records(.optuna, workers: 16, timings: [WorkerTiming(evaluated: 10, begin: 0, end: 1_000_000_000)])
        XCTAssertEqual(records, [
            BenchRecord(suite: "storage", name: "optuna_postgresql.w16.ms_per_trial", value: 100, unit: "ms", better: .lower),
            BenchRecord(suite: "storage", name: "optuna_postgresql.w16.trials_per_second", value: 10, unit: "trials/s", better: .higher),
        ])
    }

    func testWindowsTimeTheFirstAndLastTrialsFromTheEvaluationStarts() throws {
        // Starts at 0, 1, 3, 6 s: the first 2 trials end where the third starts (3 s); the last 2
        // trials run from the start of the second (1 s) to that of the fourth (6 s).
        let windows = try XCTUnwrap(WorkerTiming.windows([0, 1_000_000_000, 3_000_000_000, 6_000_000_000], window: 2))
        XCTAssertEqual(windows.first, 3, accuracy: 1e-12)
        XCTAssertEqual(windows.last, 5, accuracy: 1e-12)
        XCTAssertNil(WorkerTiming.windows([0, 1, 2], window: 2), "fewer than two windows of starts")
        XCTAssertNil(WorkerTiming.windows([0, 1], window: 0))

        let flat = try StorageBenchmark.flatRecords([WorkerTiming(evaluated: 1000, begin: 0, end: 9, firstWindow: 0.5, lastWindow: 0.75)], window: 250)
        XCTAssertEqual(flat.map(\.name), ["postgresql.flat.ms_per_trial_first_250", "postgresql.flat.ms_per_trial_last_250"])
        XCTAssertEqual(flat.map(\.value), [2, 3])
        XCTAssertThrowsError(try StorageBenchmark.flatRecords([WorkerTiming(evaluated: 10, begin: 0, end: 9)], window: 250))
        XCTAssertEqual(StorageBenchmark.windowLabel(1_000), "1k")
        XCTAssertEqual(StorageBenchmark.grouped(100_000), "100,000")
        XCTAssertEqual(StorageBenchmark.grouped(999), "999")
    }

    func testTargetsAreMetMissedOrNotMeasured() {
        func record(_ name: String, _ value: Double) -> BenchRecord {
            BenchRecord(suite: "storage", name: name, value: value, unit: "", better: .lower)
        }
        let targets = StorageBenchmark.targets([
            record("postgresql.w1.ms_per_trial", 1.5),
            record("postgresql.flat.ms_per_trial_first_1k", 1.6),
            record("postgresql.flat.ms_per_trial_last_1k", 2.4),   // 1.5 × the first: not flat
        ], window: 1_000, flatTrials: 100_000)
        XCTAssertEqual(targets.map(\.met), [true, false, nil])
        XCTAssertEqual(targets[1].value ?? 0, 1.5, accuracy: 1e-12)
        XCTAssertEqual(targets[1].target, "PostgreSQL flat to 100,000 trials: last 1k ≤ 1.25 × first 1k")
        XCTAssertEqual(StorageBenchmark.targetLines(targets), [
            "met: PostgreSQL ≤ 2 ms per trial with 1 worker (measured 1.5)",
            "MISSED: PostgreSQL flat to 100,000 trials: last 1k ≤ 1.25 × first 1k (measured 1.5)",
            "not measured: PostgreSQL ≥ 10 × Optuna's RDB throughput at 16 workers",
        ])
        let fast = StorageBenchmark.targets([record("postgresql.w16.throughput_vs_optuna", 10)], window: 1_000, flatTrials: 0)
        XCTAssertEqual(fast.map(\.met), [nil, nil, true], "exactly 10 times meets the target")
    }

    func testLinesAreReadAsTheyComeAndTheLastOneWithoutANewline() {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data("ready\n{\"a\": 1}\nlast".utf8))
        try? pipe.fileHandleForWriting.close()
        var reader = LineReader(pipe.fileHandleForReading)
        XCTAssertEqual(reader.next(), "ready")
        XCTAssertEqual(reader.next(), "{\"a\": 1}")
        XCTAssertEqual(reader.next(), "last")
        XCTAssertNil(reader.next())
    }

    func testTheServerIsTheNamedOneOrNoneWithTheReason() throws {
        // Port 1 on loopback: nothing listens there.
        let dead = "postgresql://autotune@127.0.0.1:1/postgres"
        XCTAssertThrowsError(try StorageBenchmarkServer.resolve(explicit: dead, environment: [:])) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .cannotConnect, "\(error)")
        }
        let unreachable = try StorageBenchmarkServer.resolve(explicit: nil, environment: ["AUTOTUNE_STORAGE": dead], startCluster: false)
        XCTAssertNil(unreachable.url)
        XCTAssertTrue(unreachable.reason?.hasPrefix("AUTOTUNE_STORAGE names a server that does not answer") == true, unreachable.reason ?? "")
        let notURL = try StorageBenchmarkServer.resolve(explicit: nil, environment: ["AUTOTUNE_TEST_POSTGRES": "db.lan:5432"], startCluster: false)
        XCTAssertEqual(notURL.reason, "AUTOTUNE_TEST_POSTGRES=db.lan:5432 is not a postgresql:// URL")
        let none = try StorageBenchmarkServer.resolve(explicit: nil, environment: [:], startCluster: false)
        XCTAssertNil(none.url)
        XCTAssertEqual(none.description, "none (no server named (--storage, AUTOTUNE_STORAGE, AUTOTUNE_TEST_POSTGRES))")
    }

    func testWithoutAServerThePostgreSQLPartsAreSkippedNotFailed() throws {
        var bench = StorageBenchmark(executable: "/nonexistent/autotune", scratch: FileManager.default.temporaryDirectory)
        bench.backends = [.postgresql, .optuna]
        let outcome = try bench.run(server: .none("nothing listens"), progress: nil)
        XCTAssertEqual(outcome.results, [])
        XCTAssertEqual(outcome.skipped, ["PostgreSQL and Optuna: NO POSTGRESQL SERVER, nothing listens"])
        XCTAssertEqual(outcome.targets.map(\.met), [nil, nil, nil])
    }
}

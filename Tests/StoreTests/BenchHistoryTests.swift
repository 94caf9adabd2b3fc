import Foundation
import XCTest
@testable import Store

/// The benchmark history: runs and their results, one transaction per call, so a killed run
/// keeps what it recorded and never becomes a baseline.
final class BenchHistoryTests: XCTestCase {
    var path: String!

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString).sqlite").path
    }

    override func tearDownWithError() throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func run(_ host: String = "cpu-a/2", commit: String = "c1") -> BenchRunRecord {
        BenchRunRecord(suite: "nightly --quick", started: Date(timeIntervalSince1970: 1_000), commit: commit,
                       hostFingerprint: host, host: #"{"cores": 2}"#, toolchain: "swift 6.3")
    }

    func result(_ name: String, _ value: Double, better: String = "lower") -> BenchResultRecord {
        BenchResultRecord(suite: "engine", name: name, value: value, unit: "s", better: better)
    }

    func testRunsResultsAndStates() throws {
        let store = try SQLiteStorage(path: path)
        let first = try store.beginRun(run())
        XCTAssertEqual(first.state, .running)
        try store.recordResults([result("mlp.epoch_seconds", 1.5), result("mlp.accuracy", 0.87, better: "higher")], run: first.id)
        try store.recordResults([result("mlp.epoch_seconds", 1.25), result("nan", .nan)], run: first.id)
        try store.finishRun(first.id, state: .complete)
        let second = try store.beginRun(run("cpu-b/8", commit: "c2"))
        try store.finishRun(second.id, state: .failed)

        XCTAssertEqual(try store.benchRuns(hostFingerprint: nil, state: nil, limit: nil).map(\.id), [second.id, first.id], "newest first")
        XCTAssertEqual(try store.benchRuns(hostFingerprint: "cpu-a/2", state: .complete, limit: 5).map(\.commit), ["c1"])
        XCTAssertEqual(try store.benchRuns(hostFingerprint: nil, state: .failed, limit: 1).map(\.id), [second.id])
        XCTAssertEqual(try store.benchRuns(hostFingerprint: nil, state: nil, limit: 1).count, 1)
        let results = try store.benchResults(run: first.id)
        XCTAssertEqual(results.map(\.name), ["mlp.accuracy", "mlp.epoch_seconds", "nan"], "a name recorded again keeps its last value")
        XCTAssertEqual(results[1].value, 1.25)
        XCTAssertTrue(results[2].value.isNaN, "NaN round-trips through NULL")
        let stored = try XCTUnwrap(store.benchRuns(hostFingerprint: "cpu-a/2", state: nil, limit: nil).first)
        XCTAssertEqual(stored.started, Date(timeIntervalSince1970: 1_000))
        XCTAssertNotNil(stored.finished)
        XCTAssertEqual(stored.toolchain, "swift 6.3")
    }

    func testAKilledRunKeepsItsResultsAndStaysRunning() throws {
        let id: Int64
        do {
            let store = try SQLiteStorage(path: path)
            id = try store.beginRun(run()).id
            try store.recordResults([result("engine.a", 1)], run: id)
            // The process dies here: no finishRun.
        }
        let reopened = try SQLiteStorage(path: path)
        XCTAssertEqual(try reopened.benchRuns(hostFingerprint: nil, state: .running, limit: nil).map(\.id), [id])
        XCTAssertEqual(try reopened.benchRuns(hostFingerprint: nil, state: .complete, limit: nil), [], "never a baseline")
        XCTAssertEqual(try reopened.benchResults(run: id).map(\.value), [1])
    }

    func testMisuseIsRefused() throws {
        let store = try SQLiteStorage(path: path)
        let id = try store.beginRun(run()).id
        func kind(_ body: () throws -> Void) -> StoreError.Kind? {
            do { try body(); return nil } catch let e as StoreError { return e.kind } catch { return nil }
        }
        XCTAssertEqual(kind { try store.recordResults([self.result("x", 1, better: "sideways")], run: id) }, .invalidArgument)
        XCTAssertEqual(kind { try store.finishRun(id, state: .running) }, .invalidArgument)
        XCTAssertEqual(kind { try store.recordResults([self.result("x", 1)], run: 99) }, .notFound)
        try store.finishRun(id, state: .complete)
        XCTAssertEqual(kind { try store.finishRun(id, state: .failed) }, .notRunning)
        XCTAssertEqual(kind { try store.recordResults([self.result("x", 1)], run: id) }, .notRunning)
        XCTAssertEqual(try store.benchResults(run: id), [], "the refused results left nothing behind")
    }
}

import CSQLite
import Foundation
import XCTest
@testable import Store

/// Transactions that meet another connection's lock: retried whole when waiting cannot help
/// (WAL's SQLITE_BUSY_SNAPSHOT), and given up with the file named once the time runs out.
final class SQLiteBusyTests: XCTestCase {
    private var directory: URL!
    private var path: String { directory.appendingPathComponent("busy.sqlite").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-busy-\(getpid())-\(name.filter(\.isLetter))")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let setup = try SQLiteConnection(path: path, busyTimeout: 1)
        try setup.script("PRAGMA journal_mode = WAL; CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);")
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func counter(_ db: SQLiteConnection) throws -> Int {
        var n = -1
        try db.query("SELECT n FROM counter") { n = $0.int(0) }
        return n
    }

    /// A deferred transaction reads, another connection commits a write, then the first one
    /// writes: SQLite refuses at once with SQLITE_BUSY_SNAPSHOT (its snapshot is out of date, so
    /// the busy timeout is not used). The transaction runs again whole and adds to the new value.
    func testAnOutOfDateSnapshotRunsTheTransactionAgain() throws {
        let first = try SQLiteConnection(path: path, busyTimeout: 5), second = try SQLiteConnection(path: path, busyTimeout: 5)
        var runs = 0
        let started = Date()
        try first.transaction(immediate: false) {
            runs += 1
            let seen = try counter(first)
            if runs == 1 { try second.execute("UPDATE counter SET n = n + 10") }
            try first.execute("UPDATE counter SET n = ?1", [seen + 1])
        }
        XCTAssertEqual(runs, 2, "the first run met the other connection's commit and ran again")
        XCTAssertEqual(first.busyRetries, 1)
        XCTAssertEqual(try counter(second), 11, "0 + 10 by the other connection, + 1 by the retried transaction")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "retried at once, not after the busy timeout")
    }

    /// The write lock held by another connection past the busy timeout and the retries after it:
    /// a `.busy` error naming the file, after about twice the timeout, never sooner.
    func testALockHeldTooLongIsABusyErrorNamingTheFile() throws {
        let holder = try SQLiteConnection(path: path, busyTimeout: 1)
        try holder.execute("BEGIN IMMEDIATE")
        defer { _ = try? holder.execute("ROLLBACK") }
        let waiter = try SQLiteConnection(path: path, busyTimeout: 0.3)
        let started = Date()
        XCTAssertThrowsError(try waiter.transaction(immediate: true) { try waiter.execute("UPDATE counter SET n = 5") }) { error in
            let e = error as? StoreError
            XCTAssertEqual(e?.kind, .busy)
            XCTAssertEqual(e?.file, path)
            XCTAssertTrue(e?.description.hasPrefix("\(path): other processes kept the store locked: gave up after") == true, "\(error)")
        }
        let waited = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(waited, 0.6, "the busy timeout, then retries for as long again")
        XCTAssertLessThan(waited, 3)
        XCTAssertGreaterThan(waiter.busyRetries, 0)
        XCTAssertEqual(try counter(holder), 0, "nothing was written")
    }

    /// The pause grows from 2 ms to its 250 ms cap, spread by ×0.5–1.5: worked out for two
    /// process ids from the formula (spread = 0.5 + ((pid·2654435761 + tries·40503) mod 2³² mod 1000)/1000).
    func testThePauseDoublesToItsCapWithAJitterByProcess() {
        // pid 1000, try 1: (1000·2654435761 + 40503) mod 2³² = 146 012 575 → 575 → ×1.075.
        XCTAssertEqual(SQLiteConnection.busyPause(1, process: 1000), 0.002 * 1.075, accuracy: 1e-12)
        // pid 1000, try 3: + 2·40503 → 146 093 581 → ×1.081, base 0.002·2² = 0.008.
        XCTAssertEqual(SQLiteConnection.busyPause(3, process: 1000), 0.008 * 1.081, accuracy: 1e-12)
        // Try 12: 0.002·2¹¹ = 4.096 s is past the 0.25 s cap; 146 458 108 → ×0.608.
        XCTAssertEqual(SQLiteConnection.busyPause(12, process: 1000), 0.25 * 0.608, accuracy: 1e-12)
        XCTAssertNotEqual(SQLiteConnection.busyPause(1, process: 1000), SQLiteConnection.busyPause(1, process: 1001))
        XCTAssertTrue((1...30).allSatisfy { SQLiteConnection.busyPause($0) <= 0.375 && SQLiteConnection.busyPause($0) >= 0.001 })
    }
}

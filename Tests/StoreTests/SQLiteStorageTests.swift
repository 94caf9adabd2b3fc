import Foundation
import XCTest
@testable import Store

final class SQLiteStorageTests: StudyStorageContractCase {
    private static var made = 0
    private var directory: URL!
    private var path: String { directory.appendingPathComponent("store.sqlite").path }

    override func connect() throws -> StudyStorage { try SQLiteStorage(path: path) }

    override func setUpWithError() throws {
        Self.made += 1
        let label = name.filter { $0.isLetter || $0.isNumber }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("autotune-store-\(getpid())-\(Self.made)-\(label)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    // MARK: The contract every backend meets

    func testTrialStatesAreStoredUpperCase() {
        XCTAssertEqual(TrialState.allCases.map(\.rawValue), ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "INFEASIBLE", "STALE"])
    }

    func testStudyRoundTrip() throws { try contract.studyRoundTrip() }
    func testResume() throws { try contract.resume() }
    func testSummaries() throws { try contract.summaries() }
    func testActivitySinceACursor() throws { try contract.activitySinceACursor() }
    func testTrialRoundTrip() throws { try contract.trialRoundTrip() }
    func testNumbering() throws { try contract.numbering() }
    func testBudgetLimit() throws { try contract.budgetLimit() }
    func testFinishingTwiceThrows() throws { try contract.finishingTwiceThrows() }
    func testStaleTrialsAreRetried() throws { try contract.staleTrialsAreRetried() }
    func testStaleRerunsAreBounded() throws { try contract.staleRerunsAreBounded() }
    func testLateReportsAreKeptAsNotes() throws { try contract.lateReportsAreKeptAsNotes() }
    func testAbandonedTrialsAreRetried() throws { try contract.abandonedTrialsAreRetried() }
    func testHeartbeatsKeepTrialsAlive() throws { try contract.heartbeatsKeepTrialsAlive() }
    func testCursorReturnsOnlyNewResults() throws { try contract.cursorReturnsOnlyNewResults() }
    func testConcurrentClaims() throws { try contract.concurrentClaims() }
    func testCopyKeepsEverything() throws { try contract.copyKeepsEverything() }
    func testDeleteRemovesOnlyThatStudy() throws { try contract.deleteRemovesOnlyThatStudy() }

    // MARK: The file

    private func assertOpenFails(_ path: String, kind: StoreError.Kind, mentioning reason: String, createDirectory: Bool = true,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SQLiteStorage(path: path, busyTimeout: 1, createDirectory: createDirectory), file: file, line: line) { error in
            guard let error = error as? StoreError else { return XCTFail("not a StoreError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("\(path): "), error.description, file: file, line: line)
            XCTAssertTrue(error.description.contains(reason), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        }
    }

    func testTextFileIsRejected() throws {
        try "name,loss\nbaseline,0.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        assertOpenFails(path, kind: .cannotOpen, mentioning: "not a database")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "name,loss\nbaseline,0.5\n", "left untouched")
    }

    func testDirectoryIsRejected() {
        assertOpenFails(directory.path, kind: .cannotOpen, mentioning: "directory")
    }

    func testUncreatableLocationIsRejected() throws {
        let blocker = directory.appendingPathComponent("results").path
        try "not a directory".write(toFile: blocker, atomically: true, encoding: .utf8)
        assertOpenFails(blocker + "/autotune.sqlite", kind: .cannotOpen, mentioning: "cannot open")
        assertOpenFails(blocker + "/deeper/autotune.sqlite", kind: .cannotOpen, mentioning: "\(blocker) is a file, not a directory")
    }

    func testNewerSchemaIsRejected() throws {
        do {
            let storage = try SQLiteStorage(path: path)
            try storage.db.execute("UPDATE schema_version SET version = 99")
        }
        XCTAssertThrowsError(try SQLiteStorage(path: path)) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .schemaTooNew)
            XCTAssertEqual("\(error)", "\(path): store schema version 99 is newer than this autotune understands (\(Schema.version))")
        }
    }

    func testVersionOneStoreIsUpgraded() throws {
        do {
            let storage = try SQLiteStorage(path: path)
            _ = try storage.openStudy(StudyRecord(name: "old", space: "{}", objectives: ["f"], directions: ["minimize"],
                                                  seed: 1, strategy: "random"))
            try storage.db.execute("DROP TABLE bench_results")
            try storage.db.execute("DROP TABLE bench_runs")
            try storage.db.execute("UPDATE schema_version SET version = 1")
        }
        let storage = try SQLiteStorage(path: path)
        XCTAssertNotNil(try storage.study(named: "old"), "studies survive the upgrade")
        XCTAssertEqual(try storage.benchRuns(hostFingerprint: nil, state: nil, limit: nil), [], "the history tables exist")
        var version = 0
        try storage.db.query("SELECT version FROM schema_version") { version = $0.int(0) }
        XCTAssertEqual(version, Schema.version)
    }

    func testVersionThreeStoreLosesItsFrontSnapshot() throws {
        do {
            let storage = try SQLiteStorage(path: path)
            _ = try storage.openStudy(StudyRecord(name: "old", space: "{}", objectives: ["f"], directions: ["minimize"],
                                                  seed: 1, strategy: "random"))
            try storage.db.script("""
                CREATE TABLE study_front (study_id INTEGER NOT NULL REFERENCES studies (id), position INTEGER NOT NULL,
                                          number INTEGER NOT NULL, PRIMARY KEY (study_id, position)) WITHOUT ROWID;
                INSERT INTO study_front VALUES (1, 0, 0);
                UPDATE schema_version SET version = 3;
                """)
        }
        let storage = try SQLiteStorage(path: path)
        XCTAssertNotNil(try storage.study(named: "old"), "studies survive the upgrade")
        var tables: [String] = []
        try storage.db.query("SELECT name FROM sqlite_master WHERE type = 'table'") { tables.append($0.text(0)) }
        XCTAssertFalse(tables.contains("study_front"), "\(tables)")
        var version = 0
        try storage.db.query("SELECT version FROM schema_version") { version = $0.int(0) }
        XCTAssertEqual(version, Schema.version)
    }

    func testVersionFourStoreGainsTheStaleState() throws {
        let study: StudyRecord
        do {
            let storage = try SQLiteStorage(path: path)
            study = try contract.versionFourTrials(storage)
            // Version 4's trials table, as it was written.
            try storage.db.script("""
                PRAGMA foreign_keys = OFF;
                CREATE TABLE trials_v4 (
                    study_id INTEGER NOT NULL REFERENCES studies (id),
                    number INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'INFEASIBLE')),
                    started REAL NOT NULL,
                    finished REAL,
                    heartbeat REAL NOT NULL,
                    worker TEXT NOT NULL,
                    message TEXT,
                    violation REAL,
                    retry_of INTEGER,
                    finish_seq INTEGER,
                    PRIMARY KEY (study_id, number)
                ) WITHOUT ROWID;
                INSERT INTO trials_v4 SELECT study_id, number, CASE state WHEN 'STALE' THEN 'FAIL' ELSE state END, started, finished,
                    heartbeat, worker, message, violation, retry_of, finish_seq FROM trials;
                DROP TABLE trials;
                ALTER TABLE trials_v4 RENAME TO trials;
                \(Schema.trialIndexes)
                UPDATE schema_version SET version = 4;
                """)
        }
        let storage = try SQLiteStorage(path: path)
        try contract.upgradedFromVersionFour(storage, study)
        var settings: [String] = []
        try storage.db.query("SELECT version FROM schema_version") { settings.append("version \($0.int(0))") }
        try storage.db.query("PRAGMA foreign_keys") { settings.append("foreign keys \($0.int(0))") }
        XCTAssertEqual(settings, ["version 5", "foreign keys 1"])
    }

    func testVersionTwoStoreGainsTheBenchmarkHistory() throws {
        do {
            let storage = try SQLiteStorage(path: path)
            try storage.db.execute("DROP TABLE bench_results")
            try storage.db.execute("DROP TABLE bench_runs")
            try storage.db.execute("UPDATE schema_version SET version = 2")
        }
        let storage = try SQLiteStorage(path: path)
        let run = try storage.beginRun(BenchRunRecord(suite: "nightly", commit: "abc", hostFingerprint: "h", host: "{}", toolchain: "t"))
        XCTAssertEqual(run.id, 1)
    }

    func testOtherSQLiteDatabaseIsRejected() throws {
        do {
            let db = try SQLiteConnection(path: path, busyTimeout: 1)
            try db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, file TEXT)")
        }
        assertOpenFails(path, kind: .cannotOpen, mentioning: "not an autotune store")
    }

    func testFreshFileInMissingDirectories() throws {
        let nested = directory.appendingPathComponent("results/nightly/autotune.sqlite").path
        assertOpenFails(nested, kind: .cannotOpen, mentioning: "results/nightly does not exist; create it first", createDirectory: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("results").path), "nothing made")
        let storage = try SQLiteStorage(path: nested, createDirectory: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: nested))
        var settings: [String] = []
        try storage.db.query("SELECT version FROM schema_version") { settings.append("version \($0.int(0))") }
        try storage.db.query("PRAGMA journal_mode") { settings.append($0.text(0)) }
        try storage.db.query("PRAGMA foreign_keys") { settings.append("foreign keys \($0.int(0))") }
        XCTAssertEqual(settings, ["version \(Schema.version)", "wal", "foreign keys 1"])
    }

    func testSeedKeepsItsBitPattern() throws {
        let storage = try SQLiteStorage(path: path)
        _ = try storage.openStudy(StudyRecord(name: "s", space: "{}", objectives: ["loss"], directions: ["minimize"],
                                              seed: .max, strategy: "random"))
        var raw: [Int64] = []
        try storage.db.query("SELECT seed FROM studies") { raw.append($0.int64(0)) }
        XCTAssertEqual(raw, [-1])
    }

    func testTrialsSurviveReopening() throws {
        let number: Int? = try {
            let storage = try SQLiteStorage(path: path)
            let study = try contract.makeStudy(storage)
            let trial = try contract.claim(storage, study)
            try contract.finish(storage, study, 0, loss: 0.125)
            return trial?.number
        }()
        let reopened = try SQLiteStorage(path: path)
        let study = try XCTUnwrap(try reopened.study(named: "mnist"))
        let trials = try reopened.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(trials.map(\.number), [try XCTUnwrap(number)])
        XCTAssertEqual(trials.first?.metrics["loss"], 0.125)
        XCTAssertEqual(trials.first?.parameters, contract.parameters(0))
    }

    /// Claim, finish and the new-results query do the same work at trial 20 as at trial 620: no
    /// statement of the per-trial cycle scans the study's trials.
    func testPerTrialWorkDoesNotGrowWithTheStudy() throws {
        let storage = try SQLiteStorage(path: path)
        let study = try contract.makeStudy(storage)
        var cursor: Int64 = 0
        func cycle() throws -> Int {
            let before = storage.db.virtualMachineSteps
            let trial = try XCTUnwrap(try contract.claim(storage, study))
            try contract.finish(storage, study, trial.number)
            let results = try storage.trials(study: study.id, finishedAfter: cursor)
            XCTAssertEqual(results.map(\.number), [trial.number])
            cursor = try XCTUnwrap(results.last?.finishSequence)
            return storage.db.virtualMachineSteps - before
        }
        for _ in 0..<20 { _ = try cycle() }
        let early = try cycle()
        for _ in 0..<600 { _ = try cycle() }
        let late = try cycle()
        XCTAssertLessThan(abs(late - early), 20, "steps per trial: \(early) at trial 20, \(late) at trial 620")
    }
}

/// A store on a network file system is refused (SQLite's locking is unsafe there), unless the
/// environment says to use it anyway; a local one is not.
final class NetworkFileSystemTests: XCTestCase {
    func testNetworkFileSystemsAreRecognisedByTheirMagicNumbers() {
        XCTAssertEqual(NetworkFileSystem.name(ofMagic: 0x6969), "NFS")
        XCTAssertEqual(NetworkFileSystem.name(ofMagic: 0xFF53_4D42), "CIFS")
        XCTAssertEqual(NetworkFileSystem.name(ofMagic: 0xFE53_4D42), "SMB2")
        XCTAssertNil(NetworkFileSystem.name(ofMagic: 0xEF53), "ext4 is local")
        XCTAssertNil(NetworkFileSystem.name(ofMagic: 0x0102_1994), "tmpfs is local")
        XCTAssertNil(NetworkFileSystem.name(of: FileManager.default.temporaryDirectory.appendingPathComponent("s.sqlite").path))
    }

    func testAStoreOnNFSIsRefusedWithTheWaysOutUnlessForced() throws {
        XCTAssertThrowsError(try NetworkFileSystem.check("/mnt/shared/s.sqlite", fileSystem: "NFS", environment: [:])) { error in
            let e = error as? StoreError
            XCTAssertEqual(e?.kind, .cannotOpen)
            XCTAssertEqual(e?.description, "/mnt/shared/s.sqlite: is on NFS, a network file system, where SQLite's file locking is unsafe and workers sharing "
                           + "it can corrupt it; keep it on a local disk, use a PostgreSQL store (--storage), or set AUTOTUNE_SQLITE_ON_NETWORK_FS=1 to use it anyway")
        }
        XCTAssertNoThrow(try NetworkFileSystem.check("/mnt/shared/s.sqlite", fileSystem: "NFS", environment: ["AUTOTUNE_SQLITE_ON_NETWORK_FS": "1"]))
        XCTAssertNoThrow(try NetworkFileSystem.check("/data/s.sqlite", fileSystem: nil, environment: [:]))
    }
}

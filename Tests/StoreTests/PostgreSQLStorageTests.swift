import Foundation
import StoreTesting
import XCTest
@testable import Store

/// The storage contract and PostgreSQL's own behaviour, against a real server: the one
/// `AUTOTUNE_TEST_POSTGRES` names, or a throwaway cluster the tests start (they skip, saying why,
/// when neither can be had). Every test works in a new schema of its own.
final class PostgreSQLStorageTests: StudyStorageContractCase {
    private var schemaURL: String?

    /// This test's store: a new schema, made on first use (tests that need no server never ask).
    private func storeURL() throws -> String {
        if let schemaURL { return schemaURL }
        let made = try PostgreSQLTestServer.freshSchema(name)
        schemaURL = made
        return made
    }

    override func connect() throws -> StudyStorage { try PostgreSQLStorage(url: try storeURL()) }

    // MARK: The contract every backend meets

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

    // MARK: The server

    /// Eight connections claiming from eight threads, while each also fails stale trials, share
    /// one numbering and one budget.
    func testEightConnectionsNeverOvershootTheBudget() throws {
        let connections = try (0..<8).map { _ in try connect() }
        let study = try contract.makeStudy(connections[0])
        let lock = NSLock()
        var numbers: [Int] = [], errors: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let storage = connections[worker]
            while true {
                do {
                    _ = try storage.failStaleTrials(study: study.id, timeout: 60)
                    guard let trial = try contract.claim(storage, study, limit: 240, worker: "w\(worker)") else { return }
                    try contract.finish(storage, study, trial.number)
                    lock.lock(); numbers.append(trial.number); lock.unlock()
                } catch {
                    lock.lock(); errors.append(error); lock.unlock()
                    return
                }
            }
        }
        XCTAssertTrue(errors.isEmpty, "\(errors.prefix(3))")
        XCTAssertEqual(numbers.sorted(), Array(0..<240))
        XCTAssertEqual(try connections[0].studies().first?.counts[.complete], 240)
    }

    /// A connection ended by the server (`pg_terminate_backend`) is reopened and the call made
    /// again, claims and finishes alike.
    func testTerminatedConnectionIsReopened() throws {
        let url = try storeURL()
        let application = "autotune_reopen_\(getpid())"
        let storage = try PostgreSQLStorage(url: url + "&application_name=\(application)")
        let study = try contract.makeStudy(storage)
        for round in 0..<5 {
            let pid = storage.connection.backendPID
            XCTAssertEqual(try PostgreSQLTestServer.terminateConnections(application: application), 1)
            let trial = try XCTUnwrap(try contract.claim(storage, study, limit: 10))
            XCTAssertEqual(trial.number, round)
            XCTAssertNotEqual(storage.connection.backendPID, pid, "a new backend serves the connection")
            try PostgreSQLTestServer.terminateConnections(application: application)
            try contract.finish(storage, study, trial.number)
        }
        let trials = try storage.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(trials.map(\.number), [0, 1, 2, 3, 4])
        XCTAssertEqual(Set(trials.map(\.state)), [.complete])
    }

    /// A claim made while the server is down waits, reconnecting with backoff, and succeeds once
    /// the server is back; nothing is lost or claimed twice.
    func testAServerRestartIsWaitedOut() throws {
        let storage = try PostgreSQLStorage(url: try storeURL())
        let study = try contract.makeStudy(storage)
        XCTAssertEqual(try contract.claim(storage, study)?.number, 0)
        final class Outcome: @unchecked Sendable {
            var claimed: Result<TrialRecord?, Error>?
            let done = DispatchSemaphore(value: 0)
        }
        let outcome = Outcome(), contract = self.contract
        try PostgreSQLTestServer.restart {
            DispatchQueue.global().async {
                outcome.claimed = Result { try contract.claim(storage, study) }
                outcome.done.signal()
            }
            XCTAssertEqual(outcome.done.wait(timeout: .now() + 1.5), .timedOut, "the claim waits while the server is down")
        }
        XCTAssertEqual(outcome.done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(try outcome.claimed?.get()?.number, 1)
        try contract.finish(storage, study, 0)
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: nil).map(\.state), [.complete, .running])
    }

    /// Connections get the network defaults (so a dead network is noticed), and a URL that sets
    /// one of them keeps its own value.
    func testNetworkDefaultsApplyUnlessTheURLSetsThem() throws {
        let url = try storeURL()
        let plain = try PostgreSQLStorage(url: url).connection.parameters
        for (keyword, value) in PostgreSQLConnection.networkDefaults {
            XCTAssertEqual(plain[keyword], value, keyword)
        }
        XCTAssertEqual(plain["tcp_user_timeout"], "30000")
        let tuned = try PostgreSQLStorage(url: url + "&tcp_user_timeout=2000&keepalives_idle=3&connect_timeout=4").connection.parameters
        XCTAssertEqual(tuned["tcp_user_timeout"], "2000")
        XCTAssertEqual(tuned["keepalives_idle"], "3")
        XCTAssertEqual(tuned["connect_timeout"], "4")
        XCTAssertEqual(tuned["keepalives_interval"], "5", "the ones the URL leaves out keep their defaults")
    }

    /// The server down for longer than the reconnect patience: the call gives up after it (not
    /// before), with one line naming the URL without its password and the setting; later calls
    /// fail at once with the same line, even once the server is back.
    func testReconnectingGivesUpAfterItsPatience() throws {
        let url = try storeURL().replacingOccurrences(of: "postgresql://autotune@", with: "postgresql://autotune:hush@")
        let storage = try PostgreSQLStorage(url: url, reconnectPatience: 1.5)
        let study = try contract.makeStudy(storage)
        var failure: StoreError?
        var waited = 0.0
        try PostgreSQLTestServer.restart {
            let started = Date()
            XCTAssertThrowsError(try contract.claim(storage, study)) { failure = $0 as? StoreError }
            waited = Date().timeIntervalSince(started)
        }
        let error = try XCTUnwrap(failure)
        XCTAssertEqual(error.kind, .database)
        XCTAssertEqual(error.file, PostgreSQLStorage.redacted(url))
        XCTAssertFalse(error.description.contains("hush"))
        XCTAssertTrue(error.reason.hasPrefix("lost the connection to the server and could not reconnect within 1.5 s "
                                             + "(AUTOTUNE_STORAGE_RECONNECT_SECONDS sets how long): "), error.reason)
        XCTAssertFalse(error.description.contains("\n"))
        XCTAssertGreaterThanOrEqual(waited, 1.5)
        XCTAssertLessThan(waited, 1.5 + 2 + 1, "patience + one bounded connection attempt + slack")
        let started = Date()
        XCTAssertThrowsError(try contract.claim(storage, study)) { XCTAssertEqual($0 as? StoreError, error) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "a store that gave up fails at once")
    }

    func testReconnectPatienceMustBePositive() {
        XCTAssertThrowsError(try PostgreSQLStorage(url: "postgresql://ann:pw@db/studies", reconnectPatience: 0)) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .invalidArgument)
            XCTAssertEqual("\(error)", "postgresql://ann@db/studies: the reconnect patience must be a positive number of seconds, got 0.0")
        }
    }

    /// Claims, heartbeats and stale checks read the server's clock, not this machine's.
    func testTimesComeFromTheServer() throws {
        let url = try storeURL()
        let storage = try PostgreSQLStorage(url: url)
        let study = try contract.makeStudy(storage)
        let before = Double(try PostgreSQLTestServer.run("SELECT extract(epoch FROM now())::float8", on: url).first ?? "") ?? 0
        let trial = try XCTUnwrap(try contract.claim(storage, study))
        let after = Double(try PostgreSQLTestServer.run("SELECT extract(epoch FROM now())::float8", on: url).first ?? "") ?? 0
        XCTAssertTrue((before...after).contains(trial.started.timeIntervalSince1970), "\(before) ≤ \(trial.started) ≤ \(after)")
        // Move the heartbeat an hour into the server's past: stale at once, whatever this clock says.
        try PostgreSQLTestServer.run("UPDATE trials SET heartbeat = heartbeat - 3600", on: url)
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 1800), [0])
    }

    func testSchemaVersionIsSQLitesAndANewerOneIsRefused() throws {
        let url = try storeURL()
        _ = try PostgreSQLStorage(url: url)
        XCTAssertEqual(try PostgreSQLTestServer.run("SELECT version FROM schema_version", on: url), ["\(Schema.version)"])
        try PostgreSQLTestServer.run("UPDATE schema_version SET version = 99", on: url)
        XCTAssertThrowsError(try PostgreSQLStorage(url: url)) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .schemaTooNew)
            XCTAssertTrue("\(error)".contains("store schema version 99 is newer than this autotune understands"), "\(error)")
        }
    }

    func testVersionFourStoreGainsTheStaleState() throws {
        let url = try storeURL()
        let study = try contract.versionFourTrials(try PostgreSQLStorage(url: url))
        // Version 4's trials table, as it was written.
        try PostgreSQLTestServer.run("""
            ALTER TABLE trials DROP CONSTRAINT trials_state_check;
            UPDATE trials SET state = 'FAIL' WHERE state = 'STALE';
            ALTER TABLE trials ADD CONSTRAINT trials_state_check CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'INFEASIBLE'));
            ALTER TABLE trials DROP COLUMN notes;
            UPDATE schema_version SET version = 4;
            """, on: url)
        try contract.upgradedFromVersionFour(try PostgreSQLStorage(url: url), study)
        XCTAssertEqual(try PostgreSQLTestServer.run("SELECT version FROM schema_version", on: url), ["5"])
    }

    func testOtherDatabaseIsRejected() throws {
        let url = try storeURL()
        try PostgreSQLTestServer.run("CREATE TABLE studies (id serial PRIMARY KEY, title text)", on: url)
        XCTAssertThrowsError(try PostgreSQLStorage(url: url)) { error in
            XCTAssertEqual((error as? StoreError)?.kind, .cannotOpen)
            XCTAssertTrue("\(error)".contains("not an autotune store"), "\(error)")
        }
    }

    func testUnknownDatabaseAndRoleAreOneLineErrors() throws {
        let server = try PostgreSQLTestServer.url()
        let base = String(server[..<server.lastIndex(of: "/")!])
        let unknownDatabase = base + "/no_such_database_here"
        assertRefused(unknownDatabase, mentioning: "does not exist")
        let unknownRole = withUser(unknownDatabase, "nobody_here:hunter2")
        assertRefused(unknownRole, mentioning: "nobody_here")
    }

    /// A role allowed no connections meets the server's "too many connections" refusal.
    func testTooManyConnectionsIsARefusal() throws {
        let server = try PostgreSQLTestServer.url()
        let role = "autotune_full_\(getpid())"
        do {
            try PostgreSQLTestServer.run("CREATE ROLE \(role) LOGIN CONNECTION LIMIT 0", on: server)
        } catch {
            throw XCTSkip("cannot make a role on the test server to fill its connection limit: \(error)")
        }
        defer { _ = try? PostgreSQLTestServer.run("DROP ROLE \(role)", on: server) }
        assertRefused(withUser(server, "\(role):s3cret"), mentioning: "too many connections")
    }

    // MARK: Without a server

    func testNothingListeningIsARefusalNamingTheURLWithoutItsPassword() throws {
        // A port that was free a moment ago: nothing listens there.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0 }
        }
        close(probe)
        let port = UInt16(bigEndian: address.sin_port)
        assertRefused("postgresql://ann:s3cret@127.0.0.1:\(port)/studies", mentioning: "Connection refused")
    }

    func testPasswordsAreLeftOutOfMessages() {
        XCTAssertEqual(PostgreSQLStorage.redacted("postgresql://ann:s3cret@db.lan:5432/studies"), "postgresql://ann@db.lan:5432/studies")
        XCTAssertEqual(PostgreSQLStorage.redacted("postgres://ann@db.lan/studies"), "postgres://ann@db.lan/studies")
        XCTAssertEqual(PostgreSQLStorage.redacted("postgresql://ann:p%40ss@db/s?sslmode=require&password=x"),
                       "postgresql://ann@db/s?sslmode=require")
        XCTAssertEqual(PostgreSQLStorage.redacted("postgresql://db/s?password=x"), "postgresql://db/s")
    }

    func testArrayParametersKeepEveryCharacter() {
        XCTAssertEqual(PostgreSQLArray(["a,b", "{\"x\": \\1}", ""]).postgresText, #"{"a,b","{\"x\": \\1}",""}"#)
        XCTAssertEqual(PostgreSQLArray([1.5, .nan, -.infinity]).postgresText, #"{"1.5","NaN","-Infinity"}"#)
    }

    /// `url` with `userinfo` (`user[:password]`) in place of its own.
    private func withUser(_ url: String, _ userinfo: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let host = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        return String(url[..<scheme.upperBound]) + userinfo + "@" + String(rest[host...])
    }

    private func assertRefused(_ url: String, mentioning reason: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PostgreSQLStorage(url: url, reconnectPatience: 1), file: file, line: line) { error in
            guard let error = error as? StoreError else { return XCTFail("not a StoreError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, .cannotConnect, file: file, line: line)
            let text = error.description
            XCTAssertTrue(text.hasPrefix(PostgreSQLStorage.redacted(url) + ": cannot connect: "), text, file: file, line: line)
            XCTAssertTrue(text.contains(reason), text, file: file, line: line)
            XCTAssertFalse(text.contains("s3cret") || text.contains("hunter2"), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n") || text.contains("FATAL"), text, file: file, line: line)
        }
    }
}

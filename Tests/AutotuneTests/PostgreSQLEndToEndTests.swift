import Foundation
import StoreTesting
import XCTest

/// Studies in PostgreSQL through the built executable: `--storage`, `AUTOTUNE_STORAGE`, many
/// worker processes on one study, and workers whose connections the server ends mid-study.
/// Against the server `AUTOTUNE_TEST_POSTGRES` names, else a throwaway cluster (skipped, saying
/// why, when neither can be had); each test in a new schema.
final class PostgreSQLEndToEndTests: ScratchTestCase {
    private func zdtSpace(budget: Int) -> String {
        write("zdt.json", """
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "budget": \(budget), "seed": 3}
        """)
    }

    /// Trial numbers, states and re-run links of `study`, read straight from the server.
    private func storedTrials(_ url: String, study: String) throws -> [(number: Int, state: String, retryOf: Int?)] {
        try PostgreSQLTestServer.run("""
            SELECT t.number || ' ' || t.state || ' ' || coalesce(t.retry_of::text, '-')
            FROM trials t JOIN studies s ON s.id = t.study_id WHERE s.name = '\(study)' ORDER BY t.number
            """, on: url).map { line in
            let parts = line.split(separator: " ")
            return (Int(parts[0]) ?? -1, String(parts[1]), Int(parts[2]))
        }
    }

    func testEightWorkerProcessesSpendExactlyTheBudget() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        let budget = 2000
        let started = Date()
        let r = runAutotune(["search", zdtSpace(budget: budget), "--storage", url, "--study", "eight", "--workers", "8",
                             "--threads", "1", "--quiet", "--no-plots", "--json"], in: scratch)
        XCTAssertEqual(r.status, 0, r.stderr)
        let trials = try storedTrials(url, study: "eight")
        XCTAssertEqual(trials.map(\.number), Array(0..<budget), "numbers 0..<budget, none twice, none skipped")
        XCTAssertEqual(trials.filter { $0.state == "COMPLETE" }.count, budget, "\(Dictionary(grouping: trials, by: \.state).mapValues(\.count))")
        let workers = try PostgreSQLTestServer.run("SELECT count(DISTINCT worker) FROM trials", on: url)
        XCTAssertEqual(workers, ["8"], "all eight processes claimed trials")
        print("eight workers, \(budget) trials: \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// Every worker's connection is ended by the server (`pg_terminate_backend`) while the study
    /// runs, again and again: the workers reconnect and the study still spends exactly its budget.
    func testWorkersWhoseConnectionsAreKilledStillFinishTheStudy() throws {
        let application = "autotune_killed_\(getpid())"
        let url = try PostgreSQLTestServer.freshSchema(name) + "&application_name=\(application)"
        let budget = 1000, workers = 8
        let out = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = try XCTUnwrap(autotuneExecutable)
        process.arguments = ["search", zdtSpace(budget: budget), "--storage", url, "--study", "killed", "--workers", "\(workers)",
                             "--threads", "1", "--heartbeat", "0.5", "--quiet", "--no-plots"]
        process.currentDirectoryURL = scratch
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: out)
        try process.run()

        // Wait until every worker holds its connection, end them all at once, then keep ending
        // whatever connections there are until the study is done.
        let deadline = Date().addingTimeInterval(90)
        var firstRound = 0, rounds = 0
        while process.isRunning, Date() < deadline, firstRound == 0 {
            let connected = Int(try PostgreSQLTestServer.run(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(application)'", on: try PostgreSQLTestServer.url()).first ?? "0") ?? 0
            if connected == workers { firstRound = try PostgreSQLTestServer.terminateConnections(application: application) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        while process.isRunning, Date() < deadline {
            if try PostgreSQLTestServer.terminateConnections(application: application) > 0 { rounds += 1 }
            Thread.sleep(forTimeInterval: 0.15)
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        XCTAssertEqual(firstRound, workers, "every worker's connection was ended at once")
        XCTAssertGreaterThan(rounds, 3, "connections were ended again while the study ran")

        let trials = try storedTrials(url.replacingOccurrences(of: "&application_name=\(application)", with: ""), study: "killed")
        XCTAssertEqual(trials.map(\.number), Array(0..<trials.count), "dense numbers, none twice")
        XCTAssertEqual(trials.filter { $0.retryOf == nil }.count, budget, "the budget counts each trial once")
        XCTAssertEqual(trials.filter { $0.state == "COMPLETE" }.count, budget,
                       "\(Dictionary(grouping: trials, by: \.state).mapValues(\.count))")
    }

    /// The server is stopped mid-study and started again a second later: every worker waits,
    /// reconnects and the study spends exactly its budget.
    func testWorkersWaitOutAServerRestart() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        let budget = 400
        let out = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = try XCTUnwrap(autotuneExecutable)
        process.arguments = ["search", zdtSpace(budget: budget), "--storage", url, "--study", "restarted", "--workers", "4",
                             "--threads", "1", "--quiet", "--no-plots"]
        process.currentDirectoryURL = scratch
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: out)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let count = { Int((try? PostgreSQLTestServer.run("SELECT count(*) FROM trials", on: url))?.first ?? "0") ?? 0 }
        XCTAssertTrue(waitUntil(timeout: 60, interval: 0.02) { count() >= 20 || !process.isRunning })
        var midway = 0
        try PostgreSQLTestServer.restart {
            midway = count()
            Thread.sleep(forTimeInterval: 1)
        }
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        let trials = try storedTrials(url, study: "restarted")
        XCTAssertLessThan(midway, budget, "the server went down mid-study")
        XCTAssertEqual(trials.map(\.number), Array(0..<trials.count), "dense numbers, none twice")
        XCTAssertEqual(trials.filter { $0.retryOf == nil }.count, budget)
        XCTAssertEqual(trials.filter { $0.state == "COMPLETE" }.count, budget, "\(Dictionary(grouping: trials, by: \.state).mapValues(\.count))")
    }

    func testStorageFromTheEnvironmentAndTheListingCommands() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        let space = zdtSpace(budget: 12)
        let searched = runAutotune(["search", space, "--study", "env", "--quiet", "--no-plots"], in: scratch,
                                   environment: ["AUTOTUNE_STORAGE": url])
        XCTAssertEqual(searched.status, 0, searched.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("results/autotune.sqlite").path),
                       "no SQLite store made")
        let listed = runAutotune(["studies", "--storage", url, "--json"], in: scratch)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("\"env\""), listed.stdout)
        let shown = runAutotune(["show", "env", "--json"], in: scratch, environment: ["AUTOTUNE_STORAGE": url])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(try storedTrials(url, study: "env").count, 12)
        let exported = runAutotune(["export", "env", "--storage", url, "--format", "recipe"], in: scratch)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("results/env").path),
                      "a PostgreSQL study's files go to results/<study>")
    }

    func testAskAndTellThroughTheServer() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        let space = zdtSpace(budget: 2)
        let asked = runAutotune(["ask", space, "--storage", url, "--study", "at"], in: scratch)
        XCTAssertEqual(asked.status, 0, asked.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(asked.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["trial"] as? Int, 0)
        let told = runAutotune(["tell", "at", "0", "--storage", url, "--metrics", #"{"f1": 0.5, "f2": 3}"#], in: scratch)
        XCTAssertEqual(told.status, 0, told.stderr)
        XCTAssertEqual(told.stdout, "trial 0: COMPLETE\n")
        let again = runAutotune(["tell", "at", "0", "--storage", url, "--metrics", #"{"f1": 0.5, "f2": 3}"#], in: scratch)
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("trial 0 of study 'at' is already COMPLETE"), again.stderr)
        XCTAssertEqual(try storedTrials(url, study: "at").map(\.state), ["COMPLETE"])
    }

    // MARK: Refusals (no server needed)

    func testDbAndStorageTogetherAreAUsageError() {
        let r = runAutotune(["studies", "--db", "x.sqlite", "--storage", "postgresql://ann:s3cret@127.0.0.1:1/db"], in: scratch)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: "), r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: '--db' and '--storage' cannot be given together: both name the store; give one\n"), r.stderr)
        XCTAssertFalse(r.stderr.contains("s3cret"), r.stderr)
    }

    func testAStorageThatIsNotAURLIsRefused() {
        let r = runAutotune(["studies", "--storage", "mysql://db/x"], in: scratch)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("expected postgresql://"), r.stderr)
        let fromEnvironment = runAutotune(["studies"], in: scratch, environment: ["AUTOTUNE_STORAGE": "results/x.sqlite"])
        XCTAssertEqual(fromEnvironment.status, 2)
        XCTAssertTrue(fromEnvironment.stderr.contains("AUTOTUNE_STORAGE"), fromEnvironment.stderr)
    }

    func testARefusedConnectionIsOneLineWithoutThePassword() {
        // Port 1 on loopback: nothing listens there.
        let r = runAutotune(["search", zdtSpace(budget: 3), "--storage", "postgresql://ann:s3cret@127.0.0.1:1/studies"], in: scratch)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: postgresql://ann@127.0.0.1:1/studies: cannot connect: "), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(r.stderr.contains("s3cret"), r.stderr)
    }
}

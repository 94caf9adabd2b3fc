import Foundation
import StoreTesting
import XCTest

/// A worker on a machine that drops off the network, through the built executable: the worker
/// runs in a network namespace that reaches the test PostgreSQL server over a veth link (through
/// a relay, since the server listens on loopback), and the link is taken down mid-study. Skipped,
/// saying why, without root, without `ip` or without a server.
final class NetworkCutEndToEndTests: ScratchTestCase {
    /// Short network settings for the cut-off worker, so the test takes seconds: unacknowledged
    /// data closes the connection after 2 s, a connection attempt gives up after 2 s, and the
    /// worker stops reconnecting 3 s after it noticed the drop.
    private let userTimeout = 2.0, connectTimeout = 2.0, patience = 3.0

    /// A command study whose trials take 0.3 s.
    private func space() -> String {
        let script = write("objective.py", """
        import json, sys, time
        c = json.load(sys.stdin)["training"]
        time.sleep(0.3)
        print(json.dumps({"loss": (c["x"] - 0.3) ** 2}))
        """)
        return write("cut.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}},
         "evaluator": {"command": {"run": ["python3", "\(script)"], "timeout": 30}},
         "objectives": {"loss": "minimize"}, "strategy": "random", "budget": 1, "seed": 5}
        """)
    }

    private func start(_ executable: URL, _ arguments: [String], log: String, environment extra: [String: String] = [:]) throws -> Process {
        let url = scratch.appendingPathComponent(log)
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = scratch
        var environment = ProcessInfo.processInfo.environment
        environment["AUTOTUNE_STORAGE"] = nil
        process.environment = environment.merging(extra) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: url)
        try process.run()
        return process
    }

    private func log(_ name: String) -> String {
        (try? String(contentsOf: scratch.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    func testAWorkerCutOffFromTheServerFailsCleanlyAndTheOthersGoOn() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw XCTSkip("NETWORK-CUT TEST SKIPPED: the test server's URL names no TCP host and port: \(url)")
        }
        let ipv4 = host == "localhost" ? "127.0.0.1" : host
        guard inet_addr(ipv4) != INADDR_NONE else {
            throw XCTSkip("NETWORK-CUT TEST SKIPPED: the relay needs the test server's IPv4 address, and its URL names '\(host)'")
        }
        let network = try NetworkNamespace()
        defer { network.remove() }
        let relay = try TCPRelay(listenOn: network.hostAddress, to: ipv4, port: port)
        defer { relay.stop() }
        // The password (ignored by the test server) must not show in the worker's error.
        let inner = url.replacingOccurrences(of: "@\(host):\(port)/", with: ":hush@\(network.hostAddress):\(relay.port)/")
            + "&tcp_user_timeout=\(Int(userTimeout * 1000))&connect_timeout=\(Int(connectTimeout))"
            + "&keepalives_idle=1&keepalives_interval=1&keepalives_count=2"
        XCTAssertNotEqual(inner.prefix(40), url.prefix(40), "the cut-off worker goes through the link")

        let budget = 16
        let first = runAutotune(["search", space(), "--storage", url, "--study", "cut", "--heartbeat", "0.5", "--quiet", "--no-plots"],
                                in: scratch)
        XCTAssertEqual(first.status, 0, first.stderr)
        let executable = try XCTUnwrap(autotuneExecutable)
        let worker = ["worker", "cut", "--budget", "\(budget)", "--heartbeat", "0.5", "--quiet"]
        let (ip, arguments) = network.command([executable.path] + worker + ["--storage", inner])
        let cutOff = try start(ip, arguments, log: "cut-off.log", environment: ["AUTOTUNE_STORAGE_RECONNECT_SECONDS": "\(Int(patience))"])
        let other = try start(executable, worker + ["--storage", url], log: "other.log")
        defer { [cutOff, other].filter(\.isRunning).forEach { kill($0.processIdentifier, SIGKILL) } }

        // The worker behind the link has finished a trial and is running the next one.
        let name = "%:\(cutOff.processIdentifier)"
        let count = { (state: String) in
            Int((try? PostgreSQLTestServer.run("SELECT count(*) FROM trials WHERE worker LIKE '\(name)' AND state = '\(state)'", on: url))?.first ?? "0") ?? 0
        }
        let ready = waitUntil(timeout: 30, interval: 0.05) { count("COMPLETE") >= 1 && count("RUNNING") == 1 || !cutOff.isRunning }
        XCTAssertTrue(ready && cutOff.isRunning, "the worker in the namespace ran trials: \(log("cut-off.log"))")
        try network.cut()
        let cut = Date()

        XCTAssertTrue(waitUntil(timeout: 30, interval: 0.05) { !cutOff.isRunning }, "the cut-off worker stops")
        let stopped = Date().timeIntervalSince(cut)
        cutOff.waitUntilExit()
        let error = log("cut-off.log").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(cutOff.terminationStatus, 1, error)
        XCTAssertFalse(error.contains("\n"), "one line: \(error)")
        XCTAssertFalse(error.contains("hush"), "no password: \(error)")
        XCTAssertTrue(error.hasPrefix("autotune: error: postgresql://autotune@\(network.hostAddress):\(relay.port)/"), error)
        XCTAssertTrue(error.contains(": lost the connection to the server and could not reconnect within 3 s "
                                     + "(AUTOTUNE_STORAGE_RECONNECT_SECONDS sets how long)"), error)
        // Noticed once unacknowledged data times out, then reconnecting for the patience, the
        // last attempt bounded by connect_timeout; plus a heartbeat interval and slack.
        XCTAssertGreaterThanOrEqual(stopped, userTimeout)
        XCTAssertLessThan(stopped, userTimeout + patience + connectTimeout + 3)
        print("cut-off worker exited \(String(format: "%.1f", stopped)) s after the cut: \(error)")

        XCTAssertTrue(waitUntil(timeout: 60, interval: 0.1) { !other.isRunning }, "the other worker finishes")
        other.waitUntilExit()
        XCTAssertEqual(other.terminationStatus, 0, log("other.log"))
        let rows = try PostgreSQLTestServer.run("""
            SELECT number || ' ' || state || ' ' || coalesce(retry_of::text, '-') || ' ' || worker FROM trials ORDER BY number
            """, on: url).map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows.map { Int($0[0]) }, Array(0..<rows.count), "dense numbers, none twice")
        XCTAssertEqual(rows.filter { $0[2] == "-" }.count, budget, "the budget counts each trial once")
        XCTAssertEqual(rows.filter { $0[1] == "COMPLETE" }.count, budget, "met exactly: \(rows.map { $0[1] })")
        let lost = rows.filter { $0[3].hasSuffix(":\(cutOff.processIdentifier)") && $0[1] == "STALE" }.map { $0[0] }
        XCTAssertEqual(lost.count, 1, "the trial it was running went STALE: \(rows)")
        XCTAssertEqual(rows.filter { lost.contains($0[2]) }.map { $0[1] }, ["COMPLETE"], "and was run again, once")
        XCTAssertFalse(rows.contains { $0[1] == "RUNNING" })
    }

    /// A reconnect patience that is not a positive number of seconds is a usage error naming the variable.
    func testABadReconnectPatienceIsAUsageError() {
        let r = runAutotune(["worker", "cut", "--storage", "postgresql://ann:pw@127.0.0.1:1/db"], in: scratch,
                            environment: ["AUTOTUNE_STORAGE_RECONNECT_SECONDS": "soon"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("AUTOTUNE_STORAGE_RECONNECT_SECONDS"), r.stderr)
        XCTAssertTrue(r.stderr.contains("'soon'") || r.stderr.contains("soon"), r.stderr)
        XCTAssertTrue(r.stderr.contains("must be a positive number of seconds"), r.stderr)
    }
}

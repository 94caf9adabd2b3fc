import Foundation
import StoreTesting
import XCTest

/// Leases through the built executable, on an SQLite file and a real PostgreSQL server (skipped,
/// saying why, without one): workers killed with `kill -9` mid-study, and a worker stopped
/// (SIGSTOP) past its lease that reports late. The heartbeat is 0.2 s, so a lease is 1.2 s.
final class LeaseEndToEndTests: ScratchTestCase {
    /// A command study whose trials take `sleep` seconds and report, beside the loss, the process
    /// id of the run (`run`): two runs of the same parameters tell apart by it.
    private func space(sleep: Double) -> String {
        let script = write("objective.py", """
        import json, os, sys, time
        c = json.load(sys.stdin)["training"]
        time.sleep(\(sleep))
        print(json.dumps({"loss": (c["x"] - 0.3) ** 2, "run": os.getpid()}))
        """)
        return write("lease.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}},
         "evaluator": {"command": {"run": ["python3", "\(script)"], "timeout": 30}},
         "objectives": {"loss": "minimize"}, "strategy": "random", "budget": 1, "seed": 11}
        """)
    }

    private enum Backend { case sqlite, postgresql }

    /// The store options of a fresh store of `backend`.
    private func store(_ backend: Backend) throws -> [String] {
        switch backend {
        case .sqlite: return ["--db", scratch.appendingPathComponent("lease.sqlite").path]
        case .postgresql: return ["--storage", try PostgreSQLTestServer.freshSchema(name)]
        }
    }

    private func trials(_ store: [String], study: String = "lease") -> [[String: Any]] {
        let r = runAutotune(["show", study, "--json"] + store, in: scratch)
        guard r.status == 0, let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else { return [] }
        return doc["trials"] as? [[String: Any]] ?? []
    }

    private func state(_ t: [String: Any]) -> String { t["state"] as? String ?? "" }

    /// Starts `autotune` with `arguments`, its stderr into `log` in the scratch directory.
    private func start(_ arguments: [String], log: String) throws -> Process {
        try startAutotune(arguments, in: scratch, stderr: scratch.appendingPathComponent(log))
    }

    private func log(_ name: String) -> String {
        (try? String(contentsOf: scratch.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    // MARK: kill -9

    func testTwoKilledWorkersTrialsGoStaleAndAreRerunOnSQLite() throws { try twoKilledWorkers(.sqlite) }
    func testTwoKilledWorkersTrialsGoStaleAndAreRerunOnPostgreSQL() throws { try twoKilledWorkers(.postgresql) }

    /// Two workers killed mid-trial, then one more worker runs the study to its end at once: it
    /// waits out the lost trials' lease, marks them STALE, runs each again, and the budget is met
    /// exactly with every committed result as it was.
    private func twoKilledWorkers(_ backend: Backend) throws {
        let store = try self.store(backend)
        let budget = 10
        let first = runAutotune(["search", space(sleep: 0.3), "--study", "lease", "--heartbeat", "0.2", "--quiet", "--no-plots"] + store,
                                in: scratch)
        XCTAssertEqual(first.status, 0, first.stderr)
        let workers = try (0..<2).map {
            try start(["worker", "lease", "--budget", "\(budget)", "--heartbeat", "0.2", "--quiet"] + store, log: "killed\($0).log")
        }
        let ready = waitUntil(timeout: 60, interval: 0.05) {
            let all = self.trials(store)
            return all.filter { self.state($0) == "COMPLETE" }.count >= 3 && all.filter { self.state($0) == "RUNNING" }.count == 2
        }
        workers.forEach { kill($0.processIdentifier, SIGKILL) }
        workers.forEach { $0.waitUntilExit() }
        XCTAssertTrue(ready, "both workers were running a trial: \(trials(store).map(state))")
        let before = trials(store)
        let lost = before.filter { state($0) == "RUNNING" }.compactMap { $0["trial"] as? Int }
        let committed = before.filter { state($0) == "COMPLETE" }
        XCTAssertEqual(lost.count, 2, "the killed workers' trials are left RUNNING")

        let last = runAutotune(["worker", "lease", "--budget", "\(budget)", "--heartbeat", "0.2"] + store, in: scratch)
        XCTAssertEqual(last.status, 0, last.stderr)
        let after = trials(store)
        XCTAssertEqual(after.compactMap { $0["trial"] as? Int }, Array(0..<after.count), "dense numbers, none twice")
        for number in lost {
            let trial = try XCTUnwrap(after.first { $0["trial"] as? Int == number })
            XCTAssertEqual(state(trial), "STALE")
            XCTAssertTrue((trial["message"] as? String ?? "").contains("stopped: no heartbeat for"), "\(trial)")
            let reruns = after.filter { $0["retry_of"] as? Int == number }
            XCTAssertEqual(reruns.map(state), ["COMPLETE"], "the lost trial is run again, once")
            XCTAssertEqual(reruns.first?["parameters"] as? [String: Double], trial["parameters"] as? [String: Double])
        }
        XCTAssertEqual(after.filter { $0["retry_of"] == nil }.count, budget, "the budget counts each trial once")
        XCTAssertEqual(after.filter { state($0) == "COMPLETE" }.count, budget, "met exactly: \(after.map(state))")
        XCTAssertEqual(after.filter { state($0) == "STALE" }.count, 2)
        for t in committed {
            let same = after.first { $0["trial"] as? Int == t["trial"] as? Int }
            XCTAssertEqual(same?["metrics"] as? [String: Double], t["metrics"] as? [String: Double], "committed results survive")
        }
    }

    // MARK: SIGSTOP past the lease

    func testAStoppedWorkersLateResultIsANoteOnSQLite() throws { try stoppedWorker(.sqlite) }
    func testAStoppedWorkersLateResultIsANoteOnPostgreSQL() throws { try stoppedWorker(.postgresql) }

    /// A worker stopped mid-trial past its lease: another worker finds the trial STALE and runs it
    /// again. Continued, the first worker's result is refused and kept as a note on the STALE trial,
    /// the re-run's stands, and the first worker says so in one line and ends normally.
    private func stoppedWorker(_ backend: Backend) throws {
        let store = try self.store(backend)
        let spaceFile = space(sleep: 1)
        let first = runAutotune(["search", spaceFile, "--study", "lease", "--heartbeat", "0.2", "--quiet", "--no-plots"] + store,
                                in: scratch)
        XCTAssertEqual(first.status, 0, first.stderr)
        let stopped = try start(["worker", "lease", "--budget", "3", "--heartbeat", "0.2", "--quiet"] + store, log: "stopped.log")
        defer { if stopped.isRunning { kill(stopped.processIdentifier, SIGCONT); stopped.terminate() } }
        XCTAssertTrue(waitUntil(timeout: 30, interval: 0.05) { self.trials(store).contains { self.state($0) == "RUNNING" } })
        kill(stopped.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 1.5)  // past its lease of 6 × 0.2 s

        let other = runAutotune(["worker", "lease", "--budget", "3", "--heartbeat", "0.2", "--quiet"] + store, in: scratch)
        XCTAssertEqual(other.status, 0, other.stderr)
        let rerunBefore = try XCTUnwrap(trials(store).first { $0["retry_of"] as? Int == 1 })
        XCTAssertEqual(state(rerunBefore), "COMPLETE")

        kill(stopped.processIdentifier, SIGCONT)
        XCTAssertTrue(waitUntil(timeout: 30) { !stopped.isRunning }, "the continued worker ends once the budget is spent")
        XCTAssertEqual(stopped.terminationStatus, 0, log("stopped.log"))
        let lines = log("stopped.log").split(separator: "\n").filter { $0.contains("went STALE") }
        XCTAssertEqual(lines.count, 1, log("stopped.log"))
        XCTAssertTrue(lines.first?.hasPrefix("autotune: warning: worker ") == true, log("stopped.log"))
        XCTAssertTrue(lines.first?.contains("trial 1 of study 'lease' went STALE while this worker ran it: its lease expired") == true,
                      log("stopped.log"))

        let after = trials(store)
        XCTAssertEqual(after.map(state), ["COMPLETE", "STALE", "COMPLETE", "COMPLETE"])
        let late = after[1]
        XCTAssertNil(late["metrics"].flatMap { ($0 as? [String: Double])?["loss"] }, "the STALE trial keeps no result")
        let notes = try XCTUnwrap(late["notes"] as? [[String: Any]], "\(late)")
        let result = try XCTUnwrap(notes.first { $0["kind"] as? String == "result" }, "\(notes)")
        XCTAssertLessThanOrEqual(notes.filter { $0["kind"] as? String == "heartbeat" }.count, 1)
        XCTAssertEqual(result["state"] as? String, "COMPLETE")
        let noted = try XCTUnwrap(result["metrics"] as? [String: Double])
        let rerun = try XCTUnwrap(after.first { $0["retry_of"] as? Int == 1 })
        XCTAssertEqual(rerun["metrics"] as? [String: Double], rerunBefore["metrics"] as? [String: Double], "the re-run's result stands")
        let rerunMetrics = try XCTUnwrap(rerun["metrics"] as? [String: Double])
        XCTAssertEqual(noted["loss"], rerunMetrics["loss"], "the same parameters, the same loss")
        XCTAssertNotEqual(noted["run"], rerunMetrics["run"], "the note holds the stopped worker's own run")

        let shown = runAutotune(["show", "lease", "--full"] + store, in: scratch)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("late reports, refused because the trial had gone STALE"), shown.stdout)
        XCTAssertTrue(shown.stdout.contains("late result COMPLETE: loss="), shown.stdout)
        let copy = scratch.appendingPathComponent("copy.sqlite").path
        XCTAssertEqual(runAutotune(["copy-study", "lease", "--to", copy] + store, in: scratch).status, 0)
        let copied = trials(["--db", copy])
        XCTAssertEqual((copied[1]["notes"] as? [[String: Any]])?.count, notes.count, "the copy keeps the notes")
    }
}

import Foundation

/// The benchmark history in the same file as the studies (tables `bench_runs`, `bench_results`).
extension SQLiteStorage: BenchHistoryStorage {
    public func beginRun(_ run: BenchRunRecord) throws -> BenchRunRecord {
        try lockedTransaction {
            try db.execute("""
                INSERT INTO bench_runs (suite, started, finished, state, commit_id, host_fingerprint, host, toolchain)
                VALUES (?1, ?2, NULL, 'RUNNING', ?3, ?4, ?5, ?6)
                """, [run.suite, run.started.timeIntervalSince1970, run.commit, run.hostFingerprint, run.host, run.toolchain])
            var stored = run
            stored.id = db.lastInsertRowID
            stored.state = .running
            stored.finished = nil
            return stored
        }
    }

    public func recordResults(_ results: [BenchResultRecord], run: Int64) throws {
        try lockedTransaction {
            try requireRunning(run)
            for r in results {
                guard r.better == "lower" || r.better == "higher" else {
                    throw StoreError(file: path, kind: .invalidArgument, reason: "result '\(r.name)': better must be lower or higher, got '\(r.better)'")
                }
                try db.execute("""
                    INSERT OR REPLACE INTO bench_results (run_id, suite, name, value, unit, better) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                    """, [run, r.suite, r.name, r.value, r.unit, r.better])
            }
        }
    }

    public func finishRun(_ run: Int64, state: BenchRunState) throws {
        guard state != .running else {
            throw StoreError(file: path, kind: .invalidArgument, reason: "a benchmark run cannot be finished as RUNNING")
        }
        try lockedTransaction {
            try requireRunning(run)
            _ = try db.execute("UPDATE bench_runs SET state = ?1, finished = ?2 WHERE id = ?3",
                               [state.rawValue, Date().timeIntervalSince1970, run])
        }
    }

    public func benchRuns(hostFingerprint: String?, state: BenchRunState?, limit: Int?) throws -> [BenchRunRecord] {
        var conditions: [String] = [], values: [any SQLiteBindable] = []
        if let hostFingerprint { values.append(hostFingerprint); conditions.append("host_fingerprint = ?\(values.count)") }
        if let state { values.append(state.rawValue); conditions.append("state = ?\(values.count)") }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let bound = limit.map { " LIMIT \(max(0, $0))" } ?? ""
        return try lockedTransaction {
            var runs: [BenchRunRecord] = []
            try db.query("""
                SELECT id, suite, started, finished, state, commit_id, host_fingerprint, host, toolchain FROM bench_runs
                \(filter) ORDER BY id DESC\(bound)
                """, values) { row in
                guard let state = BenchRunState(rawValue: row.text(4)) else {
                    throw StoreError(file: path, kind: .corrupt, reason: "benchmark run \(row.int64(0)) has an unknown state '\(row.text(4))'")
                }
                runs.append(BenchRunRecord(id: row.int64(0), suite: row.text(1), started: Date(timeIntervalSince1970: row.real(2)),
                                           finished: row.optionalReal(3).map { Date(timeIntervalSince1970: $0) }, state: state,
                                           commit: row.text(5), hostFingerprint: row.text(6), host: row.text(7), toolchain: row.text(8)))
            }
            return runs
        }
    }

    public func benchResults(run: Int64) throws -> [BenchResultRecord] {
        try lockedTransaction {
            var results: [BenchResultRecord] = []
            try db.query("SELECT suite, name, value, unit, better FROM bench_results WHERE run_id = ?1 ORDER BY rowid", [run]) { row in
                results.append(BenchResultRecord(suite: row.text(0), name: row.text(1), value: row.real(2), unit: row.text(3), better: row.text(4)))
            }
            return results
        }
    }

    /// One write transaction under the instance's lock.
    private func lockedTransaction<T>(_ body: () throws -> T) throws -> T {
        try locked { try db.transaction(immediate: true, body) }
    }

    private func requireRunning(_ run: Int64) throws {
        var state: String?
        try db.query("SELECT state FROM bench_runs WHERE id = ?1", [run]) { state = $0.text(0) }
        guard let state else { throw StoreError(file: path, kind: .notFound, reason: "no benchmark run \(run)") }
        guard state == BenchRunState.running.rawValue else {
            throw StoreError(file: path, kind: .notRunning, reason: "benchmark run \(run) is already \(state)")
        }
    }
}

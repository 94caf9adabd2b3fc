import Foundation

/// A trial's life in the PostgreSQL store: claim, heartbeat, learning-curve points, finish, and
/// the re-run of trials whose worker went silent or gave up.
///
/// Locks are always taken in one order — the study's row (claims and re-queues), then trial rows,
/// then the finish counter last — so two workers never wait on each other in a circle.
extension PostgreSQLStorage {
    public func claimTrial(study: Int64, worker: String, limit: Int?,
                           propose: (Int) throws -> [ParameterRecord]) throws -> TrialRecord? {
        // The number the last attempt claimed: if the connection dropped while that attempt
        // committed, the retry finds the trial stored and returns it rather than claim another.
        var claimed: Int?
        return try transaction { attempt in
            if attempt > 0, let number = claimed, let stored = try loadTrials(study: study, .number(number)).first,
               stored.state == .running, stored.worker == worker {
                return stored
            }
            // The study's row lock makes claims of one study take turns; the counts are read in a
            // statement that starts after the lock is held, so they include every earlier claim.
            // Both go to the server in one round trip.
            // Trials are numbered densely from 0, so the last number + 1 is both the next number and
            // the count; re-run trials (retry_of set) and queued re-runs do not count. The
            // transaction's time (now() holds still within it) is what the trial's start will be.
            let answers = try connection.executeAll([
                (Self.lockStudySQL, [study]),
                ("""
                SELECT (SELECT max(number) FROM trials WHERE study_id = $1::bigint),
                       (SELECT count(*) FROM trials WHERE study_id = $1::bigint AND retry_of IS NOT NULL),
                       (SELECT count(*) FROM retry_queue WHERE study_id = $1::bigint),
                       \(PostgreSQLSchema.now)
                """, [study]),
            ])
            guard !answers[0].rows.isEmpty else { throw error(.notFound, "no study with id \(study)") }
            guard let counts = answers[1].rows.first else { throw error(.database, "the budget query returned no row") }
            let next = (counts.optionalInt(0) ?? -1) + 1, rerun = counts.int(1), queued = counts.int(2)
            if let limit, next - rerun - queued >= limit { return nil }

            claimed = next
            let parameters: [ParameterRecord], retryOf: Int?
            if queued > 0, let entry = try dequeueRetry(study: study) {
                (parameters, retryOf) = (entry.parameters, entry.retryOf)
            } else {
                (parameters, retryOf) = (try propose(next), nil)
            }
            // Both inserts go with the COMMIT: a failure of either surfaces there and rolls the claim back.
            connection.queue("""
                INSERT INTO trials (study_id, number, state, started, heartbeat, worker, violation, retry_of)
                VALUES ($1::bigint, $2::integer, 'RUNNING', \(PostgreSQLSchema.now), \(PostgreSQLSchema.now), $3, 0, $4::integer)
                """, [study, next, worker, retryOf])
            connection.queue("""
                INSERT INTO trial_params (study_id, number, position, name, value, json)
                SELECT $1::bigint, $2::integer, p.position - 1, p.name, p.value, p.json
                FROM unnest($3::text[], $4::float8[], $5::text[]) WITH ORDINALITY AS p (name, value, json, position)
                """, [study, next, PostgreSQLArray(parameters.map(\.name)), PostgreSQLArray(parameters.map(\.value)),
                      PostgreSQLArray(parameters.map(\.json))])
            let date = Date(timeIntervalSince1970: counts.real(3))
            return TrialRecord(study: study, number: next, state: .running, parameters: parameters,
                               started: date, heartbeat: date, worker: worker, retryOf: retryOf)
        }
    }

    /// Locks the study's row until the transaction ends. Claims, and the failing of trials that
    /// queues re-runs, take it first, so a claim never counts the budget from a state that a
    /// failing trial is changing under it.
    /// - Returns: false when there is no such study.
    @discardableResult
    private func lockStudy(_ study: Int64) throws -> Bool {
        !(try connection.execute(Self.lockStudySQL, [study]).rows.isEmpty)
    }

    private static let lockStudySQL = "SELECT id FROM studies WHERE id = $1::bigint FOR UPDATE"

    /// Removes the oldest queued re-run of `study` that no other transaction holds and returns it.
    private func dequeueRetry(study: Int64) throws -> (parameters: [ParameterRecord], retryOf: Int)? {
        guard let row = try connection.execute("""
            DELETE FROM retry_queue WHERE id = (
                SELECT id FROM retry_queue WHERE study_id = $1::bigint ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING retry_of, params
            """, [study]).rows.first else { return nil }
        let queued = try ColumnJSON.decode([QueuedParameter].self, from: row.text(1),
                                           what: "queued re-run of trial \(row.int(0))", file: location)
        return (queued.map(\.record), row.int(0))
    }

    /// The error for a report about a trial that an update expecting it RUNNING did not change
    /// (inside the report's transaction). A STALE trial keeps the report as a note (`late`, made
    /// with the server's time), which the transaction commits: the caller returns this error from
    /// it and throws it after.
    private func refusal(study: Int64, number: Int, action: String, late: (Date) -> TrialNote) throws -> StoreError {
        guard let row = try connection.execute("""
            SELECT state, notes, \(PostgreSQLSchema.now) FROM trials WHERE study_id = $1::bigint AND number = $2::integer FOR UPDATE
            """, [study, number]).rows.first else {
            return error(.notFound, "study \(study) has no trial \(number)")
        }
        guard row.text(0) == TrialState.stale.rawValue else {
            return error(.notRunning, "trial \(number) of study \(study) is \(row.text(0)), not RUNNING: cannot \(action)")
        }
        var notes = try StoredNote.notes(row.optionalText(1), trial: number, file: location)
        let note = late(Date(timeIntervalSince1970: row.real(2)))
        if note.kind != .heartbeat || !notes.contains(where: { $0.kind == .heartbeat }) {
            notes.append(note)
            try connection.execute("UPDATE trials SET notes = $3 WHERE study_id = $1::bigint AND number = $2::integer",
                                   [study, number, try StoredNote.column(notes, file: location)])
        }
        return error(.leaseExpired, "trial \(number) of study \(study) is STALE (its worker's lease expired): "
                                    + "cannot \(action); the late report is kept as a note on the trial")
    }

    private func state(study: Int64, number: Int) throws -> String? {
        try connection.execute("SELECT state FROM trials WHERE study_id = $1::bigint AND number = $2::integer",
                               [study, number]).rows.first?.text(0)
    }

    /// Sets a RUNNING trial's heartbeat to the server's clock; false when it is not RUNNING.
    private func touch(study: Int64, number: Int) throws -> Bool {
        try connection.execute("""
            UPDATE trials SET heartbeat = \(PostgreSQLSchema.now)
            WHERE study_id = $1::bigint AND number = $2::integer AND state = 'RUNNING'
            """, [study, number]).changed == 1
    }

    public func heartbeat(study: Int64, number: Int) throws {
        let refused: StoreError? = try transaction { _ in
            guard try touch(study: study, number: number) else {
                return try refusal(study: study, number: number, action: "store its heartbeat") { TrialNote(time: $0, kind: .heartbeat) }
            }
            return nil
        }
        if let refused { throw refused }
    }

    /// Stores one learning-curve point; it also counts as a heartbeat.
    public func reportIntermediate(study: Int64, number: Int, step: Int, metrics: [String: Double]) throws {
        let sorted = metrics.sorted(by: { $0.key < $1.key })
        let refused: StoreError? = try transaction { _ in
            guard try touch(study: study, number: number) else {
                return try refusal(study: study, number: number, action: "report step \(step)") {
                    TrialNote(time: $0, kind: .step, step: step, metrics: metrics)
                }
            }
            try connection.execute("""
                INSERT INTO trial_intermediate (study_id, number, step, name, value)
                SELECT $1::bigint, $2::integer, $3::integer, m.name, m.value FROM unnest($4::text[], $5::float8[]) AS m (name, value)
                ON CONFLICT (study_id, number, step, name) DO UPDATE SET value = excluded.value
                """, [study, number, step, PostgreSQLArray(sorted.map(\.key)), PostgreSQLArray(sorted.map(\.value))])
            return nil
        }
        if let refused { throw refused }
    }

    /// Gives a finished trial the next store-wide finish sequence number. The counter's row stays
    /// locked until the transaction commits, so numbers become visible in the order given.
    func stampFinishSequence(study: Int64, number: Int) throws {
        try connection.execute(Self.stampFinishSequenceSQL, [study, number])
    }

    static let stampFinishSequenceSQL = """
        WITH next AS (UPDATE finish_counter SET value = value + 1 RETURNING value)
        UPDATE trials SET finish_seq = next.value FROM next WHERE study_id = $1::bigint AND number = $2::integer
        """

    public func finishTrial(study: Int64, number: Int, state: TrialState, metrics: [String: Double], violation: Double,
                            message: String?) throws {
        guard state.hasOutcome else {
            throw error(.invalidArgument, "cannot finish trial \(number) of study \(study) as \(state.rawValue)")
        }
        let sorted = metrics.sorted(by: { $0.key < $1.key })
        let refused: StoreError? = try transaction { attempt in
            let changed = try connection.execute("""
                UPDATE trials SET state = $3, finished = \(PostgreSQLSchema.now), violation = $4::float8, message = $5
                WHERE study_id = $1::bigint AND number = $2::integer AND state = 'RUNNING'
                """, [study, number, state.rawValue, violation, message]).changed
            guard changed == 1 else {
                // A retry after a dropped connection finds the first attempt's commit: done.
                if attempt > 0, try self.state(study: study, number: number) == state.rawValue { return nil }
                return try refusal(study: study, number: number, action: "finish it") {
                    TrialNote(time: $0, kind: .result, state: state, metrics: metrics, message: message)
                }
            }
            // The metrics and the finish sequence go with the COMMIT.
            connection.queue("""
                INSERT INTO trial_metrics (study_id, number, name, value)
                SELECT $1::bigint, $2::integer, m.name, m.value FROM unnest($3::text[], $4::float8[]) AS m (name, value)
                ON CONFLICT (study_id, number, name) DO UPDATE SET value = excluded.value
                """, [study, number, PostgreSQLArray(sorted.map(\.key)), PostgreSQLArray(sorted.map(\.value))])
            connection.queue(Self.stampFinishSequenceSQL, [study, number])
            return nil
        }
        if let refused { throw refused }
    }

    public func failStaleTrials(study: Int64, timeout: TimeInterval, maxRetries: Int?) throws -> [Int] {
        guard timeout >= 0 else {
            throw error(.invalidArgument, "heartbeat timeout must be a non-negative number of seconds, got \(timeout)")
        }
        return try transaction { _ in
            try lockStudy(study)
            // SKIP LOCKED: a trial another worker is finishing right now is its business.
            let stale = try connection.execute("""
                SELECT number, \(PostgreSQLSchema.now) - heartbeat, worker FROM trials
                WHERE study_id = $1::bigint AND state = 'RUNNING' AND heartbeat < \(PostgreSQLSchema.now) - $2::float8
                ORDER BY number FOR UPDATE SKIP LOCKED
                """, [study, timeout]).rows.map { (number: $0.int(0), silence: $0.real(1), worker: $0.text(2)) }
            for trial in stale {
                try markStale(study: study, number: trial.number, maxRetries: maxRetries,
                              reason: "worker \(trial.worker) stopped: no heartbeat for \(Int(trial.silence.rounded())) s")
            }
            return stale.map(\.number)
        }
    }

    public func abandonTrial(study: Int64, number: Int, reason: String, maxRetries: Int?) throws {
        try transaction { _ in
            try lockStudy(study)
            guard let state = try connection.execute("""
                SELECT state FROM trials WHERE study_id = $1::bigint AND number = $2::integer FOR UPDATE
                """, [study, number]).rows.first?.text(0) else {
                throw error(.notFound, "study \(study) has no trial \(number)")
            }
            guard state == TrialState.running.rawValue else {
                throw error(.notRunning, "trial \(number) of study \(study) is \(state), not RUNNING")
            }
            try markStale(study: study, number: number, maxRetries: maxRetries, reason: reason)
        }
    }

    /// Marks a RUNNING trial (its row locked by the caller) STALE with `reason` and queues its
    /// parameters to run again, unless it is the `maxRetries`-th re-run of its first trial already.
    private func markStale(study: Int64, number: Int, maxRetries: Int?, reason: String) throws {
        let depth = try connection.execute("""
            WITH RECURSIVE chain (number, retry_of) AS (
                SELECT number, retry_of FROM trials WHERE study_id = $1::bigint AND number = $2::integer
                UNION ALL
                SELECT t.number, t.retry_of FROM trials AS t JOIN chain AS c ON t.study_id = $1::bigint AND t.number = c.retry_of)
            SELECT count(*) - 1 FROM chain
            """, [study, number]).rows.first?.int(0) ?? 0
        let verdict = rerunVerdict(depth: depth, maxRetries: maxRetries)
        try connection.execute("""
            UPDATE trials SET state = 'STALE', finished = \(PostgreSQLSchema.now), message = $3
            WHERE study_id = $1::bigint AND number = $2::integer
            """, [study, number, reason + "; " + verdict.text])
        guard verdict.requeue else { return try stampFinishSequence(study: study, number: number) }
        let parameters = try connection.execute("""
            SELECT name, value, json FROM trial_params WHERE study_id = $1::bigint AND number = $2::integer ORDER BY position
            """, [study, number]).rows.map { QueuedParameter(ParameterRecord(name: $0.text(0), value: $0.real(1), json: $0.text(2))) }
        try connection.execute("INSERT INTO retry_queue (study_id, retry_of, params) VALUES ($1::bigint, $2::integer, $3)",
                               [study, number, try ColumnJSON.encode(parameters, file: location)])
        try stampFinishSequence(study: study, number: number)
    }
}

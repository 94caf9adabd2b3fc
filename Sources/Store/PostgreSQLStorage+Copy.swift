import Foundation

/// Whole studies in the PostgreSQL store: copying one in from another store, and deleting one.
extension PostgreSQLStorage {
    public func queuedReruns(study: Int64) throws -> [Int] {
        try transaction(readOnly: true) { _ in
            try connection.execute("SELECT retry_of FROM retry_queue WHERE study_id = $1::bigint ORDER BY id", [study])
                .rows.map { $0.int(0) }
        }
    }

    public func importStudy(_ study: StudyRecord, trials: [TrialRecord], queued: [Int]) throws -> StudyRecord {
        let byNumber = Dictionary(trials.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        guard byNumber.count == trials.count else {
            throw error(.invalidArgument, "cannot copy study '\(study.name)': its trials repeat a number")
        }
        for number in queued where byNumber[number] == nil {
            throw error(.invalidArgument, "cannot copy study '\(study.name)': queued re-run of trial \(number), which it does not have")
        }
        let values: [any PostgreSQLBindable] = [
            study.name, study.space, try ColumnJSON.encode(study.objectives, file: location),
            try ColumnJSON.encode(study.directions, file: location),
            try study.referencePoint.map { try ColumnJSON.encode($0, file: location) },
            Int64(bitPattern: study.seed), study.strategy, study.created.timeIntervalSince1970]
        return try transaction { _ in
            guard let row = try connection.execute("""
                INSERT INTO studies (name, space, objectives, directions, reference_point, seed, strategy, created)
                VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8::float8)
                ON CONFLICT (name) DO NOTHING RETURNING id
                """, values).rows.first else {
                throw error(.invalidArgument, "study '\(study.name)' already exists in \(location)")
            }
            let id = row.int64(0)
            for trial in trials.sorted(by: { $0.number < $1.number }) { try insert(trial, study: id) }
            for number in queued {
                let parameters = byNumber[number]?.parameters.map(QueuedParameter.init) ?? []
                try connection.execute("INSERT INTO retry_queue (study_id, retry_of, params) VALUES ($1::bigint, $2::integer, $3)",
                                       [id, number, try ColumnJSON.encode(parameters, file: location)])
            }
            // New finish sequence numbers of this store, in the order of the old ones; the counter last.
            let finished = trials.filter { $0.finishSequence != nil }.sorted { $0.finishSequence! < $1.finishSequence! }
            for trial in finished { try stampFinishSequence(study: id, number: trial.number) }
            var stored = study
            stored.id = id
            return stored
        }
    }

    /// One trial with its parameters, metrics, learning curve and notes, as it is (finish sequence aside).
    private func insert(_ trial: TrialRecord, study: Int64) throws {
        try connection.execute("""
            INSERT INTO trials (study_id, number, state, started, finished, heartbeat, worker, message, violation, retry_of, notes)
            VALUES ($1::bigint, $2::integer, $3, $4::float8, $5::float8, $6::float8, $7, $8, $9::float8, $10::integer, $11)
            """, [study, trial.number, trial.state.rawValue, trial.started.timeIntervalSince1970,
                  trial.finished?.timeIntervalSince1970, trial.heartbeat.timeIntervalSince1970, trial.worker, trial.message,
                  trial.violation, trial.retryOf, try StoredNote.column(trial.notes, file: location)])
        let parameters = trial.parameters
        try connection.execute("""
            INSERT INTO trial_params (study_id, number, position, name, value, json)
            SELECT $1::bigint, $2::integer, p.position - 1, p.name, p.value, p.json
            FROM unnest($3::text[], $4::float8[], $5::text[]) WITH ORDINALITY AS p (name, value, json, position)
            """, [study, trial.number, PostgreSQLArray(parameters.map(\.name)), PostgreSQLArray(parameters.map(\.value)),
                  PostgreSQLArray(parameters.map(\.json))])
        let metrics = trial.metrics.sorted(by: { $0.key < $1.key })
        try connection.execute("""
            INSERT INTO trial_metrics (study_id, number, name, value)
            SELECT $1::bigint, $2::integer, m.name, m.value FROM unnest($3::text[], $4::float8[]) AS m (name, value)
            """, [study, trial.number, PostgreSQLArray(metrics.map(\.key)), PostgreSQLArray(metrics.map(\.value))])
        let points = trial.intermediate.sorted(by: { $0.key < $1.key })
            .flatMap { step, metrics in metrics.sorted(by: { $0.key < $1.key }).map { (step, $0.key, $0.value) } }
        try connection.execute("""
            INSERT INTO trial_intermediate (study_id, number, step, name, value)
            SELECT $1::bigint, $2::integer, c.step, c.name, c.value
            FROM unnest($3::integer[], $4::text[], $5::float8[]) AS c (step, name, value)
            """, [study, trial.number, PostgreSQLArray(points.map { String($0.0) }), PostgreSQLArray(points.map(\.1)),
                  PostgreSQLArray(points.map(\.2))])
    }

    public func deleteStudy(named name: String) throws -> Bool {
        try transaction { _ in
            // The study's row lock first, as a claim takes it: a claim under way finishes before the study goes.
            guard let id = try connection.execute("SELECT id FROM studies WHERE name = $1 FOR UPDATE", [name]).rows.first?.int64(0) else {
                return false
            }
            for table in ["trial_intermediate", "trial_metrics", "trial_params", "retry_queue", "trials"] {
                try connection.execute("DELETE FROM \(table) WHERE study_id = $1::bigint", [id])
            }
            try connection.execute("DELETE FROM studies WHERE id = $1::bigint", [id])
            return true
        }
    }
}

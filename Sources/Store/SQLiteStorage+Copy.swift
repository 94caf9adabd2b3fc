import Foundation

/// Whole studies in the SQLite store: copying one in from another store, and deleting one.
extension SQLiteStorage {
    public func queuedReruns(study: Int64) throws -> [Int] {
        try locked {
            var numbers: [Int] = []
            try db.query("SELECT retry_of FROM retry_queue WHERE study_id = ?1 ORDER BY id", [study]) { numbers.append($0.int(0)) }
            return numbers
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
        return try locked {
            try db.transaction(immediate: true) {
                var exists = false
                try db.query("SELECT 1 FROM studies WHERE name = ?1", [study.name]) { _ in exists = true }
                guard !exists else { throw error(.invalidArgument, "study '\(study.name)' already exists in \(path)") }
                try db.execute("""
                    INSERT INTO studies (name, space, objectives, directions, reference_point, seed, strategy, created)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """, [study.name, study.space, try ColumnJSON.encode(study.objectives, file: path),
                          try ColumnJSON.encode(study.directions, file: path),
                          try study.referencePoint.map { try ColumnJSON.encode($0, file: path) },
                          Int64(bitPattern: study.seed), study.strategy, study.created.timeIntervalSince1970])
                let id = db.lastInsertRowID
                for trial in trials.sorted(by: { $0.number < $1.number }) { try insert(trial, study: id) }
                // New finish sequence numbers of this store, in the order of the old ones.
                let finished = trials.filter { $0.finishSequence != nil }.sorted { $0.finishSequence! < $1.finishSequence! }
                for trial in finished {
                    try db.execute("UPDATE trials SET finish_seq = \(Self.nextFinishSequence) WHERE study_id = ?1 AND number = ?2",
                                   [id, trial.number])
                }
                for number in queued {
                    let parameters = byNumber[number]?.parameters ?? []
                    try db.execute("INSERT INTO retry_queue (study_id, retry_of, params) VALUES (?1, ?2, ?3)",
                                   [id, number, try ColumnJSON.encode(parameters.map(QueuedParameter.init), file: path)])
                }
                var stored = study
                stored.id = id
                return stored
            }
        }
    }

    /// One trial with its parameters, metrics, learning curve and notes, as it is (finish sequence aside).
    private func insert(_ trial: TrialRecord, study: Int64) throws {
        try db.execute("""
            INSERT INTO trials (study_id, number, state, started, finished, heartbeat, worker, message, violation, retry_of, notes)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """, [study, trial.number, trial.state.rawValue, trial.started.timeIntervalSince1970,
                  trial.finished?.timeIntervalSince1970, trial.heartbeat.timeIntervalSince1970, trial.worker, trial.message,
                  trial.violation, trial.retryOf, try StoredNote.column(trial.notes, file: path)])
        for (position, parameter) in trial.parameters.enumerated() {
            try db.execute("""
                INSERT INTO trial_params (study_id, number, position, name, value, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """, [study, trial.number, position, parameter.name, parameter.value, parameter.json])
        }
        for (name, value) in trial.metrics.sorted(by: { $0.key < $1.key }) {
            try db.execute("INSERT INTO trial_metrics (study_id, number, name, value) VALUES (?1, ?2, ?3, ?4)",
                           [study, trial.number, name, value])
        }
        for (step, metrics) in trial.intermediate.sorted(by: { $0.key < $1.key }) {
            for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                try db.execute("INSERT INTO trial_intermediate (study_id, number, step, name, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                               [study, trial.number, step, name, value])
            }
        }
    }

    public func deleteStudy(named name: String) throws -> Bool {
        try locked {
            try db.transaction(immediate: true) {
                var id: Int64?
                try db.query("SELECT id FROM studies WHERE name = ?1", [name]) { id = $0.int64(0) }
                guard let id else { return false }
                for table in ["trial_intermediate", "trial_metrics", "trial_params", "retry_queue", "trials"] {
                    try db.execute("DELETE FROM \(table) WHERE study_id = ?1", [id])
                }
                try db.execute("DELETE FROM studies WHERE id = ?1", [id])
                return true
            }
        }
    }
}

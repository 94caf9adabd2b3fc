import Foundation

/// Reading trials back from the PostgreSQL store: four indexed queries in one read-only
/// snapshot and one round trip, whatever the number of trials.
extension PostgreSQLStorage {
    public func trials(study: Int64, finishedAfter: Int64?) throws -> [TrialRecord] {
        try transaction(readOnly: true) { _ in
            try loadTrials(study: study, finishedAfter.map(TrialSelection.finishedAfter) ?? .all)
        }
    }

    public func trial(study: Int64, number: Int) throws -> TrialRecord? {
        try transaction(readOnly: true) { _ in try loadTrials(study: study, .number(number)).first }
    }

    enum TrialSelection {
        case all
        case finishedAfter(Int64)
        case number(Int)
    }

    /// Trials of `study` chosen by `selection`, in number order, with parameters, metrics and
    /// learning curves and notes (inside a transaction, so the four queries see one state).
    func loadTrials(study: Int64, _ selection: TrialSelection) throws -> [TrialRecord] {
        let trialCondition: String, childCondition: String, values: [any PostgreSQLBindable]
        switch selection {
        case .all:
            (trialCondition, childCondition, values) = ("study_id = $1::bigint", "", [study])
        case .finishedAfter(let sequence):
            trialCondition = "study_id = $1::bigint AND finish_seq > $2::bigint"
            childCondition = "AND number IN (SELECT number FROM trials WHERE study_id = $1::bigint AND finish_seq > $2::bigint)"
            values = [study, sequence]
        case .number(let number):
            (trialCondition, childCondition, values) = ("study_id = $1::bigint AND number = $2::integer", "AND number = $2::integer",
                                                        [study, number])
        }

        // The four queries go to the server in one round trip.
        let answers = try connection.executeAll([
            ("""
            SELECT number, state, started, finished, heartbeat, worker, message, violation, retry_of, finish_seq, notes
            FROM trials WHERE \(trialCondition) ORDER BY number
            """, values),
            ("""
            SELECT number, name, value, json FROM trial_params
            WHERE study_id = $1::bigint \(childCondition) ORDER BY number, position
            """, values),
            ("SELECT number, name, value FROM trial_metrics WHERE study_id = $1::bigint \(childCondition)", values),
            ("SELECT number, step, name, value FROM trial_intermediate WHERE study_id = $1::bigint \(childCondition)", values),
        ])
        var records: [TrialRecord] = []
        var index: [Int: Int] = [:]
        for row in answers[0].rows {
            guard let state = TrialState(rawValue: row.text(1)) else {
                throw error(.corrupt, "study \(study) has a trial in the unknown state '\(row.text(1))'")
            }
            index[row.int(0)] = records.count
            records.append(TrialRecord(
                study: study, number: row.int(0), state: state, parameters: [], violation: row.real(7),
                started: Date(timeIntervalSince1970: row.real(2)),
                finished: row.optionalReal(3).map(Date.init(timeIntervalSince1970:)),
                heartbeat: Date(timeIntervalSince1970: row.real(4)), worker: row.text(5), message: row.optionalText(6),
                retryOf: row.optionalInt(8), finishSequence: row.optionalInt64(9),
                notes: try StoredNote.notes(row.optionalText(10), trial: row.int(0), file: location)))
        }
        for row in answers[1].rows {
            guard let i = index[row.int(0)] else { continue }
            records[i].parameters.append(ParameterRecord(name: row.text(1), value: row.real(2), json: row.text(3)))
        }
        for row in answers[2].rows {
            guard let i = index[row.int(0)] else { continue }
            records[i].metrics[row.text(1)] = row.real(2)
        }
        for row in answers[3].rows {
            guard let i = index[row.int(0)] else { continue }
            records[i].intermediate[row.int(1), default: [:]][row.text(2)] = row.real(3)
        }
        return records
    }
}

/// A study's activity since a cursor, through the indexes on finish sequence and on running
/// trials.
extension PostgreSQLStorage {
    public func studyRecords() throws -> [StudyRecord] {
        try transaction(readOnly: true) { _ in try loadStudies(where: "ORDER BY id", []) }
    }

    public func activity(study: Int64, finishedAfter: Int64?) throws -> StudyActivity {
        try transaction(readOnly: true) { _ in
            let finished = try connection.execute("""
                SELECT number, state, finished, finish_seq FROM trials
                WHERE study_id = $1::bigint AND finish_seq > $2::bigint ORDER BY finish_seq
                """, [study, finishedAfter ?? -1]).rows.compactMap { row -> StudyActivity.Finished? in
                guard let state = TrialState(rawValue: row.text(1)) else { return nil }
                return .init(number: row.int(0), state: state, finished: row.optionalReal(2).map(Date.init(timeIntervalSince1970:)),
                             sequence: row.int64(3))
            }
            let running = try connection.execute("""
                SELECT count(*), max(greatest(heartbeat, started)) FROM trials WHERE study_id = $1::bigint AND state = 'RUNNING'
                """, [study]).rows.first
            return StudyActivity(finished: finished, running: running?.int(0) ?? 0,
                                 lastHeartbeat: running?.optionalReal(1).map(Date.init(timeIntervalSince1970:)))
        }
    }
}

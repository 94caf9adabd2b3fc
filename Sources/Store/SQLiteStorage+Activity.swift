import Foundation

/// A study's activity since a cursor, read through the indexes on finish sequence and on
/// running trials: what a live view polls without scanning the study.
extension SQLiteStorage {
    public func studyRecords() throws -> [StudyRecord] {
        try locked { try loadStudies(where: "ORDER BY id", []) }
    }

    public func activity(study: Int64, finishedAfter: Int64?) throws -> StudyActivity {
        try locked {
            try db.transaction(immediate: false) {
                var finished: [StudyActivity.Finished] = []
                try db.query("""
                    SELECT number, state, finished, finish_seq FROM trials INDEXED BY trials_by_finish
                    WHERE study_id = ?1 AND finish_seq > ?2 ORDER BY finish_seq
                    """, [study, finishedAfter ?? -1]) { row in
                    guard let state = TrialState(rawValue: row.text(1)) else { return }
                    finished.append(.init(number: row.int(0), state: state,
                                          finished: row.optionalReal(2).map(Date.init(timeIntervalSince1970:)), sequence: row.int64(3)))
                }
                var running = 0, heartbeat: Double?
                try db.query("""
                    SELECT COUNT(*), MAX(MAX(heartbeat, started)) FROM trials INDEXED BY trials_running
                    WHERE study_id = ?1 AND state = 'RUNNING'
                    """, [study]) { row in running = row.int(0); heartbeat = row.optionalReal(1) }
                return StudyActivity(finished: finished, running: running, lastHeartbeat: heartbeat.map(Date.init(timeIntervalSince1970:)))
            }
        }
    }
}

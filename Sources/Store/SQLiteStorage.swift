import Foundation

/// Studies and trials in one SQLite file that several worker processes may share.
///
///     let store = try SQLiteStorage(path: "results/autotune.sqlite")
///     let (study, _) = try store.openStudy(StudyRecord(name: "mnist", space: text, objectives: ["loss"],
///                                                      directions: ["minimize"], seed: 7, strategy: "random"))
///     while let trial = try store.claimTrial(study: study.id, worker: "w1", limit: 100, propose: propose) {
///         try store.finishTrial(study: study.id, number: trial.number, state: .complete,
///                               metrics: ["loss": 0.3], violation: 0, message: nil)
///     }
///
/// The file is in WAL mode; every state change is one transaction, and those that read before
/// they write (claims, finishes) take the write lock first (`BEGIN IMMEDIATE`), so two processes
/// never get the same trial number or overrun a budget. A connection waits up to `busyTimeout`
/// seconds for another one's lock, and a transaction still refused (or refused at once, as with
/// WAL's SQLITE_BUSY_SNAPSHOT) runs again with backoff for as long again before failing with
/// `StoreError.Kind.busy`. One instance may be shared by threads (its calls are serialised); for
/// parallel workers open one instance each.
public final class SQLiteStorage: StudyStorage, @unchecked Sendable {
    /// The store's file.
    public let path: String
    /// The connection (internal, for tests that inspect the file).
    let db: SQLiteConnection
    private let lock = NSRecursiveLock()

    /// Opens the store at `path`, creating the file if absent — and its directory only when
    /// `createDirectory` says so (a mistyped folder is an error, not a new tree of folders).
    /// - Throws: `StoreError` naming `path` when it is a directory, not an autotune store, of a
    ///   newer schema, in a directory that does not exist, or cannot be created.
    public init(path: String, busyTimeout: TimeInterval = 30, createDirectory: Bool = false) throws {
        self.path = path
        try Self.prepareLocation(path, createDirectory: createDirectory)
        if path != ":memory:" { try NetworkFileSystem.check(path, fileSystem: NetworkFileSystem.name(of: path)) }
        db = try SQLiteConnection(path: path, busyTimeout: busyTimeout)
        do {
            try Schema.open(db)
        } catch let error as StoreError where error.kind == .database || error.kind == .cannotOpen {
            let reason = error.reason.hasPrefix("cannot open") ? error.reason : "cannot open the store: \(error.reason)"
            throw StoreError(file: path, kind: .cannotOpen, reason: reason)
        }
    }

    private static func prepareLocation(_ path: String, createDirectory: Bool) throws {
        guard path != ":memory:" && !path.isEmpty else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else {
                throw StoreError(file: path, kind: .cannotOpen, reason: "cannot open the store: it is a directory")
            }
            return
        }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard !FileManager.default.fileExists(atPath: parent) else { return }
        guard createDirectory else {
            throw StoreError(file: path, kind: .cannotOpen, reason: "the directory \(parent) does not exist; create it first")
        }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw StoreError(file: path, kind: .cannotOpen,
                             reason: "cannot create the directory \(parent): \(whyNotCreatable(parent) ?? "\(error)")")
        }
    }

    /// Why a directory cannot be made at `path`, judged from its nearest existing ancestor.
    private static func whyNotCreatable(_ path: String) -> String? {
        var ancestor = URL(fileURLWithPath: path)
        while !FileManager.default.fileExists(atPath: ancestor.path) && ancestor.path != "/" {
            ancestor.deleteLastPathComponent()
        }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory)
        if !isDirectory.boolValue { return "\(ancestor.path) is a file, not a directory" }
        if !FileManager.default.isWritableFile(atPath: ancestor.path) { return "\(ancestor.path) is not writable" }
        return nil
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func now() -> Double { Date().timeIntervalSince1970 }

    func error(_ kind: StoreError.Kind, _ reason: String) -> StoreError {
        StoreError(file: path, kind: kind, reason: reason)
    }

    // MARK: Studies

    private static let studyColumns = "id, name, space, objectives, directions, reference_point, seed, strategy, created"

    func loadStudies(where condition: String, _ values: [any SQLiteBindable]) throws -> [StudyRecord] {
        var rows: [(id: Int64, name: String, space: String, objectives: String, directions: String,
                    reference: String?, seed: Int64, strategy: String, created: Double)] = []
        try db.query("SELECT \(Self.studyColumns) FROM studies \(condition)", values) { row in
            rows.append((row.int64(0), row.text(1), row.text(2), row.text(3), row.text(4), row.optionalText(5),
                         row.int64(6), row.text(7), row.real(8)))
        }
        return try rows.map { row in
            let what = "study '\(row.name)'"
            return StudyRecord(
                id: row.id, name: row.name, space: row.space,
                objectives: try ColumnJSON.decode([String].self, from: row.objectives, what: "\(what) objectives", file: path),
                directions: try ColumnJSON.decode([String].self, from: row.directions, what: "\(what) directions", file: path),
                referencePoint: try row.reference.map {
                    try ColumnJSON.decode([Double].self, from: $0, what: "\(what) reference point", file: path)
                },
                seed: UInt64(bitPattern: row.seed), strategy: row.strategy,
                created: Date(timeIntervalSince1970: row.created))
        }
    }

    public func openStudy(_ study: StudyRecord) throws -> (StudyRecord, created: Bool) {
        try locked {
            try db.transaction(immediate: true) {
                if let existing = try loadStudies(where: "WHERE name = ?1", [study.name]).first { return (existing, false) }
                try db.execute("""
                    INSERT INTO studies (name, space, objectives, directions, reference_point, seed, strategy, created)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """, [study.name, study.space, try ColumnJSON.encode(study.objectives, file: path),
                          try ColumnJSON.encode(study.directions, file: path),
                          try study.referencePoint.map { try ColumnJSON.encode($0, file: path) },
                          Int64(bitPattern: study.seed), study.strategy, study.created.timeIntervalSince1970])
                guard let stored = try loadStudies(where: "WHERE id = ?1", [db.lastInsertRowID]).first else {
                    throw error(.database, "study '\(study.name)' vanished right after it was inserted")
                }
                return (stored, true)
            }
        }
    }

    public func study(named name: String) throws -> StudyRecord? {
        try locked { try loadStudies(where: "WHERE name = ?1", [name]).first }
    }

    public func studies() throws -> [StudySummary] {
        try locked {
            try db.transaction(immediate: false) {
                var summaries = try loadStudies(where: "ORDER BY id", []).map {
                    StudySummary(study: $0, counts: Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0, 0) }),
                                 lastActivity: nil)
                }
                let position = Dictionary(uniqueKeysWithValues: summaries.enumerated().map { ($1.study.id, $0) })
                try db.query("""
                    SELECT study_id, state, COUNT(*), MAX(MAX(started, heartbeat, IFNULL(finished, 0)))
                    FROM trials GROUP BY study_id, state
                    """) { row in
                    guard let index = position[row.int64(0)], let state = TrialState(rawValue: row.text(1)) else { return }
                    summaries[index].counts[state] = row.int(2)
                    let latest = Date(timeIntervalSince1970: row.real(3))
                    summaries[index].lastActivity = max(summaries[index].lastActivity ?? latest, latest)
                }
                return summaries
            }
        }
    }

    public func setReferencePoint(_ point: [Double], study: Int64) throws {
        try locked {
            let changed = try db.execute("UPDATE studies SET reference_point = ?2 WHERE id = ?1",
                                         [study, try ColumnJSON.encode(point, file: path)])
            guard changed == 1 else { throw error(.notFound, "no study with id \(study)") }
        }
    }

    // MARK: Trial life cycle

    public func claimTrial(study: Int64, worker: String, limit: Int?,
                           propose: (Int) throws -> [ParameterRecord]) throws -> TrialRecord? {
        try locked {
            try db.transaction(immediate: true) {
                // Trials are numbered densely from 0, so the last number + 1 is both the next number and
                // the count; re-run trials (retry_of set) and queued re-runs do not count.
                var budget: (next: Int, rerun: Int, queued: Int)?
                try db.query("""
                    SELECT (SELECT number FROM trials WHERE study_id = ?1 ORDER BY number DESC LIMIT 1),
                           (SELECT COUNT(*) FROM trials WHERE study_id = ?1 AND retry_of IS NOT NULL),
                           (SELECT COUNT(*) FROM retry_queue WHERE study_id = ?1)
                    FROM studies WHERE id = ?1
                    """, [study]) { row in budget = ((row.optionalInt(0) ?? -1) + 1, row.int(1), row.int(2)) }
                guard let budget else { throw error(.notFound, "no study with id \(study)") }
                if let limit, budget.next - budget.rerun - budget.queued >= limit { return nil }

                let parameters: [ParameterRecord], retryOf: Int?
                if budget.queued > 0, let entry = try dequeueRetry(study: study) {
                    (parameters, retryOf) = (entry.parameters, entry.retryOf)
                } else {
                    (parameters, retryOf) = (try propose(budget.next), nil)
                }
                let now = Self.now()
                try db.execute("""
                    INSERT INTO trials (study_id, number, state, started, heartbeat, worker, violation, retry_of)
                    VALUES (?1, ?2, 'RUNNING', ?3, ?3, ?4, 0, ?5)
                    """, [study, budget.next, now, worker, retryOf])
                for (position, parameter) in parameters.enumerated() {
                    try db.execute("""
                        INSERT INTO trial_params (study_id, number, position, name, value, json)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                        """, [study, budget.next, position, parameter.name, parameter.value, parameter.json])
                }
                let date = Date(timeIntervalSince1970: now)
                return TrialRecord(study: study, number: budget.next, state: .running, parameters: parameters,
                                   started: date, heartbeat: date, worker: worker, retryOf: retryOf)
            }
        }
    }

    /// Removes the oldest queued re-run of `study` and returns it.
    private func dequeueRetry(study: Int64) throws -> (parameters: [ParameterRecord], retryOf: Int)? {
        var entry: (id: Int64, retryOf: Int, params: String)?
        try db.query("SELECT id, retry_of, params FROM retry_queue WHERE study_id = ?1 ORDER BY id LIMIT 1", [study]) {
            entry = ($0.int64(0), $0.int(1), $0.text(2))
        }
        guard let entry else { return nil }
        try db.execute("DELETE FROM retry_queue WHERE id = ?1", [entry.id])
        let queued = try ColumnJSON.decode([QueuedParameter].self, from: entry.params,
                                           what: "queued re-run of trial \(entry.retryOf)", file: path)
        return (queued.map(\.record), entry.retryOf)
    }

    /// The error for a report about a trial that an update expecting it RUNNING did not change
    /// (inside the report's transaction). A STALE trial keeps the report as a note, which the
    /// transaction commits: the caller returns this error from it and throws it after.
    private func refusal(study: Int64, number: Int, action: String, late: TrialNote) throws -> StoreError {
        var found: (state: String, notes: String?)?
        try db.query("SELECT state, notes FROM trials WHERE study_id = ?1 AND number = ?2", [study, number]) {
            found = ($0.text(0), $0.optionalText(1))
        }
        guard let found else { return error(.notFound, "study \(study) has no trial \(number)") }
        guard found.state == TrialState.stale.rawValue else {
            return error(.notRunning, "trial \(number) of study \(study) is \(found.state), not RUNNING: cannot \(action)")
        }
        var notes = try StoredNote.notes(found.notes, trial: number, file: path)
        if late.kind != .heartbeat || !notes.contains(where: { $0.kind == .heartbeat }) {
            notes.append(late)
            try db.execute("UPDATE trials SET notes = ?3 WHERE study_id = ?1 AND number = ?2",
                           [study, number, try StoredNote.column(notes, file: path)])
        }
        return error(.leaseExpired, "trial \(number) of study \(study) is STALE (its worker's lease expired): "
                                    + "cannot \(action); the late report is kept as a note on the trial")
    }

    public func heartbeat(study: Int64, number: Int) throws {
        try touchRunning(study: study, number: number, action: "store its heartbeat") {
            TrialNote(time: Date(timeIntervalSince1970: $0), kind: .heartbeat)
        }
    }

    /// Stores one learning-curve point; it also counts as a heartbeat.
    public func reportIntermediate(study: Int64, number: Int, step: Int, metrics: [String: Double]) throws {
        try touchRunning(study: study, number: number, action: "report step \(step)", late: {
            TrialNote(time: Date(timeIntervalSince1970: $0), kind: .step, step: step, metrics: metrics)
        }) {
            for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                try db.execute("""
                    INSERT OR REPLACE INTO trial_intermediate (study_id, number, step, name, value)
                    VALUES (?1, ?2, ?3, ?4, ?5)
                    """, [study, number, step, name, value])
            }
        }
    }

    /// Stamps a RUNNING trial's heartbeat and then runs `then`, in one transaction. A trial no
    /// longer RUNNING refuses with `action` in the reason, keeping `late(now)` as a note on it.
    private func touchRunning(study: Int64, number: Int, action: String, late: (Double) -> TrialNote,
                              then: () throws -> Void = {}) throws {
        try locked {
            let refused: StoreError? = try db.transaction(immediate: true) {
                let now = Self.now()
                let changed = try db.execute(
                    "UPDATE trials SET heartbeat = ?3 WHERE study_id = ?1 AND number = ?2 AND state = 'RUNNING'",
                    [study, number, now])
                guard changed == 1 else { return try refusal(study: study, number: number, action: action, late: late(now)) }
                try then()
                return nil
            }
            if let refused { throw refused }
        }
    }

    /// The store-wide finish sequence's next value, as an SQL expression (an indexed MAX).
    static let nextFinishSequence = """
        (IFNULL((SELECT finish_seq FROM trials WHERE finish_seq IS NOT NULL ORDER BY finish_seq DESC LIMIT 1), 0) + 1)
        """

    public func finishTrial(study: Int64, number: Int, state: TrialState, metrics: [String: Double], violation: Double,
                            message: String?) throws {
        guard state.hasOutcome else {
            throw error(.invalidArgument, "cannot finish trial \(number) of study \(study) as \(state.rawValue)")
        }
        try locked {
            let refused: StoreError? = try db.transaction(immediate: true) {
                let now = Self.now()
                let changed = try db.execute("""
                    UPDATE trials SET state = ?3, finished = ?4, violation = ?5, message = ?6,
                                      finish_seq = \(Self.nextFinishSequence)
                    WHERE study_id = ?1 AND number = ?2 AND state = 'RUNNING'
                    """, [study, number, state.rawValue, now, violation, message])
                guard changed == 1 else {
                    return try refusal(study: study, number: number, action: "finish it",
                                       late: TrialNote(time: Date(timeIntervalSince1970: now), kind: .result, state: state,
                                                       metrics: metrics, message: message))
                }
                for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                    try db.execute("""
                        INSERT OR REPLACE INTO trial_metrics (study_id, number, name, value) VALUES (?1, ?2, ?3, ?4)
                        """, [study, number, name, value])
                }
                return nil
            }
            if let refused { throw refused }
        }
    }

    public func failStaleTrials(study: Int64, timeout: TimeInterval, maxRetries: Int?) throws -> [Int] {
        guard timeout >= 0 else {
            throw error(.invalidArgument, "heartbeat timeout must be a non-negative number of seconds, got \(timeout)")
        }
        return try locked {
            try db.transaction(immediate: true) {
                let now = Self.now()
                var stale: [(number: Int, heartbeat: Double, worker: String)] = []
                try db.query("""
                    SELECT number, heartbeat, worker FROM trials INDEXED BY trials_running
                    WHERE study_id = ?1 AND state = 'RUNNING' AND heartbeat < ?2 ORDER BY number
                    """, [study, now - timeout]) { stale.append(($0.int(0), $0.real(1), $0.text(2))) }
                for trial in stale {
                    let silence = Int((now - trial.heartbeat).rounded())
                    try markStale(study: study, number: trial.number, now: now, maxRetries: maxRetries,
                                  reason: "worker \(trial.worker) stopped: no heartbeat for \(silence) s")
                }
                return stale.map(\.number)
            }
        }
    }

    public func abandonTrial(study: Int64, number: Int, reason: String, maxRetries: Int?) throws {
        try locked {
            try db.transaction(immediate: true) {
                var state: String?
                try db.query("SELECT state FROM trials WHERE study_id = ?1 AND number = ?2", [study, number]) { state = $0.text(0) }
                guard let state else { throw error(.notFound, "study \(study) has no trial \(number)") }
                guard state == TrialState.running.rawValue else {
                    throw error(.notRunning, "trial \(number) of study \(study) is \(state), not RUNNING")
                }
                try markStale(study: study, number: number, now: Self.now(), maxRetries: maxRetries, reason: reason)
            }
        }
    }

    /// Marks a RUNNING trial STALE with `reason` and queues its parameters to run again, unless
    /// it is the `maxRetries`-th re-run of its first trial already (inside a transaction).
    private func markStale(study: Int64, number: Int, now: Double, maxRetries: Int?, reason: String) throws {
        var depth = 0
        try db.query("""
            WITH RECURSIVE chain (number, retry_of) AS (
                SELECT number, retry_of FROM trials WHERE study_id = ?1 AND number = ?2
                UNION ALL
                SELECT t.number, t.retry_of FROM trials AS t JOIN chain AS c ON t.study_id = ?1 AND t.number = c.retry_of)
            SELECT count(*) - 1 FROM chain
            """, [study, number]) { depth = $0.int(0) }
        let verdict = rerunVerdict(depth: depth, maxRetries: maxRetries)
        try db.execute("""
            UPDATE trials SET state = 'STALE', finished = ?3, message = ?4, finish_seq = \(Self.nextFinishSequence)
            WHERE study_id = ?1 AND number = ?2
            """, [study, number, now, reason + "; " + verdict.text])
        guard verdict.requeue else { return }
        let parameters = try loadTrials(study: study, .number(number)).first?.parameters ?? []
        try db.execute("INSERT INTO retry_queue (study_id, retry_of, params) VALUES (?1, ?2, ?3)",
                       [study, number, try ColumnJSON.encode(parameters.map(QueuedParameter.init), file: path)])
    }

    // MARK: Reading trials

    public func trials(study: Int64, finishedAfter: Int64?) throws -> [TrialRecord] {
        try locked {
            try db.transaction(immediate: false) {
                try loadTrials(study: study, finishedAfter.map(TrialSelection.finishedAfter) ?? .all)
            }
        }
    }

    public func trial(study: Int64, number: Int) throws -> TrialRecord? {
        try locked {
            try db.transaction(immediate: false) { try loadTrials(study: study, .number(number)).first }
        }
    }

    private enum TrialSelection {
        case all
        case finishedAfter(Int64)
        case number(Int)
    }

    /// Trials of `study` chosen by `selection`, in number order, with parameters, metrics and
    /// learning curves: four indexed queries whatever the number of trials.
    private func loadTrials(study: Int64, _ selection: TrialSelection) throws -> [TrialRecord] {
        let trialCondition: String, childCondition: String, values: [any SQLiteBindable]
        switch selection {
        case .all:
            (trialCondition, childCondition, values) = ("WHERE study_id = ?1", "", [study])
        case .finishedAfter(let sequence):
            trialCondition = "INDEXED BY trials_by_finish WHERE study_id = ?1 AND finish_seq > ?2"
            childCondition = "AND number IN (SELECT number FROM trials WHERE study_id = ?1 AND finish_seq > ?2)"
            values = [study, sequence]
        case .number(let number):
            (trialCondition, childCondition, values) = ("WHERE study_id = ?1 AND number = ?2", "AND number = ?2", [study, number])
        }

        var records: [TrialRecord] = []
        var index: [Int: Int] = [:]
        var badState: String?
        var notes: [Int: String] = [:]
        try db.query("""
            SELECT number, state, started, finished, heartbeat, worker, message, violation, retry_of, finish_seq, notes
            FROM trials \(trialCondition) ORDER BY number
            """, values) { row in
            guard let state = TrialState(rawValue: row.text(1)) else { badState = row.text(1); return }
            if let text = row.optionalText(10) { notes[row.int(0)] = text }
            index[row.int(0)] = records.count
            records.append(TrialRecord(
                study: study, number: row.int(0), state: state, parameters: [], violation: row.real(7),
                started: Date(timeIntervalSince1970: row.real(2)),
                finished: row.optionalReal(3).map(Date.init(timeIntervalSince1970:)),
                heartbeat: Date(timeIntervalSince1970: row.real(4)), worker: row.text(5), message: row.optionalText(6),
                retryOf: row.optionalInt(8), finishSequence: row.optionalInt64(9)))
        }
        if let badState { throw error(.corrupt, "study \(study) has a trial in the unknown state '\(badState)'") }
        guard !records.isEmpty else { return [] }
        for (number, text) in notes { records[index[number]!].notes = try StoredNote.notes(text, trial: number, file: path) }

        try db.query("""
            SELECT number, name, value, json FROM trial_params
            WHERE study_id = ?1 \(childCondition) ORDER BY number, position
            """, values) { row in
            guard let i = index[row.int(0)] else { return }
            records[i].parameters.append(ParameterRecord(name: row.text(1), value: row.real(2), json: row.text(3)))
        }
        try db.query("SELECT number, name, value FROM trial_metrics WHERE study_id = ?1 \(childCondition)", values) { row in
            guard let i = index[row.int(0)] else { return }
            records[i].metrics[row.text(1)] = row.real(2)
        }
        try db.query("""
            SELECT number, step, name, value FROM trial_intermediate WHERE study_id = ?1 \(childCondition)
            """, values) { row in
            guard let i = index[row.int(0)] else { return }
            records[i].intermediate[row.int(1), default: [:]][row.text(2)] = row.real(3)
        }
        return records
    }
}

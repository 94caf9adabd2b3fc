import Foundation

/// Where a trial is in its life. Stored as the upper-case name.
public enum TrialState: String, CaseIterable, Codable, Sendable {
    case running = "RUNNING"
    case complete = "COMPLETE"
    case pruned = "PRUNED"
    case fail = "FAIL"
    case infeasible = "INFEASIBLE"
    /// Its worker went away before it finished — no heartbeat within the lease (`kill -9`, a lost
    /// machine, a stopped process) or an interrupt — so it has no result of its own. Its
    /// parameters run again under a new number (`retry_of` links the re-run to it) unless the
    /// study's `max_retries` re-runs are spent; a report its worker sends later is refused and
    /// kept as a note (`TrialNote`).
    case stale = "STALE"

    /// Whether the trial's own run is over (every state but RUNNING).
    public var isFinished: Bool { self != .running }
    /// Whether the trial ended with an outcome of its own to learn from (finished, and not STALE).
    public var hasOutcome: Bool { self != .running && self != .stale }
}

/// A report about a trial that reached the store after the trial went STALE — its worker's lease
/// had expired, and the trial may already be re-run: refused, so the trial's state and values
/// stay as they are, and kept here for people to see.
public struct TrialNote: Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// The worker said the trial was still alive (kept once per trial).
        case heartbeat
        /// A learning-curve point (`step`, `metrics`).
        case step
        /// The trial's result (`state`, `metrics`, `message`).
        case result
    }

    /// When the store received it (the server's clock on PostgreSQL).
    public var time: Date
    public var kind: Kind
    public var step: Int?
    public var state: TrialState?
    public var metrics: [String: Double]
    public var message: String?

    public init(time: Date, kind: Kind, step: Int? = nil, state: TrialState? = nil, metrics: [String: Double] = [:],
                message: String? = nil) {
        self.time = time; self.kind = kind; self.step = step; self.state = state; self.metrics = metrics; self.message = message
    }

    /// One line for people: `late result at 2024-05-01T10:00:03Z: COMPLETE loss=0.31 (refused: the trial is STALE)`.
    public var summary: String {
        var text: String
        switch kind {
        case .heartbeat: text = "late heartbeat"
        case .step: text = "late learning-curve point, step \(step ?? 0)"
        case .result: text = "late result" + (state.map { " \($0.rawValue)" } ?? "")
        }
        let values = metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if !values.isEmpty { text += ": " + values.joined(separator: " ") }
        if let message { text += " (\(message))" }
        return text
    }
}

/// A study: one search, its space and settings, and the trials run for it.
public struct StudyRecord: Equatable, Sendable {
    public var id: Int64
    public var name: String
    /// The space file's text as it was when the study was created (a resumed study keeps it).
    public var space: String
    /// Objective metric names and their directions ("minimize" / "maximize"), in order.
    public var objectives: [String]
    public var directions: [String]
    /// The hypervolume reference point, in the objectives' own units and directions; nil until
    /// chosen.
    public var referencePoint: [Double]?
    public var seed: UInt64
    public var strategy: String
    public var created: Date

    public init(id: Int64 = 0, name: String, space: String, objectives: [String], directions: [String],
                referencePoint: [Double]? = nil, seed: UInt64, strategy: String, created: Date = Date()) {
        self.id = id; self.name = name; self.space = space; self.objectives = objectives
        self.directions = directions; self.referencePoint = referencePoint; self.seed = seed
        self.strategy = strategy; self.created = created
    }
}

/// One parameter of a trial: its key path, the strategy's internal value (option index, integer
/// or real — exact, so a resumed strategy sees the same configuration) and the value as JSON text.
public struct ParameterRecord: Equatable, Sendable {
    public var name: String
    public var value: Double
    public var json: String
    public init(name: String, value: Double, json: String) { self.name = name; self.value = value; self.json = json }
}

public struct TrialRecord: Equatable, Sendable {
    public var study: Int64
    /// 0, 1, 2... per study, in the order trials were claimed.
    public var number: Int
    public var state: TrialState
    public var parameters: [ParameterRecord]
    /// Every metric the evaluator reported (objectives among them).
    public var metrics: [String: Double]
    /// Total constraint violation; 0 when feasible.
    public var violation: Double
    /// Learning-curve points: step (epoch) → metric → value.
    public var intermediate: [Int: [String: Double]]
    public var started: Date
    public var finished: Date?
    public var heartbeat: Date
    public var worker: String
    /// Why a trial failed or was pruned, for people.
    public var message: String?
    /// The trial this one re-runs (it went STALE), if any.
    public var retryOf: Int?
    /// Increases by one every time any trial of the store finishes: "results since" cursors.
    public var finishSequence: Int64?
    /// Reports its worker sent after the trial went STALE, refused and kept, oldest first.
    public var notes: [TrialNote]

    public init(study: Int64, number: Int, state: TrialState, parameters: [ParameterRecord], metrics: [String: Double] = [:],
                violation: Double = 0, intermediate: [Int: [String: Double]] = [:], started: Date, finished: Date? = nil,
                heartbeat: Date, worker: String, message: String? = nil, retryOf: Int? = nil, finishSequence: Int64? = nil,
                notes: [TrialNote] = []) {
        self.study = study; self.number = number; self.state = state; self.parameters = parameters
        self.metrics = metrics; self.violation = violation; self.intermediate = intermediate
        self.started = started; self.finished = finished; self.heartbeat = heartbeat; self.worker = worker
        self.message = message; self.retryOf = retryOf; self.finishSequence = finishSequence; self.notes = notes
    }
}

/// A study with its trial counts, for listings.
public struct StudySummary: Equatable, Sendable {
    public var study: StudyRecord
    public var counts: [TrialState: Int]
    public var lastActivity: Date?
    public init(study: StudyRecord, counts: [TrialState: Int], lastActivity: Date?) {
        self.study = study; self.counts = counts; self.lastActivity = lastActivity
    }
}

/// What happened in a study since a cursor: the trials that finished after it and the trials
/// running now. What a live view asks every few seconds; it costs what changed, not the study's
/// size.
public struct StudyActivity: Equatable, Sendable {
    /// A trial that finished after the cursor: its number, state, finish time and sequence.
    public struct Finished: Equatable, Sendable {
        public var number: Int
        public var state: TrialState
        public var finished: Date?
        public var sequence: Int64
        public init(number: Int, state: TrialState, finished: Date?, sequence: Int64) {
            self.number = number; self.state = state; self.finished = finished; self.sequence = sequence
        }
    }
    /// Trials finished after the cursor, in finish order.
    public var finished: [Finished]
    /// Trials RUNNING now.
    public var running: Int
    /// The latest heartbeat (or start) among the running trials.
    public var lastHeartbeat: Date?
    public init(finished: [Finished], running: Int, lastHeartbeat: Date?) {
        self.finished = finished; self.running = running; self.lastHeartbeat = lastHeartbeat
    }
}

/// Storage of studies and trials, backend-neutral: an SQLite file (`SQLiteStorage`) or a
/// PostgreSQL database (`PostgreSQLStorage`). Every method that changes state is one transaction; every method is safe to
/// call from several processes sharing the store.
public protocol StudyStorage: AnyObject {
    /// Create a study, or return the existing one of that name (a resumed study).
    /// - Returns: the record and whether it was created now.
    func openStudy(_ study: StudyRecord) throws -> (StudyRecord, created: Bool)
    func study(named name: String) throws -> StudyRecord?
    /// Every study in creation order, with its number of trials in each state (every state
    /// listed, 0 when none) and the time of its latest trial event (nil without trials).
    func studies() throws -> [StudySummary]
    /// Every study in creation order, without counting trials: cheap at any size.
    func studyRecords() throws -> [StudyRecord]
    /// The trials of `study` finished after cursor `finishedAfter` (all finished ones without it)
    /// and those running now, read in one snapshot through the finish-sequence and running
    /// indexes.
    func activity(study: Int64, finishedAfter: Int64?) throws -> StudyActivity
    func setReferencePoint(_ point: [Double], study: Int64) throws
    /// Atomically reserve the next trial number and insert it as RUNNING, unless the study already
    /// has `limit` trials that count against its budget (each trial once with its re-runs: a
    /// STALE trial queued to run again and every re-run do not count). A queued re-run (see
    /// `failStaleTrials`) is claimed first, with its parameters;
    /// otherwise `propose(number)` gives the parameters (it runs inside the transaction and may
    /// throw, which rolls the claim back).
    /// - Returns: the new trial, or nil when the budget is spent.
    func claimTrial(study: Int64, worker: String, limit: Int?, propose: (Int) throws -> [ParameterRecord]) throws -> TrialRecord?

    /// Store the worker's heartbeat for a RUNNING trial.
    /// - Throws: `StoreError` `.leaseExpired` when the trial went STALE (the heartbeat is kept as a
    ///   note, once per trial), `.notRunning` when it finished otherwise, `.notFound`.
    func heartbeat(study: Int64, number: Int) throws
    /// Store one learning-curve point of a RUNNING trial.
    /// - Throws: `.leaseExpired` when the trial went STALE (the point is kept as a note instead),
    ///   `.notRunning`, `.notFound`.
    func reportIntermediate(study: Int64, number: Int, step: Int, metrics: [String: Double]) throws
    /// Move a RUNNING trial to a finished state with its metrics.
    /// - Throws: `.leaseExpired` when the trial went STALE meanwhile (the late result is kept as a
    ///   note; the trial and its re-run are left as they are), `.notRunning` when it finished
    ///   otherwise, `.invalidArgument` for RUNNING or STALE (only the store makes a trial STALE).
    func finishTrial(study: Int64, number: Int, state: TrialState, metrics: [String: Double], violation: Double,
                     message: String?) throws

    /// Mark STALE every RUNNING trial whose heartbeat is older than `timeout` seconds (its
    /// worker's lease), and queue its parameters to be claimed again under a new number — unless
    /// it is already the `maxRetries`-th re-run of its first trial (nil: no bound); then it stays
    /// STALE and its message says so.
    /// - Returns: the numbers of the trials marked STALE.
    func failStaleTrials(study: Int64, timeout: TimeInterval, maxRetries: Int?) throws -> [Int]

    /// Mark one RUNNING trial STALE with `reason` and queue its parameters to run again (within
    /// `maxRetries`), as `failStaleTrials` does for a dead worker's: what an interrupted worker
    /// does on its way out.
    func abandonTrial(study: Int64, number: Int, reason: String, maxRetries: Int?) throws

    /// The STALE trials of `study` queued to run again (see `failStaleTrials`), oldest first.
    func queuedReruns(study: Int64) throws -> [Int]

    /// Store a copy of a study from another store (or under another name): the study as
    /// `study` describes it (its id is ignored), its trials exactly as given — numbers, states,
    /// times, workers, parameters, metrics, learning curves, re-run links — and the re-runs
    /// `queued` names (trial numbers, whose parameters are queued again). Finished trials get new
    /// finish sequence numbers of this store, in the order of their old ones.
    /// - Returns: the stored study.
    /// - Throws: `StoreError` `.invalidArgument` when a study of that name exists already.
    func importStudy(_ study: StudyRecord, trials: [TrialRecord], queued: [Int]) throws -> StudyRecord

    /// Delete a study with all its trials and queued re-runs.
    /// - Returns: false when there is no study of that name.
    func deleteStudy(named name: String) throws -> Bool

    /// Trials of a study in number order; with `finishedAfter`, only those whose finish sequence
    /// is greater (the new results since the last call).
    func trials(study: Int64, finishedAfter: Int64?) throws -> [TrialRecord]
    func trial(study: Int64, number: Int) throws -> TrialRecord?
}

extension StudyStorage {
    /// `failStaleTrials` with no bound on re-runs.
    public func failStaleTrials(study: Int64, timeout: TimeInterval) throws -> [Int] {
        try failStaleTrials(study: study, timeout: timeout, maxRetries: nil)
    }

    /// `abandonTrial` with no bound on re-runs.
    public func abandonTrial(study: Int64, number: Int, reason: String) throws {
        try abandonTrial(study: study, number: number, reason: reason, maxRetries: nil)
    }
}

/// The end of a STALE trial's message: whether it runs again (the `depth`-th re-run of its first
/// trial is being made STALE) or its re-runs are spent.
func rerunVerdict(depth: Int, maxRetries: Int?) -> (requeue: Bool, text: String) {
    if let maxRetries, depth >= maxRetries {
        return (false, "not run again: \(depth) re-run\(depth == 1 ? "" : "s") already, max_retries is \(maxRetries)")
    }
    return (true, "queued to run again (re-run \(depth + 1)" + (maxRetries.map { " of at most \($0)" } ?? "") + ")")
}

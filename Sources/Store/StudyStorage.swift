import Foundation

/// Where a trial is in its life. Stored as the upper-case name.
public enum TrialState: String, CaseIterable, Codable, Sendable {
    case running = "RUNNING"
    case complete = "COMPLETE"
    case pruned = "PRUNED"
    case fail = "FAIL"
    case infeasible = "INFEASIBLE"

    public var isFinished: Bool { self != .running }
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
    /// The trial this one re-runs (its worker died), if any.
    public var retryOf: Int?
    /// Increases by one every time any trial of the store finishes: "results since" cursors.
    public var finishSequence: Int64?

    public init(study: Int64, number: Int, state: TrialState, parameters: [ParameterRecord], metrics: [String: Double] = [:],
                violation: Double = 0, intermediate: [Int: [String: Double]] = [:], started: Date, finished: Date? = nil,
                heartbeat: Date, worker: String, message: String? = nil, retryOf: Int? = nil, finishSequence: Int64? = nil) {
        self.study = study; self.number = number; self.state = state; self.parameters = parameters
        self.metrics = metrics; self.violation = violation; self.intermediate = intermediate
        self.started = started; self.finished = finished; self.heartbeat = heartbeat; self.worker = worker
        self.message = message; self.retryOf = retryOf; self.finishSequence = finishSequence
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
    /// has `limit` trials that count against its budget (every trial except those re-run under a
    /// new number). A queued re-run (see `failStaleTrials`) is claimed first, with its parameters;
    /// otherwise `propose(number)` gives the parameters (it runs inside the transaction and may
    /// throw, which rolls the claim back).
    /// - Returns: the new trial, or nil when the budget is spent.
    func claimTrial(study: Int64, worker: String, limit: Int?, propose: (Int) throws -> [ParameterRecord]) throws -> TrialRecord?

    /// Store the worker's heartbeat for a RUNNING trial; throws if it is not RUNNING.
    func heartbeat(study: Int64, number: Int) throws
    /// Store one learning-curve point of a RUNNING trial; throws if it is not RUNNING.
    func reportIntermediate(study: Int64, number: Int, step: Int, metrics: [String: Double]) throws
    /// Move a RUNNING trial to a finished state with its metrics; throws if it is not RUNNING
    /// (e.g. it was failed as stale meanwhile).
    func finishTrial(study: Int64, number: Int, state: TrialState, metrics: [String: Double], violation: Double,
                     message: String?) throws

    /// Fail every RUNNING trial whose heartbeat is older than `timeout` seconds, and queue its
    /// parameters to be claimed again under a new number.
    /// - Returns: the numbers of the trials failed.
    func failStaleTrials(study: Int64, timeout: TimeInterval) throws -> [Int]

    /// Fail one RUNNING trial with `reason` and queue its parameters to run again, as
    /// `failStaleTrials` does for a dead worker's: what an interrupted worker does on its way out.
    func abandonTrial(study: Int64, number: Int, reason: String) throws

    /// The trials of `study` that failed and are queued to run again (see `failStaleTrials`),
    /// oldest first.
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

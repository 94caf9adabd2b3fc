import Compression
import Engine
import Foundation
import Store

/// The worker loop of a study: claim a trial (through `Study`), evaluate it, keep it alive with
/// heartbeats, store the result — until the budget is spent or the deadline passes. Several workers (processes) may run the same study on one store;
/// each keeps its own strategy, told every result any worker stored.
///
/// Never loses a trial: each state change is one committed transaction, a heartbeat marks the
/// running trial alive, and a trial whose worker died (no heartbeat for `staleAfter` seconds: its
/// lease) goes STALE and its parameters re-run under a new number, at most `max_retries` times.
/// A worker that finds the budget spent while other workers' trials still run waits for them,
/// so that one whose worker is lost is re-run rather than left RUNNING. A worker that finds its
/// own trial STALE (it was stopped past its lease) stops that trial — the store keeps its late
/// reports as notes — says so through `notice` and goes on with the next.
public final class StudyRunner {
    public struct Options {
        /// This worker's name in the store (host and process id by default).
        public var worker: String
        public var heartbeatInterval: TimeInterval
        /// A RUNNING trial with no heartbeat for this long belongs to a dead worker (the lease).
        public var staleAfter: TimeInterval
        /// Stop claiming new trials after this moment (the wall-clock budget).
        public var deadline: Date?
        /// Rebuild early stopping from every worker's learning curves at each report (needed
        /// when several workers share the study).
        public var sharedCurves: Bool

        public init(worker: String = StudyRunner.defaultWorkerName, heartbeatInterval: TimeInterval = 5,
                    staleAfter: TimeInterval? = nil, deadline: Date? = nil, sharedCurves: Bool = false) {
            self.worker = worker; self.heartbeatInterval = heartbeatInterval
            self.staleAfter = staleAfter ?? 6 * heartbeatInterval
            self.deadline = deadline; self.sharedCurves = sharedCurves
        }
    }

    /// Where the study stands, for progress lines.
    public struct Progress: Sendable {
        /// Finished trials that count against the budget (a re-run counts once), from the store:
        /// a resumed study starts from what it has.
        public var finished: Int
        public var total: Int?
        public var failed: Int
        public var pruned: Int
        /// Trials that went STALE (their worker was lost); each is re-run unless its re-runs are spent.
        public var stale: Int
        /// Best value of the single objective, in its own units; nil for several objectives.
        public var best: Double?
        /// Hypervolume of the feasible front against the study's reference point.
        public var hypervolume: Double?
        /// Time since this run started, and the trials finished in it: the pace time left is
        /// estimated from.
        public var elapsed: TimeInterval
        public var finishedThisRun: Int
        public var deadline: Date?

        public init(finished: Int, total: Int?, failed: Int, pruned: Int, stale: Int = 0, best: Double?, hypervolume: Double?,
                    elapsed: TimeInterval, finishedThisRun: Int? = nil, deadline: Date?) {
            self.finished = finished; self.total = total; self.failed = failed; self.pruned = pruned; self.stale = stale
            self.best = best; self.hypervolume = hypervolume; self.elapsed = elapsed
            self.finishedThisRun = finishedThisRun ?? finished; self.deadline = deadline
        }
    }

    public static var defaultWorkerName: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    public let study: Study
    public var spec: StudySpec { study.spec }
    private var storage: StudyStorage { study.storage }
    private var id: Int64 { study.id }
    public let strategy: Strategy
    public let evaluator: Evaluator
    public let options: Options
    public let analysis: StudyObjectives
    private let makeEarlyStopping: (() throws -> EarlyStopping)?
    private var earlyStopping: EarlyStopping?

    /// Serialises store access between the evaluation thread and the heartbeat.
    private let lock = NSRecursiveLock()
    private var cursor: Int64?
    /// Finished trials this worker has seen, until the reference point is chosen (then only the
    /// running tallies below are kept, so a long study costs the same per trial throughout).
    private var trials: [Int: TrialRecord] = [:]
    /// The trial being evaluated, which the heartbeat keeps alive.
    private var running: Int?
    /// The trial being evaluated, when the store has said it went STALE (this worker's lease
    /// expired): it gets no more heartbeats and is stopped at its next learning-curve point.
    private var leaseLost: Int?
    /// Where the runner says what a person should hear of (a trial lost to an expired lease).
    private var notice: ((String) -> Void)?
    private var tally = Tally()

    /// Counts, best value and the current non-dominated set, updated as results arrive.
    private struct Tally {
        /// Finished trials as the budget counts them: each trial once with its re-runs, when the
        /// last of them ends (a STALE trial that is re-run waits for its re-run).
        var finished = 0, failed = 0, pruned = 0, stale = 0
        /// Of each STALE trial seen, how many re-runs came before it (0 for a first trial).
        var staleDepth: [Int: Int] = [:]
        /// `finished` when this run started.
        var atStart: Int?
        /// Failures in a row in this run while no trial has succeeded, and the last one's reason.
        var failuresInARow = 0, succeeded = false
        var lastFailure: String?
        var best: Double?
        /// Minimised objective vectors of the feasible front.
        var front: [[Double]] = []
    }
    private var referencePoint: [Double]?
    private let started = Date()

    /// A worker of `study` with the parts it made (a test may hand in its own).
    public init(study: Study, strategy: Strategy, evaluator: Evaluator,
                earlyStopping: (() throws -> EarlyStopping)? = nil, options: Options = Options()) throws {
        self.study = study; self.strategy = strategy
        self.evaluator = evaluator; self.options = options
        self.analysis = study.objectives
        self.makeEarlyStopping = earlyStopping
        self.earlyStopping = try earlyStopping?()
        self.referencePoint = study.record.referencePoint
    }

    /// A worker of `study` with the strategy, evaluator and early stopping its spec names.
    public convenience init(study: Study, threads: Int? = nil, dataDirectory: String? = nil, options: Options = Options()) throws {
        try self.init(study: study, strategy: try study.makeStrategy(), evaluator: try study.makeEvaluator(threads: threads, dataDirectory: dataDirectory),
                      earlyStopping: try study.makeEarlyStopping(), options: options)
    }

    /// Run until the trial budget is spent, the deadline passes, or a finite strategy runs out.
    /// `progress` is called at most four times a second, and once at the end; `notice` gets a
    /// line for each trial this worker lost to an expired lease.
    /// - Returns: how many trials this worker evaluated.
    @discardableResult
    public func run(progress: ((Progress) -> Void)? = nil, notice: ((String) -> Void)? = nil) throws -> Int {
        self.notice = notice
        var evaluated = 0
        var nextProgress = Date.distantPast, nextStaleCheck = Date.distantPast
        let heartbeat = startHeartbeat()
        defer { heartbeat.cancel() }
        try chooseReferencePointIfNeeded(force: false)
        try locked { try sync() }
        tally.atStart = tally.finished
        while true {
            try locked {
                // Dead workers are looked for once per heartbeat interval, not before every trial.
                if Date() >= nextStaleCheck {
                    _ = try storage.failStaleTrials(study: id, timeout: options.staleAfter, maxRetries: spec.maxRetries)
                    nextStaleCheck = Date().addingTimeInterval(options.heartbeatInterval)
                }
                try sync()
            }
            if let progress, Date() >= nextProgress {
                progress(currentProgress())
                nextProgress = Date().addingTimeInterval(0.25)
            }
            if let deadline = options.deadline, Date() >= deadline { break }
            let limit = spec.maxConsecutiveFailures
            if limit > 0, !tally.succeeded, tally.failuresInARow >= limit {
                progress?(currentProgress())
                throw StudyError(.runtime, "study '\(study.name)' stopped after \(tally.failuresInARow) failed trials in a row and none succeeded; "
                                           + "the last: \(tally.lastFailure ?? "no reason given") (max_consecutive_failures in the space file sets the limit)")
            }
            guard let asked = try locked({ try study.claim(worker: options.worker, strategy: strategy) }) else {
                guard try othersStillRunning() else { break }
                // One of them may belong to a lost worker: look again once it could have gone stale.
                Thread.sleep(forTimeInterval: min(options.heartbeatInterval, 0.5))
                nextStaleCheck = min(nextStaleCheck, Date().addingTimeInterval(-1))
                continue
            }
            try evaluate(asked)
            evaluated += 1
        }
        try locked { try sync() }
        try chooseReferencePointIfNeeded(force: true)
        progress?(currentProgress())
        return evaluated
    }

    // MARK: - Steps

    /// Tell the strategy (and early stopping) every result stored since the last sync.
    private func sync() throws {
        let new = try storage.trials(study: id, finishedAfter: cursor)
        for t in new where t.state.isFinished {
            if referencePoint == nil { trials[t.number] = t }
            count(t)
            if let seq = t.finishSequence { cursor = max(cursor ?? seq, seq) }
            study.teach(strategy, t)
            if !options.sharedCurves, let es = earlyStopping, !recordedCurves.contains(t.number) {
                for (step, metrics) in t.intermediate.sorted(by: { $0.key < $1.key }) {
                    if case .success(let v) = analysis.minimized(metrics) { es.record(number: t.number, step: step, objectives: v) }
                }
                recordedCurves.insert(t.number)
            }
        }
        if new.contains(where: { $0.state.isFinished }) { try chooseReferencePointIfNeeded(force: false) }
    }

    /// Whether trials of the study claimed by other workers are still RUNNING (the budget is spent
    /// or the strategy has run out, and the deadline has not passed).
    private func othersStillRunning() throws -> Bool {
        if let deadline = options.deadline, Date() >= deadline { return false }
        return try locked { try storage.activity(study: id, finishedAfter: .max).running } > 0
    }

    /// Trials whose curves early stopping has already seen (this worker's own are recorded live).
    private var recordedCurves = Set<Int>()

    private func evaluate(_ asked: Study.AskedTrial) throws {
        let trial = asked.trial
        locked { running = trial.number }
        defer { locked { running = nil } }
        var lastMetrics: [String: Double] = [:]
        var verdict: (state: TrialState, violation: Double, message: String?)
        var model: FinalModel?
        do {
            let m = try evaluator.evaluate(asked.candidate, parameters: asked.parameters) { step, values in
                lastMetrics = values
                return (try? locked { try reportStep(trial.number, step, values) }) ?? true
            }
            // Stopped because the trial went STALE under this worker: the store kept what it reported.
            if m.stoppedEarly, locked({ leaseLost == trial.number }) {
                reportLostLease(trial.number)
                return
            }
            let metrics = m.stoppedEarly ? lastMetrics.merging(m.metrics) { _, new in new } : m.metrics
            verdict = analysis.verdict(metrics, stoppedEarly: m.stoppedEarly)
            lastMetrics = metrics
            model = m.finalModel
        } catch {
            verdict = (.fail, 0, (error as? EvaluationError)?.reason ?? "\(error)")
            lastMetrics = [:]
        }
        do {
            try locked {
                try study.finish(trial.number, state: verdict.state, metrics: lastMetrics, violation: verdict.violation,
                                 message: verdict.message, model: model)
            }
        } catch let e as StoreError where e.kind == .leaseExpired {
            reportLostLease(trial.number)
        }
    }

    /// Says that trial `number` went STALE while this worker ran it (its late reports are notes).
    private func reportLostLease(_ number: Int) {
        notice?("trial \(number) of study '\(study.name)' went STALE while this worker ran it: its lease expired "
                + "(no heartbeat reached the store for \(JSONValue.format(options.staleAfter)) s); its late result was refused "
                + "and kept as a note on the trial; going on with the next trial")
    }

    /// Store a learning-curve point; decide whether the trial goes on (not once it went STALE).
    private func reportStep(_ number: Int, _ step: Int, _ values: [String: Double]) throws -> Bool {
        do {
            try storage.reportIntermediate(study: id, number: number, step: step, metrics: values)
        } catch let e as StoreError where e.kind == .leaseExpired {
            leaseLost = number
            return false
        }
        guard makeEarlyStopping != nil, case .success(let v) = analysis.minimized(values) else { return true }
        if options.sharedCurves {
            let es = try makeEarlyStopping!()
            for t in try storage.trials(study: id, finishedAfter: nil) where t.number != number {
                for (s, m) in t.intermediate.sorted(by: { $0.key < $1.key }) {
                    if case .success(let w) = analysis.minimized(m) { es.record(number: t.number, step: s, objectives: w) }
                }
            }
            earlyStopping = es
        }
        guard let es = earlyStopping else { return true }
        es.record(number: number, step: step, objectives: v)
        recordedCurves.insert(number)
        return !es.shouldStop(number: number, step: step)
    }

    /// The hypervolume reference point is fixed once per study: the space file's, else the
    /// benchmark problem's (`BenchmarkProblem.referencePoint`), else from the first ten ranked trials (or whatever
    /// there is when the run ends), and stored so every later run and command uses the same one.
    private func chooseReferencePointIfNeeded(force: Bool) throws {
        guard referencePoint == nil else { return }
        let point: [Double]?
        if let fixed = spec.referencePoint {
            point = fixed
        } else if case .benchmark(let name, let variables, let count) = spec.evaluator {
            point = try BenchmarkProblem(name: name, variables: variables, objectives: count).referencePoint
        } else {
            let finished = Array(trials.values)
            guard force || analysis.ranked(finished).count >= 10 else { return }
            point = analysis.chooseReferencePoint(finished)
        }
        guard let point else { return }
        try locked { try storage.setReferencePoint(point, study: id) }
        referencePoint = point
        trials = [:]
    }

    private func count(_ t: TrialRecord) {
        let depth = t.retryOf.map { (tally.staleDepth[$0] ?? 0) + 1 } ?? 0
        if t.state == .stale {
            tally.stale += 1
            tally.staleDepth[t.number] = depth
            // Counted when its re-run ends, or now when its re-runs are spent.
            if depth >= spec.maxRetries { tally.finished += 1 }
            return
        }
        tally.finished += 1
        if t.state == .fail { tally.failed += 1 }
        if tally.atStart != nil {
            if t.state == .fail {
                tally.failuresInARow += 1
                tally.lastFailure = t.message
            } else {
                tally.succeeded = true
            }
        }
        if t.state == .pruned { tally.pruned += 1 }
        guard t.state == .complete, t.violation <= 0, case .success(let v) = analysis.minimized(t.metrics) else { return }
        if v.count == 1 { tally.best = min(tally.best ?? v[0], v[0]) }
        ParetoFront.insert(v, into: &tally.front)
    }

    private func currentProgress() -> Progress {
        var best: Double?
        var hv: Double?
        if spec.objectives.count == 1, let b = tally.best {
            best = spec.objectives[0].direction == .minimize ? b : -b
        } else if let ref = referencePoint {
            hv = Search.hypervolume(tally.front, reference: zip(spec.objectives, ref).map { $0.minimized($1) })
        }
        return Progress(finished: tally.finished, total: spec.budget.trials, failed: tally.failed, pruned: tally.pruned,
                        stale: tally.stale, best: best, hypervolume: hv, elapsed: Date().timeIntervalSince(started),
                        finishedThisRun: tally.finished - (tally.atStart ?? 0), deadline: options.deadline)
    }

    /// Give up the trial being evaluated, if any: it goes STALE with `reason` and is queued to run
    /// again (within `max_retries`), so an interrupted study resumes without waiting for its
    /// heartbeat to go stale. Safe to call from another thread (a signal handler's queue).
    public func abandonRunningTrial(reason: String) {
        locked {
            guard let number = running else { return }
            try? storage.abandonTrial(study: id, number: number, reason: reason, maxRetries: spec.maxRetries)
            running = nil
        }
    }

    // MARK: - Heartbeat and locking

    /// One timer for the whole run: every interval it marks the trial being evaluated, if any,
    /// as alive.
    private func startHeartbeat() -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        timer.schedule(deadline: .now() + options.heartbeatInterval, repeating: options.heartbeatInterval)
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            self.locked {
                guard let number = self.running, self.leaseLost != number else { return }
                do {
                    try self.storage.heartbeat(study: self.study.id, number: number)
                } catch let e as StoreError where e.kind == .leaseExpired {
                    self.leaseLost = number
                } catch {
                    // A heartbeat that does not get through is retried at the next interval.
                }
            }
        }
        timer.resume()
        return timer
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

import Foundation
import XCTest
import Store

/// A backend's test case: a subclass gives `connect()` (a new connection to the current test's
/// fresh store) and lists the contract's checks as its test methods — one line each, since test
/// discovery on Linux does not see test methods a class inherits.
class StudyStorageContractCase: XCTestCase {
    /// A new connection to this test's store.
    func connect() throws -> StudyStorage {
        throw XCTSkip("\(type(of: self)) does not say how to connect to its store")
    }

    var contract: StudyStorageContract { StudyStorageContract { [unowned self] in try self.connect() } }
}

/// The behaviour every `StudyStorage` backend must show, written once and run by each backend's
/// test case against a fresh store per test.
///
///     let contract = StudyStorageContract { try SQLiteStorage(path: path) }
///     try contract.budgetLimit()
struct StudyStorageContract {
    /// Opens a connection to the current test's store; every call gives another connection to the
    /// same store (as another worker process would).
    let connect: () throws -> StudyStorage

    // MARK: Fixtures

    func makeStudy(_ storage: StudyStorage, name: String = "mnist", seed: UInt64 = 7) throws -> StudyRecord {
        let record = StudyRecord(name: name, space: #"{"lr": {"log_uniform": [1e-4, 1e-1]}}"#,
                                 objectives: ["loss", "params"], directions: ["minimize", "minimize"],
                                 seed: seed, strategy: "random")
        return try storage.openStudy(record).0
    }

    /// Parameters that differ per trial number, listed out of name order.
    func parameters(_ number: Int) -> [ParameterRecord] {
        [ParameterRecord(name: "width", value: Double(64 + number), json: "\(64 + number)"),
         ParameterRecord(name: "activation", value: 2, json: #""gelu""#),
         ParameterRecord(name: "lr", value: 0.1 + 0.2 + Double(number) / 3, json: "\(0.1 + 0.2 + Double(number) / 3)")]
    }

    func claim(_ storage: StudyStorage, _ study: StudyRecord, limit: Int? = nil, worker: String = "w0") throws -> TrialRecord? {
        try storage.claimTrial(study: study.id, worker: worker, limit: limit, propose: parameters)
    }

    func finish(_ storage: StudyStorage, _ study: StudyRecord, _ number: Int, state: TrialState = .complete,
                loss: Double = 0.5) throws {
        try storage.finishTrial(study: study.id, number: number, state: state, metrics: ["loss": loss, "params": 1000],
                                violation: 0, message: nil)
    }

    func assertClose(_ a: Date?, _ b: Date?, file: StaticString = #filePath, line: UInt = #line) {
        guard let a, let b else { return XCTFail("missing date: \(String(describing: a)) vs \(String(describing: b))", file: file, line: line) }
        XCTAssertEqual(a.timeIntervalSince1970, b.timeIntervalSince1970, accuracy: 0.001, file: file, line: line)
    }

    func assertStoreError<T>(_ kind: StoreError.Kind, _ body: @autoclosure () throws -> T,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? StoreError)?.kind, kind, "\(error)", file: file, line: line)
        }
    }

    // MARK: Studies

    func studyRoundTrip() throws {
        let storage = try connect()
        let created = Date(timeIntervalSince1970: 1_700_000_000.123_456)
        let record = StudyRecord(name: "zdt1", space: "{\"x\": [0, 1]}\n", objectives: ["f1", "f2"],
                                 directions: ["minimize", "maximize"], seed: .max, strategy: "nsga2", created: created)
        let (stored, isNew) = try storage.openStudy(record)
        XCTAssertTrue(isNew)
        XCTAssertEqual(stored.name, "zdt1")
        XCTAssertEqual(stored.space, record.space)
        XCTAssertEqual(stored.objectives, ["f1", "f2"])
        XCTAssertEqual(stored.directions, ["minimize", "maximize"])
        XCTAssertNil(stored.referencePoint)
        XCTAssertEqual(stored.seed, UInt64.max)
        XCTAssertEqual(stored.strategy, "nsga2")
        assertClose(stored.created, created)
        XCTAssertEqual(try storage.study(named: "zdt1"), stored)
        XCTAssertNil(try storage.study(named: "zdt2"))

        try storage.setReferencePoint([1.1, -0.5], study: stored.id)
        XCTAssertEqual(try storage.study(named: "zdt1")?.referencePoint, [1.1, -0.5])
        assertStoreError(.notFound, try storage.setReferencePoint([0], study: stored.id + 100))


        let seeds: [UInt64] = [0, 1, 1 << 63, (1 << 63) - 1]
        for (i, seed) in seeds.enumerated() {
            XCTAssertEqual(try makeStudy(storage, name: "seed\(i)", seed: seed).seed, seed)
        }
    }

    /// Opening a study by a name that exists resumes it, from any connection.
    func resume() throws {
        let first = try makeStudy(try connect())
        let other = try connect()
        var changed = StudyRecord(name: "mnist", space: "{}", objectives: ["acc"], directions: ["maximize"],
                                  seed: 99, strategy: "grid")
        changed.created = Date(timeIntervalSince1970: 0)
        let (again, isNew) = try other.openStudy(changed)
        XCTAssertFalse(isNew)
        XCTAssertEqual(again, first)
        XCTAssertEqual(try other.openStudy(changed).created, false)
    }

    func summaries() throws {
        let storage = try connect()
        let busy = try makeStudy(storage, name: "busy")
        let idle = try makeStudy(storage, name: "idle")
        for _ in 0..<6 { _ = try claim(storage, busy) }
        try finish(storage, busy, 0)
        try finish(storage, busy, 1)
        try finish(storage, busy, 2, state: .pruned)
        try finish(storage, busy, 3, state: .fail)
        try finish(storage, busy, 4, state: .infeasible)
        let summaries = try storage.studies()
        XCTAssertEqual(summaries.map(\.study.name), ["busy", "idle"])
        XCTAssertEqual(summaries[0].counts, [.running: 1, .complete: 2, .pruned: 1, .fail: 1, .infeasible: 1, .stale: 0])
        XCTAssertEqual(summaries[1].counts, [.running: 0, .complete: 0, .pruned: 0, .fail: 0, .infeasible: 0, .stale: 0])
        XCTAssertEqual(summaries[1].study, idle)
        XCTAssertNil(summaries[1].lastActivity)
        let latest = try storage.trials(study: busy.id, finishedAfter: nil).compactMap { $0.finished }.max()
        assertClose(summaries[0].lastActivity, latest)
    }

    /// `activity` gives what finished after a cursor, in finish order, and what runs now; the
    /// cheap study list equals the summaries' studies.
    func activitySinceACursor() throws {
        let storage = try connect()
        let study = try makeStudy(storage, name: "busy")
        _ = try makeStudy(storage, name: "idle")
        XCTAssertEqual(try storage.studyRecords(), try storage.studies().map(\.study))
        let empty = try storage.activity(study: study.id, finishedAfter: nil)
        XCTAssertEqual(empty, StudyActivity(finished: [], running: 0, lastHeartbeat: nil))
        for _ in 0..<5 { _ = try claim(storage, study) }
        try finish(storage, study, 3, state: .pruned)
        try finish(storage, study, 1)
        let first = try storage.activity(study: study.id, finishedAfter: nil)
        XCTAssertEqual(first.finished.map(\.number), [3, 1], "finish order, not number order")
        XCTAssertEqual(first.finished.map(\.state), [.pruned, .complete])
        XCTAssertEqual(first.running, 3)
        let running = try storage.trials(study: study.id, finishedAfter: nil).filter { $0.state == .running }
        assertClose(first.lastHeartbeat, running.map { max($0.heartbeat, $0.started) }.max())
        let cursor = try XCTUnwrap(first.finished.last?.sequence)
        XCTAssertGreaterThan(cursor, first.finished[0].sequence)
        try finish(storage, study, 0, state: .fail)
        let next = try storage.activity(study: study.id, finishedAfter: cursor)
        XCTAssertEqual(next.finished.map(\.number), [0])
        XCTAssertEqual(next.running, 2)
        let record = try XCTUnwrap(try storage.trial(study: study.id, number: 0))
        assertClose(next.finished[0].finished, record.finished)
        XCTAssertEqual(next.finished[0].sequence, record.finishSequence)
        XCTAssertEqual(try storage.activity(study: study.id, finishedAfter: next.finished[0].sequence).finished, [])
    }

    // MARK: Trials

    func trialRoundTrip() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        let before = Date()
        guard let claimed = try claim(storage, study, worker: "host-1") else { return XCTFail("no trial claimed") }
        XCTAssertEqual(claimed.number, 0)
        XCTAssertEqual(claimed.state, .running)
        XCTAssertEqual(claimed.parameters, parameters(0))
        XCTAssertEqual(claimed.worker, "host-1")
        XCTAssertNil(claimed.finishSequence)
        XCTAssertEqual(try storage.trial(study: study.id, number: 0), claimed)
        XCTAssertGreaterThanOrEqual(claimed.started.timeIntervalSince1970, before.timeIntervalSince1970 - 0.001)

        try storage.reportIntermediate(study: study.id, number: 0, step: 0, metrics: ["loss": 2.5, "acc": 0.1])
        try storage.reportIntermediate(study: study.id, number: 0, step: 1, metrics: ["loss": 1.25, "acc": 0.5])
        try storage.reportIntermediate(study: study.id, number: 0, step: 1, metrics: ["loss": 1.0])
        try storage.heartbeat(study: study.id, number: 0)
        let metrics = ["loss": 1.0 / 3, "params": 123_456, "diverged": .nan, "ratio": -.infinity]
        try storage.finishTrial(study: study.id, number: 0, state: .infeasible, metrics: metrics, violation: 0.25,
                                message: "too large for jetson")
        let after = Date()

        guard let stored = try storage.trial(study: study.id, number: 0) else { return XCTFail("trial 0 missing") }
        XCTAssertEqual(stored.state, .infeasible)
        XCTAssertEqual(stored.parameters, parameters(0))
        XCTAssertEqual(stored.metrics.count, 4)
        XCTAssertEqual(stored.metrics["loss"], 1.0 / 3)
        XCTAssertEqual(stored.metrics["params"], 123_456)
        XCTAssertEqual(stored.metrics["diverged"]?.isNaN, true)
        XCTAssertEqual(stored.metrics["ratio"], -.infinity)
        XCTAssertEqual(stored.intermediate, [0: ["loss": 2.5, "acc": 0.1], 1: ["loss": 1.0, "acc": 0.5]])
        XCTAssertEqual(stored.violation, 0.25)
        XCTAssertEqual(stored.message, "too large for jetson")
        XCTAssertNil(stored.retryOf)
        XCTAssertNotNil(stored.finishSequence)
        assertClose(stored.started, claimed.started)
        guard let finished = stored.finished else { return XCTFail("no finish time") }
        XCTAssertTrue((claimed.started.timeIntervalSince1970...after.timeIntervalSince1970 + 0.001)
            .contains(finished.timeIntervalSince1970))
        XCTAssertGreaterThanOrEqual(stored.heartbeat, claimed.heartbeat)
        XCTAssertNil(try storage.trial(study: study.id, number: 1))

        let listed = try storage.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(listed.count, 1)
        XCTAssertEqual(listed.first?.intermediate, stored.intermediate)
        XCTAssertEqual(listed.first?.finishSequence, stored.finishSequence)
    }

    /// Trial numbers are 0, 1, 2... per study; a failing `propose` claims nothing.
    func numbering() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        let other = try makeStudy(storage, name: "other")
        var proposed: [Int] = []
        for _ in 0..<4 {
            _ = try storage.claimTrial(study: study.id, worker: "w", limit: nil) { proposed.append($0); return parameters($0) }
        }
        XCTAssertEqual(proposed, [0, 1, 2, 3])
        XCTAssertEqual(try claim(storage, other)?.number, 0)

        struct Refused: Error {}
        XCTAssertThrowsError(try storage.claimTrial(study: study.id, worker: "w", limit: nil) { _ in throw Refused() }) {
            XCTAssertTrue($0 is Refused)
        }
        XCTAssertNil(try storage.trial(study: study.id, number: 4))
        XCTAssertEqual(try claim(storage, study)?.number, 4)
        let all = try storage.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(all.map(\.number), [0, 1, 2, 3, 4])
        XCTAssertEqual(all.map(\.parameters), (0..<5).map(parameters))
        assertStoreError(.notFound, try claim(storage, StudyRecord(id: 999, name: "ghost", space: "", objectives: [],
                                                                    directions: [], seed: 0, strategy: "")))
    }

    func budgetLimit() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        XCTAssertNil(try claim(storage, study, limit: 0))
        XCTAssertEqual(try claim(storage, study, limit: 3)?.number, 0)
        XCTAssertEqual(try claim(storage, study, limit: 3)?.number, 1)
        try finish(storage, study, 0)
        try finish(storage, study, 1, state: .fail)
        XCTAssertEqual(try claim(storage, study, limit: 3)?.number, 2)
        var asked = false
        XCTAssertNil(try storage.claimTrial(study: study.id, worker: "w", limit: 3) { asked = true; return parameters($0) })
        XCTAssertFalse(asked, "propose must not run once the budget is spent")
        XCTAssertEqual(try claim(storage, study, limit: 4)?.number, 3, "a larger budget on resume allows more")
        XCTAssertEqual(try claim(storage, study, limit: nil)?.number, 4)
    }

    func finishingTwiceThrows() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        _ = try claim(storage, study)
        try finish(storage, study, 0, loss: 0.25)
        let first = try storage.trial(study: study.id, number: 0)
        assertStoreError(.notRunning, try finish(storage, study, 0, state: .fail, loss: 9))
        assertStoreError(.notRunning, try storage.heartbeat(study: study.id, number: 0))
        assertStoreError(.notRunning, try storage.reportIntermediate(study: study.id, number: 0, step: 3, metrics: ["loss": 1]))
        XCTAssertEqual(try storage.trial(study: study.id, number: 0), first, "a refused change must change nothing")
        assertStoreError(.notFound, try finish(storage, study, 5))
        assertStoreError(.notFound, try storage.heartbeat(study: study.id, number: 5))

        _ = try claim(storage, study)
        assertStoreError(.invalidArgument, try finish(storage, study, 1, state: .running))
        assertStoreError(.invalidArgument, try finish(storage, study, 1, state: .stale))
        XCTAssertEqual(try storage.trial(study: study.id, number: 1)?.state, .running)
        XCTAssertEqual(try storage.trial(study: study.id, number: 0)?.notes, [], "a finished trial keeps no notes")
    }

    /// An interrupted worker hands its trial back: STALE with the reason, its parameters queued.
    func abandonedTrialsAreRetried() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        _ = try claim(storage, study, limit: 2)
        try storage.abandonTrial(study: study.id, number: 0, reason: "interrupted by SIGINT")
        let failed = try storage.trial(study: study.id, number: 0)
        XCTAssertEqual(failed?.state, .stale)
        XCTAssertEqual(failed?.message, "interrupted by SIGINT; queued to run again (re-run 1)")
        assertStoreError(.notRunning, try storage.abandonTrial(study: study.id, number: 0, reason: "again"))
        assertStoreError(.notFound, try storage.abandonTrial(study: study.id, number: 7, reason: "none"))
        let retry = try storage.claimTrial(study: study.id, worker: "w", limit: 2) { _ in XCTFail("a re-run is not proposed"); return [] }
        XCTAssertEqual(retry?.retryOf, 0)
        XCTAssertEqual(retry?.parameters, parameters(0))
        XCTAssertNotNil(try storage.claimTrial(study: study.id, worker: "w", limit: 2) { parameters($0) }, "the abandoned trial does not count")
        XCTAssertNil(try storage.claimTrial(study: study.id, worker: "w", limit: 2) { parameters($0) })
    }

    /// A trial whose worker went silent goes STALE, and its parameters are re-run under a new
    /// number that takes its place in the budget.
    func staleTrialsAreRetried() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        _ = try claim(storage, study, limit: 3)
        _ = try claim(storage, study, limit: 3)
        try finish(storage, study, 0)
        let cursor = try storage.trial(study: study.id, number: 0)?.finishSequence
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 60), [])
        assertStoreError(.invalidArgument, try storage.failStaleTrials(study: study.id, timeout: -1))

        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.05), [1])
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.05), [], "failed only once")
        guard let failed = try storage.trial(study: study.id, number: 1) else { return XCTFail("trial 1 missing") }
        XCTAssertEqual(failed.state, .stale)
        XCTAssertTrue(failed.message?.hasPrefix("worker w0 stopped: no heartbeat for 0 s; queued to run again (re-run 1)") == true,
                      failed.message ?? "no message")
        XCTAssertNotNil(failed.finished)
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: cursor).map(\.number), [1])
        assertStoreError(.leaseExpired, try finish(storage, study, 1))  // the late result of a STALE trial

        var asked: [Int] = []
        let propose: (Int) throws -> [ParameterRecord] = { asked.append($0); return parameters($0) }
        let retry = try storage.claimTrial(study: study.id, worker: "w1", limit: 3, propose: propose)
        XCTAssertEqual(retry?.number, 2)
        XCTAssertEqual(retry?.retryOf, 1)
        XCTAssertEqual(retry?.parameters, parameters(1))
        XCTAssertEqual(asked, [], "a re-run is not proposed")
        XCTAssertEqual(try storage.trial(study: study.id, number: 2), retry)
        XCTAssertEqual(try storage.claimTrial(study: study.id, worker: "w1", limit: 3, propose: propose)?.number, 3)
        XCTAssertEqual(asked, [3])
        XCTAssertNil(try storage.claimTrial(study: study.id, worker: "w1", limit: 3, propose: propose))
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: nil).map(\.state), [.complete, .stale, .running, .running])

        // A re-run whose worker dies too is re-run again; the budget still holds 3 counted trials.
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.05), [2, 3])
        let again = try (0..<3).map { _ in try storage.claimTrial(study: study.id, worker: "w2", limit: 3, propose: propose) }
        XCTAssertEqual(again.map { $0?.number }, [4, 5, nil])
        XCTAssertEqual(again.map { $0?.retryOf }, [2, 3, nil])
        XCTAssertEqual(again.map { $0?.parameters }, [parameters(1), parameters(3), nil])
        XCTAssertEqual(asked, [3])
    }

    /// A trial whose re-runs keep going STALE is run 1 + `maxRetries` times, then stays STALE,
    /// counted once in the budget, with a message that says so.
    func staleRerunsAreBounded() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        var numbers: [Int] = []
        for _ in 0..<3 {
            let trial = try XCTUnwrap(try claim(storage, study, limit: 2))
            numbers.append(trial.number)
            Thread.sleep(forTimeInterval: 0.03)
            XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.01, maxRetries: 2), [trial.number])
        }
        XCTAssertEqual(numbers, [0, 1, 2])
        let chain = try storage.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(chain.map(\.retryOf), [nil, 0, 1])
        XCTAssertEqual(chain.map(\.state), [.stale, .stale, .stale])
        XCTAssertEqual(chain.map(\.parameters), Array(repeating: parameters(0), count: 3), "every re-run runs the first trial's parameters")
        XCTAssertTrue(chain[1].message?.hasSuffix("queued to run again (re-run 2 of at most 2)") == true, chain[1].message ?? "")
        XCTAssertTrue(chain[2].message?.hasSuffix("not run again: 2 re-runs already, max_retries is 2") == true, chain[2].message ?? "")
        XCTAssertEqual(try storage.queuedReruns(study: study.id), [])
        // The spent chain counts once: one more new trial fits a budget of 2.
        let next = try claim(storage, study, limit: 2)
        XCTAssertEqual(next?.number, 3)
        XCTAssertNil(next?.retryOf)
        XCTAssertNil(try claim(storage, study, limit: 2))

        // An interrupted worker's trial obeys the same bound; max_retries 0 never re-runs.
        try storage.abandonTrial(study: study.id, number: 3, reason: "interrupted by SIGTERM", maxRetries: 0)
        XCTAssertEqual(try storage.trial(study: study.id, number: 3)?.message,
                       "interrupted by SIGTERM; not run again: 0 re-runs already, max_retries is 0")
        XCTAssertEqual(try storage.queuedReruns(study: study.id), [])
        XCTAssertNil(try claim(storage, study, limit: 2))
    }

    /// A worker whose lease expired reports late: every report is refused, the STALE trial and its
    /// re-run keep their values, and the reports are kept as notes (one heartbeat, every step and
    /// result), from any connection.
    func lateReportsAreKeptAsNotes() throws {
        let storage = try connect(), other = try connect()
        let study = try makeStudy(storage)
        _ = try claim(storage, study)
        try storage.reportIntermediate(study: study.id, number: 0, step: 0, metrics: ["loss": 2])
        Thread.sleep(forTimeInterval: 0.03)
        XCTAssertEqual(try other.failStaleTrials(study: study.id, timeout: 0.01, maxRetries: 3), [0])
        let rerun = try XCTUnwrap(try claim(other, study, worker: "w1"))
        try finish(other, study, rerun.number, loss: 0.75)
        let before = try XCTUnwrap(try storage.trial(study: study.id, number: 0))
        let rerunBefore = try storage.trial(study: study.id, number: 1)

        let start = Date()
        assertStoreError(.leaseExpired, try storage.heartbeat(study: study.id, number: 0))
        assertStoreError(.leaseExpired, try storage.heartbeat(study: study.id, number: 0))
        assertStoreError(.leaseExpired, try storage.reportIntermediate(study: study.id, number: 0, step: 1, metrics: ["loss": 1.5]))
        assertStoreError(.leaseExpired, try storage.finishTrial(study: study.id, number: 0, state: .complete,
                                                                metrics: ["loss": 0.25, "params": .nan], violation: 0, message: "late"))
        assertStoreError(.notRunning, try storage.abandonTrial(study: study.id, number: 0, reason: "interrupted"))
        let after = try XCTUnwrap(try other.trial(study: study.id, number: 0))
        var unchanged = after
        unchanged.notes = []
        XCTAssertEqual(unchanged, before, "the STALE trial keeps its state and values")
        XCTAssertEqual(try other.trial(study: study.id, number: 1), rerunBefore, "the re-run's result stands")
        XCTAssertEqual(after.notes.map(\.kind), [.heartbeat, .step, .result], "one heartbeat note, then each report")
        XCTAssertEqual(after.notes[1].step, 1)
        XCTAssertEqual(after.notes[1].metrics, ["loss": 1.5])
        XCTAssertEqual(after.notes[2].state, .complete)
        XCTAssertEqual(after.notes[2].metrics["loss"], 0.25)
        XCTAssertEqual(after.notes[2].metrics["params"]?.isNaN, true)
        XCTAssertEqual(after.notes[2].message, "late")
        for note in after.notes {
            XCTAssertEqual(note.time.timeIntervalSince1970, start.timeIntervalSince1970, accuracy: 5)
        }
        // Compared by their text: NaN is never equal to itself.
        XCTAssertEqual(try other.trials(study: study.id, finishedAfter: nil).first?.notes.map(\.summary), after.notes.map(\.summary))
        XCTAssertEqual(after.notes[2].summary, "late result COMPLETE: loss=0.25 params=nan (late)")
    }

    /// Heartbeats and learning-curve reports keep a trial alive.
    func heartbeatsKeepTrialsAlive() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        _ = try claim(storage, study)
        _ = try claim(storage, study)
        Thread.sleep(forTimeInterval: 0.3)
        try storage.heartbeat(study: study.id, number: 0)
        try storage.reportIntermediate(study: study.id, number: 1, step: 0, metrics: ["loss": 1])
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.2), [])
    }

    /// The cursor returns exactly the trials finished since it was taken, from any study's point
    /// of view, and never running ones.
    func cursorReturnsOnlyNewResults() throws {
        let storage = try connect()
        let study = try makeStudy(storage)
        let other = try makeStudy(storage, name: "other")
        for _ in 0..<4 { _ = try claim(storage, study) }
        _ = try claim(storage, other)
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: 0), [])
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: nil).map(\.number), [0, 1, 2, 3])

        try finish(storage, study, 2, loss: 0.2)
        let firstBatch = try storage.trials(study: study.id, finishedAfter: 0)
        XCTAssertEqual(firstBatch.map(\.number), [2])
        XCTAssertEqual(firstBatch.first?.metrics["loss"], 0.2)
        XCTAssertEqual(firstBatch.first?.parameters, parameters(2))
        let cursor = try XCTUnwrap(firstBatch.last?.finishSequence)

        try finish(storage, study, 3)
        try finish(storage, other, 0)
        try finish(storage, study, 0)
        let secondBatch = try storage.trials(study: study.id, finishedAfter: cursor)
        XCTAssertEqual(secondBatch.map(\.number), [0, 3], "number order")
        XCTAssertTrue(secondBatch.allSatisfy { ($0.finishSequence ?? 0) > cursor })
        let sequences = try [storage.trial(study: study.id, number: 3), storage.trial(study: other.id, number: 0),
                             storage.trial(study: study.id, number: 0)].map { $0?.finishSequence ?? 0 }
        XCTAssertEqual(sequences, sequences.sorted())
        XCTAssertEqual(Set(sequences).count, 3, "one sequence for the whole store")
        let latest = try XCTUnwrap(secondBatch.compactMap(\.finishSequence).max())
        XCTAssertEqual(try storage.trials(study: study.id, finishedAfter: latest), [])
        XCTAssertEqual(try storage.trials(study: other.id, finishedAfter: cursor).map(\.number), [0])
    }

    /// Two connections claiming at once from two threads share one numbering and one budget.
    func concurrentClaims() throws {
        let connections = [try connect(), try connect()]
        let study = try makeStudy(connections[0])
        let lock = NSLock()
        var numbers: [Int] = []
        var errors: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let storage = connections[worker]
            for _ in 0..<200 {
                do {
                    guard let trial = try claim(storage, study, limit: 150, worker: "w\(worker)") else { continue }
                    try finish(storage, study, trial.number)
                    lock.lock(); numbers.append(trial.number); lock.unlock()
                } catch {
                    lock.lock(); errors.append(error); lock.unlock()
                }
            }
        }
        XCTAssertTrue(errors.isEmpty, "\(errors.prefix(3))")
        XCTAssertEqual(numbers.count, 150)
        XCTAssertEqual(numbers.sorted(), Array(0..<150))
        let stored = try connections[1].trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(stored.count, 150)
        XCTAssertEqual(Set(stored.compactMap(\.finishSequence)).count, 150)
    }
}

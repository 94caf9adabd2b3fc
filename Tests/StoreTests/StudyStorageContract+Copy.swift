import Foundation
import XCTest
import Store

/// The contract for whole studies: a copy keeps every trial as it was and goes on as the
/// original would; a delete removes one study and nothing else.
extension StudyStorageContract {
    /// A study with a finished trial (with a learning curve), a pruned one, an interrupted one
    /// queued to run again, its re-run gone STALE with a late result kept as a note, and the re-run's
    /// re-run still running.
    private func busyStudy(_ storage: StudyStorage) throws -> StudyRecord {
        let study = try makeStudy(storage)
        try storage.setReferencePoint([2, 2000], study: study.id)
        for _ in 0..<4 { _ = try claim(storage, study, limit: 4) }
        try storage.reportIntermediate(study: study.id, number: 0, step: 0, metrics: ["loss": 0.9])
        try storage.reportIntermediate(study: study.id, number: 0, step: 1, metrics: ["loss": 0.7, "acc": .nan])
        try finish(storage, study, 0, loss: 0.25)
        try finish(storage, study, 2, state: .pruned)
        try storage.abandonTrial(study: study.id, number: 1, reason: "interrupted by SIGINT")
        try finish(storage, study, 3, loss: .infinity)
        _ = try claim(storage, study, limit: 4)  // takes trial 1's queued re-run as trial 4
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.01), [4])
        XCTAssertThrowsError(try finish(storage, study, 4, loss: 0.125))  // kept as a note on trial 4
        _ = try claim(storage, study, limit: nil, worker: "late")  // trial 5 takes trial 4's re-run
        return try XCTUnwrap(try storage.study(named: study.name))
    }

    func copyKeepsEverything() throws {
        let storage = try connect()
        let original = try busyStudy(storage)
        let trials = try storage.trials(study: original.id, finishedAfter: nil)
        XCTAssertEqual(try storage.queuedReruns(study: original.id), [])
        try storage.abandonTrial(study: original.id, number: 5, reason: "stopped")
        let queued = try storage.queuedReruns(study: original.id)
        XCTAssertEqual(queued, [5])
        let all = try storage.trials(study: original.id, finishedAfter: nil)

        var renamed = original
        renamed.name = "mnist-copy"
        let copy = try connect().importStudy(renamed, trials: all, queued: queued)
        XCTAssertNotEqual(copy.id, original.id)
        XCTAssertEqual(try storage.study(named: "mnist-copy"), copy)
        XCTAssertEqual(copy.referencePoint, [2, 2000])
        let copied = try storage.trials(study: copy.id, finishedAfter: nil)
        // Comparable as values: no study id, no finish sequence, NaN (never equal to itself) as a marker.
        func strip(_ t: TrialRecord) -> TrialRecord {
            var t = t
            t.study = 0
            t.finishSequence = nil
            t.intermediate = t.intermediate.mapValues { $0.mapValues { $0.isNaN ? -.greatestFiniteMagnitude : $0 } }
            return t
        }
        XCTAssertEqual(copied.map(strip), all.map(strip), "every trial as it was")
        XCTAssertEqual(copied.first?.metrics["loss"], 0.25)
        XCTAssertEqual(copied.first?.intermediate[1]?["acc"]?.isNaN, true)
        XCTAssertEqual(copied[4].notes.map(\.metrics), [["loss": 0.125, "params": 1000]], "the late result's note")
        let oldOrder = all.filter { $0.finishSequence != nil }.sorted { $0.finishSequence! < $1.finishSequence! }.map(\.number)
        let newOrder = copied.filter { $0.finishSequence != nil }.sorted { $0.finishSequence! < $1.finishSequence! }.map(\.number)
        XCTAssertEqual(newOrder, oldOrder, "finish order kept")
        XCTAssertGreaterThan(copied.compactMap(\.finishSequence).min() ?? 0, all.compactMap(\.finishSequence).max() ?? .max)
        XCTAssertEqual(try storage.queuedReruns(study: copy.id), [5])
        XCTAssertEqual(trials.count, 6)

        // The copy goes on as the original would: the same re-run, then the same budget.
        let nextOriginal = try claim(storage, original, limit: 4)
        let nextCopy = try claim(storage, copy, limit: 4)
        XCTAssertEqual(nextCopy?.number, nextOriginal?.number)
        XCTAssertEqual(nextCopy?.retryOf, 5)
        XCTAssertEqual(nextCopy?.parameters, nextOriginal?.parameters)
        XCTAssertNil(try claim(storage, copy, limit: 4))
        XCTAssertNil(try claim(storage, original, limit: 4))

        assertStoreError(.invalidArgument, try storage.importStudy(renamed, trials: [], queued: []))
        renamed.name = "broken"
        assertStoreError(.invalidArgument, try storage.importStudy(renamed, trials: all, queued: [42]))
        XCTAssertNil(try storage.study(named: "broken"), "a refused copy stores nothing")
    }

    func deleteRemovesOnlyThatStudy() throws {
        let storage = try connect()
        let doomed = try busyStudy(storage)
        let kept = try makeStudy(storage, name: "kept")
        _ = try claim(storage, kept)
        try finish(storage, kept, 0, loss: 0.5)
        let keptTrials = try storage.trials(study: kept.id, finishedAfter: nil)

        XCTAssertTrue(try connect().deleteStudy(named: doomed.name))
        XCTAssertNil(try storage.study(named: doomed.name))
        XCTAssertEqual(try storage.studies().map(\.study.name), ["kept"])
        XCTAssertEqual(try storage.trials(study: doomed.id, finishedAfter: nil), [])
        XCTAssertEqual(try storage.queuedReruns(study: doomed.id), [])
        XCTAssertEqual(try storage.trials(study: kept.id, finishedAfter: nil), keptTrials)
        assertStoreError(.notFound, try claim(storage, doomed))
        XCTAssertFalse(try storage.deleteStudy(named: doomed.name))

        let again = try makeStudy(storage, name: doomed.name)
        XCTAssertEqual(try claim(storage, again)?.number, 0, "a new study of the same name starts afresh")
    }
}

/// The contract for a store of schema version 4 upgraded to version 5: a backend's test writes
/// `versionFourTrials` with today's code, turns its tables back into version 4's by hand (STALE
/// stored as FAIL, no `notes`), opens the store again, and checks it with `upgradedFromVersionFour`.
extension StudyStorageContract {
    /// Trials 0 COMPLETE, 1 FAIL (told so), 2 lost and queued to run again, 3 lost and re-run as
    /// 4 (RUNNING).
    func versionFourTrials(_ storage: StudyStorage) throws -> StudyRecord {
        let study = try makeStudy(storage)
        for _ in 0..<4 { _ = try claim(storage, study) }
        try finish(storage, study, 0)
        try finish(storage, study, 1, state: .fail)
        try storage.abandonTrial(study: study.id, number: 2, reason: "interrupted by SIGINT")
        try storage.abandonTrial(study: study.id, number: 3, reason: "interrupted by SIGINT")
        XCTAssertEqual(try storage.queuedReruns(study: study.id), [2, 3])
        // Take the oldest queued re-run, trial 2's, leaving trial 3's queued.
        _ = try claim(storage, study)
        return study
    }

    func upgradedFromVersionFour(_ storage: StudyStorage, _ study: StudyRecord) throws {
        let trials = try storage.trials(study: study.id, finishedAfter: nil)
        XCTAssertEqual(trials.map(\.state), [.complete, .fail, .stale, .stale, .running],
                       "a FAIL that was queued or re-run is a lost worker's: STALE; a told FAIL stays")
        XCTAssertEqual(trials.map(\.parameters), [0, 1, 2, 3, 2].map(parameters), "every trial's parameters survive")
        XCTAssertEqual(trials.last?.retryOf, 2)
        XCTAssertEqual(try storage.queuedReruns(study: study.id), [3])
        // Version 5's behaviour: a late result on a STALE trial is a note; a re-run takes the queue.
        assertStoreError(.leaseExpired, try finish(storage, study, 3, loss: 0.1))
        XCTAssertEqual(try storage.trial(study: study.id, number: 3)?.notes.count, 1)
        let rerun = try claim(storage, study, limit: 4)
        XCTAssertEqual(rerun?.retryOf, 3)
        XCTAssertNil(try claim(storage, study, limit: 4), "four trials counted, each once")
    }
}

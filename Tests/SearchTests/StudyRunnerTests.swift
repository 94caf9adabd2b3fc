import Engine
import Foundation
import Store
import XCTest
@testable import Search

/// The study runner in process, on a temporary store: engine trials with learning curves, early
/// stopping, failures, and budgets.
final class StudyRunnerTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("runner-\(UUID().uuidString).sqlite").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func study(_ text: String) throws -> (StudySpec, SQLiteStorage, Study) {
        let spec = try SpaceFile.parse(Data(text.utf8), file: "space.json")
        let storage = try SQLiteStorage(path: path)
        let (study, created) = try Study.create(spec, named: "s", in: storage, location: path)
        XCTAssertTrue(created)
        return (spec, storage, study)
    }

    func testEngineTrialsStoreLearningCurvesAndEarlyStoppingPrunes() throws {
        let (spec, storage, record) = try study("""
        {"architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[4], [32]]}},
         "training": {"optimizer": {"name": "adam", "lr": {"_type": "loguniform", "_value": [0.00001, 0.05]}},
                      "batch_size": 32, "epochs": 4, "seed": 1, "threads": 1},
         "evaluator": {"engine": {"data": {"dataset": "spirals", "samples": 300, "classes": 2, "validation_fraction": 0.2}, "epochs": 4}},
         "objectives": {"accuracy": "maximize"},
         "strategy": "random",
         "early_stopping": {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2},
         "budget": 8, "seed": 2}
        """)
        guard case .engine(let data, let epochs) = spec.evaluator else { return XCTFail("engine evaluator expected") }
        let es = spec.earlyStopping!
        let runner = try StudyRunner(
            study: record,
            strategy: StrategyFactory.make(spec.strategy, space: spec.space, objectives: 1, seed: spec.seed),
            evaluator: EngineEvaluator(data: data, epochs: epochs, threads: 1),
            earlyStopping: { try EarlyStoppingFactory.make(es, maxResource: 4, objectives: 1, seed: 2) })
        XCTAssertEqual(try runner.run(), 8)
        let trials = try storage.trials(study: record.id, finishedAfter: nil)
        XCTAssertEqual(trials.count, 8)
        let pruned = trials.filter { $0.state == .pruned }, complete = trials.filter { $0.state == .complete }
        XCTAssertFalse(pruned.isEmpty, "halving at η = 2 stops some of 8 trials")
        XCTAssertFalse(complete.isEmpty)
        for t in complete {
            XCTAssertEqual(t.intermediate.keys.sorted(), [1, 2, 3, 4], "a complete trial's curve has every epoch")
            XCTAssertNotNil(t.metrics["flops"])
            XCTAssertGreaterThan(t.metrics["params"] ?? 0, 0)
        }
        for t in pruned {
            XCTAssertLessThan(t.intermediate.count, 4)
            XCTAssertEqual(t.message, "stopped early")
            XCTAssertNotNil(t.metrics["accuracy"], "a pruned trial keeps its last values")
        }
        XCTAssertNotNil(try storage.study(named: "s")?.referencePoint, "a reference point is stored when the run ends")
        XCTAssertFalse(try record.front().isEmpty)
    }

    func testFailuresAreStoredWithTheirReasonAndTheStudyGoesOn() throws {
        let (spec, storage, record) = try study("""
        {"architecture": {"_type": "choice", "_value": [{"family": "mlp", "widths": [8]}, {"family": "cnn", "stages": [{"channels": 4}]}]},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "epochs": 1, "seed": 1, "threads": 1},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 100, "classes": 3}}},
         "objectives": {"accuracy": "maximize"}, "strategy": "grid", "budget": 5}
        """)
        guard case .engine(let data, let epochs) = spec.evaluator else { return XCTFail("engine evaluator expected") }
        let runner = try StudyRunner(
            study: record,
            strategy: StrategyFactory.make(spec.strategy, space: spec.space, objectives: 1, seed: 0),
            evaluator: EngineEvaluator(data: data, epochs: epochs))
        XCTAssertEqual(try runner.run(), 2, "a grid of two candidates ends the study before its budget of 5")
        let trials = try storage.trials(study: record.id, finishedAfter: nil)
        let failed = try XCTUnwrap(trials.first { $0.state == .fail })
        XCTAssertTrue(failed.message?.contains("architecture.family: cnn needs image input") ?? false, failed.message ?? "")
        XCTAssertEqual(trials.filter { $0.state == .complete }.count, 1)
    }

    func testProgressOfAResumedStudyCountsFromTheStore() throws {
        let text = #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "random", "budget": 3}"#
        let (spec, storage, first) = try study(text)
        try StudyRunner(study: first).run()
        let (resumed, created) = try Study.create(try spec.applying(.init(trials: 5)), named: "s", in: storage, location: path)
        XCTAssertFalse(created)
        var last: StudyRunner.Progress?
        XCTAssertEqual(try StudyRunner(study: resumed).run { last = $0 }, 2)
        XCTAssertEqual(last?.finished, 5, "the three trials of the first run count")
        XCTAssertEqual(last?.total, 5)
        XCTAssertEqual(last?.finishedThisRun, 2, "and time left is paced by this run's two")

        // A trial handed back (an interrupted worker's) is re-run under a new number; it counts once.
        let (more, _) = try Study.create(try spec.applying(.init(trials: 7)), named: "s", in: storage, location: path)
        let held = try XCTUnwrap(try more.claim(worker: "gone", strategy: try more.makeStrategy()))
        try storage.abandonTrial(study: more.id, number: held.trial.number, reason: "interrupted")
        XCTAssertEqual(try StudyRunner(study: more).run { last = $0 }, 2)
        XCTAssertEqual(try more.trials().count, 8, "seven trials and one re-run")
        XCTAssertEqual(last?.finished, 7, "never 8/7")
    }

    /// A lost trial whose re-runs are spent stays STALE and counts once; the runner fills the
    /// rest of the budget with new trials and never teaches a strategy from STALE trials.
    func testAStaleTrialCountsOnceAndItsReRunsAreBoundedByMaxRetries() throws {
        let text = #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "random", "budget": 3, "max_retries": 1}"#
        let (spec, storage, study) = try study(text)
        XCTAssertEqual(spec.maxRetries, 1)
        XCTAssertEqual(try SpaceFile.parse(Data(text.replacingOccurrences(of: #", "max_retries": 1"#, with: "").utf8), file: "s").maxRetries, 3,
                       "3 by default")
        XCTAssertThrowsError(try SpaceFile.parse(Data(text.replacingOccurrences(of: #""max_retries": 1"#, with: #""max_retries": -1"#).utf8),
                                                 file: "space.json")) { error in
            XCTAssertEqual("\(error)", "space.json: max_retries: must be ≥ 0, got -1")
        }
        // A worker claims trial 0 and is lost; its re-run, trial 1, is lost too: max_retries 1 is spent.
        for expected in [0, 1] {
            let held = try XCTUnwrap(try study.claim(worker: "gone", strategy: try study.makeStrategy()))
            XCTAssertEqual(held.trial.number, expected)
            Thread.sleep(forTimeInterval: 0.02)
            XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.01, maxRetries: spec.maxRetries), [expected])
        }
        var last: StudyRunner.Progress?
        XCTAssertEqual(try StudyRunner(study: study).run { last = $0 }, 2)
        let trials = try study.trials()
        XCTAssertEqual(trials.map(\.state), [.stale, .stale, .complete, .complete])
        XCTAssertEqual(trials.map(\.retryOf), [nil, 0, nil, nil])
        XCTAssertTrue(trials[1].message?.hasSuffix("not run again: 1 re-run already, max_retries is 1") == true, trials[1].message ?? "")
        XCTAssertEqual(last?.finished, 3, "the spent chain counts once")
        XCTAssertEqual(last?.stale, 2)
        XCTAssertEqual(last?.failed, 0, "a STALE trial is not a failure")

        // A strategy learns only from trials with an outcome of their own.
        final class Recorder: Strategy {
            let space: SearchSpace
            var told: [Int] = []
            init(space: SearchSpace) { self.space = space }
            func ask(number: Int) throws -> Configuration { throw StrategyError.exhausted(proposed: 0) }
            func tell(_ result: TrialResult) { told.append(result.number) }
        }
        let recorder = Recorder(space: spec.space)
        for t in trials { study.teach(recorder, t) }
        XCTAssertEqual(recorder.told, [2, 3])
    }

    /// A trial that goes STALE under its own worker (here: marked so between two learning-curve
    /// points, as another worker would after a long stop): the next point is refused and kept as
    /// a note, the evaluation stops without reporting a result, the worker says so once and goes
    /// on — with the trial's re-run.
    func testAWorkerThatFindsItsTrialStaleStopsItAndGoesOn() throws {
        let (spec, storage, study) = try study(#"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "budget": 1}"#)
        final class LosesItsLease: Evaluator {
            let storage: StudyStorage, study: Int64
            var steps: [Int] = [], lost = false
            init(storage: StudyStorage, study: Int64) { self.storage = storage; self.study = study }
            func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                          report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
                for step in 0..<4 {
                    if step == 2, !lost {
                        lost = true
                        Thread.sleep(forTimeInterval: 0.02)
                        _ = try storage.failStaleTrials(study: study, timeout: 0.01, maxRetries: 3)
                    }
                    steps.append(step)
                    guard report(step, ["f1": Double(step), "f2": 1]) else { return EvaluationResult(metrics: [:], stoppedEarly: true) }
                }
                return EvaluationResult(metrics: ["f1": 0.25, "f2": 0.5])
            }
        }
        let evaluator = LosesItsLease(storage: storage, study: study.id)
        let runner = try StudyRunner(study: study, strategy: RandomSearch(space: spec.space, seed: 0), evaluator: evaluator)
        var notices: [String] = []
        XCTAssertEqual(try runner.run(notice: { notices.append($0) }), 2, "the lost trial, then its re-run")
        XCTAssertEqual(evaluator.steps, [0, 1, 2, 0, 1, 2, 3], "stopped at the first refused point")
        XCTAssertEqual(notices.count, 1)
        XCTAssertTrue(notices.first?.hasPrefix("trial 0 of study 's' went STALE while this worker ran it: its lease expired") == true,
                      notices.first ?? "")
        let trials = try study.trials()
        XCTAssertEqual(trials.map(\.state), [.stale, .complete])
        XCTAssertEqual(trials[1].retryOf, 0)
        XCTAssertEqual(trials[0].intermediate.keys.sorted(), [0, 1], "the refused point is not on the curve")
        XCTAssertEqual(trials[0].notes.map(\.kind), [.step])
        XCTAssertEqual(trials[0].notes.first?.step, 2)
        XCTAssertEqual(trials[0].metrics, [:], "no result reported for the STALE trial")
    }

    /// `autotune tell` after the trial went STALE: refused, and kept as a note.
    func testATellForAStaleTrialIsRefusedAndKeptAsANote() throws {
        let (_, storage, study) = try study(#"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "budget": 2}"#)
        let asked = try study.ask(worker: "ask")
        Thread.sleep(forTimeInterval: 0.02)
        XCTAssertEqual(try storage.failStaleTrials(study: study.id, timeout: 0.01, maxRetries: 3), [asked.trial.number])
        XCTAssertThrowsError(try study.tell(asked.trial.number, metrics: ["f1": 0.5, "f2": 2])) { error in
            XCTAssertEqual((error as? StudyError)?.kind, .input)
            XCTAssertTrue("\(error)".hasPrefix("trial 0 of study 's' is STALE: its lease expired before the result came"), "\(error)")
        }
        XCTAssertThrowsError(try study.fail(asked.trial.number, reason: "gave up"))
        let trial = try XCTUnwrap(try storage.trial(study: study.id, number: 0))
        XCTAssertEqual(trial.state, .stale)
        XCTAssertEqual(trial.notes.map(\.state), [.complete, .fail])
        XCTAssertEqual(trial.notes.first?.metrics, ["f1": 0.5, "f2": 2])
    }

    func testWallClockBudgetStopsClaiming() throws {
        let (spec, storage, record) = try study("""
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "random", "budget": {"minutes": 0.001}}
        """)
        let runner = try StudyRunner(study: record,
                                     strategy: RandomSearch(space: spec.space, seed: 0),
                                     evaluator: SlowEvaluator(BenchmarkEvaluator(try BenchmarkProblem(name: "zdt1", variables: 3))),
                                     options: .init(deadline: Date().addingTimeInterval(0.06)))
        let n = try runner.run()
        XCTAssertGreaterThan(n, 0)
        XCTAssertLessThan(n, 30, "20 ms a trial for 60 ms")
        XCTAssertEqual(try storage.trials(study: record.id, finishedAfter: nil).filter { $0.state == .running }.count, 0)
    }
}

/// Takes 20 ms per candidate.
private final class SlowEvaluator: Evaluator {
    let inner: Evaluator
    init(_ inner: Evaluator) { self.inner = inner }
    func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                  report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        Thread.sleep(forTimeInterval: 0.02)
        return try inner.evaluate(candidate, parameters: parameters, report: report)
    }
}

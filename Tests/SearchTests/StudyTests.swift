import Engine
import Foundation
import Store
import XCTest
@testable import Search

/// `Study`: creating and resuming (with every changed setting named), ask and tell, and the typed
/// recipe of a trial — on a temporary store.
final class StudyTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("study-\(UUID().uuidString).sqlite").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func spec(_ text: String) throws -> StudySpec { try SpaceFile.parse(Data(text.utf8), file: "space.json") }

    private let zdt = #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "evolution", "budget": 4, "seed": 1}"#

    func testResumingWithOtherSettingsNamesEveryChange() throws {
        let storage = try SQLiteStorage(path: path)
        let (_, created) = try Study.create(try spec(zdt), named: "q", in: storage, location: "db")
        XCTAssertTrue(created)
        let changed = try spec(zdt).applying(.init(strategy: "nsga2", seed: 2))
        XCTAssertThrowsError(try Study.create(changed, named: "q", in: storage, location: "db")) {
            XCTAssertEqual("\($0)", "cannot resume 'q': it already exists in db with other settings: strategy changed from evolution to nsga2; "
                                    + "seed changed from 1 to 2 (resume it unchanged, or choose a new study name)")
        }
        // The budget and the workers may change; the resumed study keeps its stored spec otherwise.
        let (resumed, again) = try Study.create(try spec(zdt).applying(.init(trials: 9, workers: 2)), named: "q", in: storage, location: "db")
        XCTAssertFalse(again)
        XCTAssertEqual(resumed.spec.budget.trials, 9)
        XCTAssertEqual(resumed.spec.workers, 2)
        XCTAssertEqual(resumed.spec.strategy.name, "evolution")
    }

    func testSpaceAndObjectiveChangesAreDescribed() throws {
        let a = try spec(#"{"training": {"x": {"_type": "uniform", "_value": [0, 1]}, "y": {"_type": "randint", "_value": [1, 4]}}, "evaluator": {"command": {"run": "true"}}, "objectives": {"loss": "minimize"}}"#)
        let b = try spec(#"{"training": {"x": {"_type": "uniform", "_value": [0, 2]}, "z": 3}, "evaluator": {"command": {"run": "true"}}, "objectives": {"loss": "maximize"}}"#)
        XCTAssertEqual(b.changes(from: a), ["space changed (removed training.y; changed training.x)",
                                            "objectives changed from loss (minimize) to loss (maximize)"])
        XCTAssertEqual(a.changes(from: a), [])
    }

    func testBadStrategyOptionsLeaveNoStudyBehind() throws {
        let storage = try SQLiteStorage(path: path)
        let bad = try spec(#"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": {"name": "evolution", "population": 0}}"#)
        XCTAssertThrowsError(try Study.create(bad, named: "bad", in: storage, location: "db"))
        XCTAssertNil(try storage.study(named: "bad"))
    }

    func testUnknownStudyIsOneErrorWithTheNearestName() throws {
        let storage = try SQLiteStorage(path: path)
        XCTAssertThrowsError(try Study.open("q", in: storage, location: "db")) {
            XCTAssertEqual("\($0)", "no study 'q' in db (it holds no studies yet)")
        }
        _ = try Study.create(try spec(zdt), named: "zdt", in: storage, location: "db")
        XCTAssertThrowsError(try Study.open("zdtt", in: storage, location: "db")) {
            XCTAssertEqual("\($0)", "no study 'zdtt' in db (studies: zdt). Did you mean 'zdt'?")
            XCTAssertEqual(($0 as? StudyError)?.kind, .input)
        }
    }

    func testAskAndTellUntilTheBudgetIsSpent() throws {
        let storage = try SQLiteStorage(path: path)
        let (study, _) = try Study.create(try spec(zdt), named: "q", in: storage, location: "db")
        for n in 0..<4 {
            let asked = try study.ask(worker: "w")
            XCTAssertEqual(asked.trial.number, n)
            XCTAssertEqual(asked.candidate.members?.count, 3, "the unit cube's three variables")
            XCTAssertThrowsError(try study.tell(n, metrics: ["f1": 0.5])) {
                XCTAssertTrue("\($0)".hasPrefix("metric 'f2' missing"), "\($0)")
            }
            XCTAssertThrowsError(try study.tell(n, metrics: ["f1": .infinity, "f2": 1]))
            XCTAssertEqual(try study.tell(n, metrics: ["f1": Double(n), "f2": Double(4 - n)]).state, .complete)
            XCTAssertThrowsError(try study.tell(n, metrics: ["f1": 0, "f2": 0])) {
                XCTAssertEqual("\($0)", "trial \(n) of study 'q' is already COMPLETE")
            }
        }
        XCTAssertThrowsError(try study.ask(worker: "w")) {
            XCTAssertEqual("\($0)", "study 'q' has spent its budget of 4 trials")
        }
        XCTAssertEqual(try study.front().map(\.number), [0, 1, 2, 3])
    }

    func testAskedCandidatesFollowTheSeedAsTheRunnerDoes() throws {
        let storage = try SQLiteStorage(path: path)
        let (a, _) = try Study.create(try spec(zdt), named: "a", in: storage, location: "db")
        let (b, _) = try Study.create(try spec(zdt), named: "b", in: storage, location: "db")
        let (c, _) = try Study.create(try spec(zdt).applying(.init(seed: 7)), named: "c", in: storage, location: "db")
        let first = try (0..<3).map { _ in try a.ask(worker: "w").candidate }
        XCTAssertEqual(try (0..<3).map { _ in try b.ask(worker: "w").candidate }, first, "same seed, same candidates")
        XCTAssertNotEqual(try (0..<3).map { _ in try c.ask(worker: "w").candidate }, first, "another seed, others")
    }

    func testEngineRecipeIsTypedAndCarriesTheEpochCap() throws {
        let storage = try SQLiteStorage(path: path)
        let s = try spec("""
        {"architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[16], [32]]}},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": 9},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 200, "classes": 3}, "epochs": 2}},
         "objectives": {"accuracy": "maximize"}, "budget": 2}
        """)
        let (study, _) = try Study.create(s, named: "e", in: storage, location: "db")
        let asked = try study.ask(worker: "w")
        guard case .engine(let document, let recipe) = try study.recipe(of: asked.trial) else { return XCTFail("an engine recipe") }
        XCTAssertEqual(recipe.candidate.training.epochs, 2, "the evaluator's epoch cap applies")
        XCTAssertEqual(document["training"]?["epochs"], .number(2))
        XCTAssertEqual(document["data"]?["dataset"], .string("blobs"))
        // 200 samples less the fifth held out for testing, less the 10% validation split.
        XCTAssertEqual(recipe.candidate.data.trainingSamples, 144)
    }

    func testMetaRecipeResolvesThePlanAndItsEstimateFlags() throws {
        let storage = try SQLiteStorage(path: path)
        let s = try spec("""
        {"evaluator": {"meta": {"model": {"family": "gpt", "layers": 8, "hidden": 512, "heads": 8, "sequence_length": 256, "vocabulary": 1000},
                                "hardware": "A100-SXM-80GB", "nodes": 2, "gpus_per_node": 8, "global_batch": 64}},
         "parallelism": {"tp": {"_type": "choice", "_value": [2]}, "micro_batch": 2},
         "objectives": {"tokens_per_second": "maximize"}, "budget": 1}
        """)
        let (study, _) = try Study.create(s, named: "m", in: storage, location: "db")
        let asked = try study.ask(worker: "w")
        guard case .meta(let m) = try study.recipe(of: asked.trial) else { return XCTFail("a meta recipe") }
        // 16 devices / tp 2 = dp 8; 64 samples / (8 × 2) = 4 micro-batches per step.
        XCTAssertEqual(m.plan.dp, 8)
        XCTAssertEqual(m.plan.gradientAccumulation, 4)
        XCTAssertEqual(m.estimateArguments(recipePath: "r.json"),
                       ["estimate", "r.json", "--hardware", "A100-SXM-80GB", "--nodes", "2", "--gpus-per-node", "8", "--global-batch", "64",
                        "--dp", "8", "--tp", "2", "--pp", "1", "--zero", "0", "--micro-batch", "2", "--grad-accum", "4",
                        "--checkpointing", "none", "--schedule", "1f1b", "--precision", "bf16"])
    }

    func testStudyNamesFollowOneRule() {
        XCTAssertNoThrow(try StudySpec.checkName("gpt-3_v1.2"))
        for bad in ["", "my study", "étude-日本", "..", String(repeating: "a", count: 129)] {
            XCTAssertThrowsError(try StudySpec.checkName(bad), bad)
        }
    }

    /// `auto` is resolved when the study is created and the choice kept: a resume with another
    /// budget runs what the first run chose.
    func testAutoIsChosenOnceAndStored() throws {
        let storage = try SQLiteStorage(path: path)
        let text = #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "budget": 50}"#
        let spec = try spec(text)
        XCTAssertEqual(spec.strategy.name, "auto", "the default")
        let (study, _) = try Study.create(spec, named: "a", in: storage, location: "db")
        XCTAssertEqual(study.record.strategy, "tpe", "two objectives, a budget of 50")
        XCTAssertEqual(try storage.study(named: "a")?.strategy, "tpe")
        let (resumed, created) = try Study.create(try spec.applying(.init(trials: 5000)), named: "a", in: storage, location: "db")
        XCTAssertFalse(created)
        XCTAssertEqual(resumed.spec.autoStrategy?.name, "nsga2", "what auto would choose for 5,000 trials now")
        XCTAssertTrue(try resumed.makeStrategy() is TPE, "but the study keeps its first choice")
    }
}

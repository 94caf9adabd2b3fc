import Compression
import Engine
import Foundation
import Store
import XCTest
@testable import Search

/// Kept weights: only the front keeps files, a RUNNING trial's file (or one being written) is
/// never deleted, the bound keeps the smallest files, and `Study.finish` writes and prunes.
final class KeptWeightsTests: XCTestCase {
    private var directory: String!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kept-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// An engine study's candidate and evaluator: the trials are told their metrics by hand.
    private let engine = #""architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[2], [3], [4]]}}, "training": {"optimizer": {"name": "sgd", "lr": {"_type": "uniform", "_value": [0.01, 0.1]}}}, "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 50, "classes": 2}}}"#

    private func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    private func put(_ folder: String, _ name: String, bytes: Int) {
        FileManager.default.createFile(atPath: (folder as NSString).appendingPathComponent(name), contents: Data(count: bytes))
    }

    func testPruningDeletesFilesOffTheFrontAndJudgesOnlyTrialsItSawFinish() throws {
        let kept = KeptWeights(folder: directory, limit: 1 << 20)
        for n in 0..<5 { try kept.write(Array(repeating: UInt8(n), count: 10), trial: n) }
        put(directory, "trial-5.weights.77.123.tmp", bytes: 4)     // being written by trial 5's worker
        put(directory, "trial-1.weights.78.9.tmp", bytes: 4)       // left by a worker killed while trial 1 ran
        put(directory, "notes.txt", bytes: 1)
        try kept.write([7], trial: 7)   // claimed and finished by another worker after the trials were read
        let deleted = kept.prune(front: [0, 3], finished: [0, 1, 2, 3])
        XCTAssertEqual(deleted, [1, 2])
        XCTAssertEqual(files(directory), ["notes.txt", "trial-0.weights", "trial-3.weights", "trial-4.weights", "trial-5.weights.77.123.tmp",
                                          "trial-7.weights"], "only trials this view saw finish are judged")
        XCTAssertEqual(kept.read(trial: 3), Array(repeating: 3, count: 10))
        XCTAssertNil(kept.read(trial: 1))
    }

    func testTheBoundKeepsTheSmallestFrontFiles() throws {
        let kept = KeptWeights(folder: directory, limit: 100)
        XCTAssertFalse(try kept.write([UInt8](repeating: 0, count: 101), trial: 9), "a file over the whole bound is not written")
        for (n, size) in [(0, 60), (1, 30), (2, 30), (3, 50)] { try kept.write([UInt8](repeating: 1, count: size), trial: n) }
        XCTAssertEqual(kept.prune(front: [0, 1, 2, 3], finished: [0, 1, 2, 3]), [0, 3], "30 + 30 fit, then 50 and 60 do not")
        XCTAssertEqual(files(directory), ["trial-1.weights", "trial-2.weights"])
    }

    func testTrialFileNames() {
        XCTAssertEqual(KeptWeights.trialFile("trial-12.weights")?.number, 12)
        XCTAssertEqual(KeptWeights.trialFile("trial-12.weights.5.6.tmp")?.temporary, true)
        XCTAssertNil(KeptWeights.trialFile("trial-12.weightsx"))
        XCTAssertNil(KeptWeights.trialFile("trial-x.weights"))
        XCTAssertNil(KeptWeights.trialFile("model.onnx"))
    }

    /// A two-objective study told results with models: files exist for exactly the front, and a
    /// file is read back as the trial's model (another trial's is refused).
    func testFinishKeepsFrontMembersOnly() throws {
        let storage = try SQLiteStorage(path: (directory as NSString).appendingPathComponent("s.sqlite"))
        let spec = try SpaceFile.parse(Data(#"""
            {\#(engine), "objectives": {"loss": "minimize", "params": "minimize"}, "strategy": "random", "budget": 6,
             "keep_weights": {"max_mib": 1}}
            """#.utf8), file: "space.json")
        let folder = (directory as NSString).appendingPathComponent("q")
        let (study, _) = try Study.create(spec, named: "q", in: storage, location: "s.sqlite", folder: folder)
        XCTAssertEqual(study.keptWeights, KeptWeights(folder: folder + "/weights", limit: 1 << 20))
        let model = FinalModel(model: try Model(spec: .mlp(MLPSpec(widths: [3])), inputShape: [2], classes: 2, context: ExecutionContext(), seed: 1),
                               seed: 1, activationRounding: .fp32)
        let asked = try (0..<4).map { _ in try study.ask(worker: "w") }.map(\.trial.number)
        let weights = folder + "/weights"
        // (loss, params): 0 and 1 trade off; 2 is dominated by 0; 3 dominates 1 and comes last.
        let results: [(Double, Double)] = [(1, 5), (3, 2), (2, 6), (2, 1)]
        try study.finish(asked[0], state: .complete, metrics: ["loss": results[0].0, "params": results[0].1], violation: 0, message: nil, model: model)
        try study.finish(asked[1], state: .complete, metrics: ["loss": results[1].0, "params": results[1].1], violation: 0, message: nil, model: model)
        XCTAssertEqual(files(weights), ["trial-0.weights", "trial-1.weights"])
        put(weights, "trial-3.weights.1.2.tmp", bytes: 3)          // trial 3 is RUNNING: its file is being written
        try study.finish(asked[2], state: .complete, metrics: ["loss": results[2].0, "params": results[2].1], violation: 0, message: nil, model: model)
        XCTAssertEqual(files(weights), ["trial-0.weights", "trial-1.weights", "trial-3.weights.1.2.tmp"], "a dominated trial keeps nothing")
        try study.finish(asked[3], state: .complete, metrics: ["loss": results[3].0, "params": results[3].1], violation: 0, message: nil, model: model)
        XCTAssertEqual(files(weights), ["trial-0.weights", "trial-3.weights"], "trial 1 left the front")
        XCTAssertEqual(Set(try study.front().map(\.number)), [0, 3])

        let trials = try study.trials()
        let kept = try study.keptModel(of: trials[3])
        XCTAssertEqual(kept.model.spec, .mlp(MLPSpec(widths: [3])))
        XCTAssertThrowsError(try study.keptModel(of: trials[1])) {
            XCTAssertEqual("\($0)", "no file \(weights)/trial-1.weights")
        }
        try FileManager.default.copyItem(atPath: weights + "/trial-0.weights", toPath: weights + "/trial-1.weights")
        XCTAssertThrowsError(try study.keptModel(of: trials[1])) {
            XCTAssertTrue("\($0)".hasPrefix("\(weights)/trial-1.weights holds another model (study 'q', trial 0, recipe "), "\($0)")
        }
        // A study of the same name whose recipes differ (more data) does not take trial 0's file.
        let other = try SpaceFile.parse(Data(#"""
            {\#(engine.replacingOccurrences(of: "\"samples\": 50", with: "\"samples\": 60")), "objectives": {"loss": "minimize", "params": "minimize"},
             "strategy": "random", "budget": 6}
            """#.utf8), file: "space.json")
        let (twin, _) = try Study.create(other, named: "q", in: try SQLiteStorage(path: (directory as NSString).appendingPathComponent("t.sqlite")),
                                         location: "t.sqlite", folder: folder)
        let first = try twin.ask(worker: "w").trial
        XCTAssertEqual(first.parameters, trials[0].parameters, "the same seed draws the same parameters")
        XCTAssertThrowsError(try twin.keptModel(of: first)) {
            XCTAssertTrue("\($0)".hasPrefix("\(weights)/trial-0.weights holds another model (study 'q', trial 0, recipe "), "\($0)")
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: weights + "/trial-3.weights"))
        XCTAssertThrowsError(try study.keptModel(of: trials[3])) {
            XCTAssertEqual("\($0)", "\(weights)/trial-3.weights: not a kept-weights file (no \"ATWEIGHT\" magic)")
        }
    }

    func testKeepingOffWritesNothing() throws {
        let storage = try SQLiteStorage(path: (directory as NSString).appendingPathComponent("s.sqlite"))
        let spec = try SpaceFile.parse(Data(#"""
            {\#(engine), "objectives": {"loss": "minimize"}, "strategy": "random", "budget": 2, "keep_weights": false}
            """#.utf8), file: "space.json")
        let folder = (directory as NSString).appendingPathComponent("q")
        let (study, _) = try Study.create(spec, named: "q", in: storage, location: "s.sqlite", folder: folder)
        XCTAssertNil(study.keptWeights)
        let model = FinalModel(model: try Model(spec: .mlp(MLPSpec(widths: [3])), inputShape: [2], classes: 2, context: ExecutionContext(), seed: 1),
                               seed: 1, activationRounding: .fp32)
        let number = try study.ask(worker: "w").trial.number
        try study.finish(number, state: .complete, metrics: ["loss": 1], violation: 0, message: nil, model: model)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))
        XCTAssertThrowsError(try study.keptModel(of: try study.trials()[0])) {
            XCTAssertEqual("\($0)", "no file \(folder)/weights/trial-0.weights; keep_weights is false")
        }
        // A study whose evaluator trains nothing here keeps nothing either.
        let command = try SpaceFile.parse(Data(#"{"training": {"x": 1}, "evaluator": {"command": {"run": "true"}}, "objectives": {"loss": "minimize"}}"#.utf8),
                                          file: "space.json")
        XCTAssertNil(try Study.create(command, named: "c", in: storage, location: "s.sqlite", folder: folder).0.keptWeights)
    }
}
